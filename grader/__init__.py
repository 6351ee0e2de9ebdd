"""Stride's pure grading core.

Phases are pure functions over frozen dataclasses: a problem template generates a variant for a
seed, a student's raw answer is parsed (a format error is never graded), and the parsed value is
graded into a score with feedback that names the mistake. Student code is only ever run by the
sandbox, in a child process.

This package must never import flask, sqlalchemy or werkzeug (a test checks it).
"""

__version__ = "0.1.0"
