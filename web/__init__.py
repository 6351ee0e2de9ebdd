"""Stride's web adapter: SQLAlchemy models, queries, Flask blueprints and templates."""
