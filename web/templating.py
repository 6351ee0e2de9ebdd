"""Jinja filters and globals shared by every template."""

from __future__ import annotations

from datetime import datetime

from flask import Flask, current_app
from flask_login import current_user

from web.bankaccess import as_utc
from web.render import render_text, value_to_html


def format_points(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:g}" if float(value).is_integer() else f"{value:.2f}".rstrip("0")


def format_when(moment: datetime | None) -> str:
    moment = as_utc(moment)
    return moment.strftime("%Y-%m-%d %H:%M") if moment else ""


def format_due(moment: datetime | None) -> str:
    moment = as_utc(moment)
    return moment.strftime("%a %d %b %Y, %H:%M UTC") if moment else ""


def has_endpoint(name: str) -> bool:
    """Lets the base template link to pages that a later blueprint may or may not provide."""
    return name in current_app.view_functions


def unsafe_sandbox_warning() -> dict:
    """`sandbox_warning` for staff when code is graded without isolation (the explicit
    `STRIDE_SANDBOX=unsafe-no-isolation` opt-out), else None.

    `app.extensions["stride_isolation"]` is the `grader.sandbox.Isolation` chosen at start-up
    (absent or None when code is graded elsewhere).
    """
    isolation = current_app.extensions.get("stride_isolation")
    if isolation is None or not getattr(isolation, "unsafe_opt_out", False):
        return {"sandbox_warning": None}
    if not (current_user.is_authenticated and current_user.is_instructor):
        return {"sandbox_warning": None}
    return {"sandbox_warning": isolation.warning()}


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(math=render_text, value=value_to_html, points=format_points,
                                 when=format_when, due=format_due)
    app.jinja_env.globals.update(has_endpoint=has_endpoint)
    app.context_processor(unsafe_sandbox_warning)
