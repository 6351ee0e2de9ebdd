"""The grader's error hierarchy.

Only the edges (the web app and the CLI) turn these into HTTP responses or exit codes.
"""

from __future__ import annotations


class GraderError(Exception):
    """Base class of every error the grading core raises on purpose."""


class ProblemSpecError(GraderError):
    """A problem, problem set or exercise spec is malformed.

    The message names the file, the problem id and the field, with the offending value.
    """


class ExpressionError(ProblemSpecError):
    """An answer, mistake or parameter expression in a problem cannot be evaluated."""


class FormatError(GraderError):
    """A student's answer cannot be read. It is never graded and never costs an attempt.

    The message says what was expected, with an example.
    """


class StudentCodeError(GraderError):
    """A student's code submission cannot be graded at all (e.g. it is not valid UTF-8 text)."""


class NotText(StudentCodeError):
    """A student's file is not text in an encoding the grader reads (UTF-8, UTF-16 or UTF-32
    with a byte order mark, or plausible cp1252). ``start`` is the first byte that cannot be
    read."""

    def __init__(self, message: str, start: int = 0) -> None:
        super().__init__(message)
        self.start = start


class SandboxError(GraderError):
    """The sandbox itself failed (not the student's code): the grader cannot be trusted to run."""
