"""The code grader's report: the one home of verdicts, test, function and submission reports.

A :class:`CodeReport` holds everything, for staff, and knows which of its tests are hidden.
A hidden test's :class:`TestReport` carries two forms of itself:

* ``name`` and ``message``: what a student may see, a neutral name ("hidden test 2",
  numbered per function in plan order), the verdict, the diagnosis and a message built only
  from the verdict, the function's name, the exception's *type* and the student's own source
  lines. Never the inputs, the expected values, shapes, the case's name, the exception's text,
  or anything else the student's code chose (return values, exit codes, signals, timings);
* ``staff_case`` and ``staff_message``: the spec's case name and the full message.

Serialized, ``CodeReport.to_json(audience="staff")`` is lossless (``CodeReport.from_json``
gives the report back) and nests the staff-only fields of a hidden test under its ``"staff"``
key; ``to_json()`` (the default audience, "student") leaves them out. Stored staff JSON turns
into what a student may see with :func:`student_view`, which also redacts reports stored
before hidden tests were marked (a test named "hidden..." without a ``"hidden"`` key).

:class:`Verdict` lives here rather than beside the sandbox's outcome types: a verdict is the
grader's judgement of an outcome, and the sandbox never needs to know the grader's words.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

AUDIENCES = ("student", "staff")


class Verdict(StrEnum):
    """What one test concluded; the values are the strings stored in reports."""

    PASS = "pass"
    WRONG_VALUES = "wrong values"
    WRONG_SHAPE = "wrong shape"
    WRONG_DTYPE = "wrong dtype"
    WRONG_TYPE = "wrong type"
    NOT_FINITE = "not finite"
    EXCEPTION = "exception"
    TIMEOUT = "timeout"
    MEMORY_LIMIT = "memory limit"
    CRASHED = "crashed"
    NOT_ATTEMPTED = "not attempted"
    TOO_SLOW = "too slow"
    BANNED = "banned helper"


class FunctionStatus(StrEnum):
    """One function's overall result."""

    PASSED = "passed"
    FAILED = "failed"
    NOT_ATTEMPTED = "not attempted"


def _parsed(kind: type[StrEnum], value: Any) -> Any:
    """The member named by a stored string; a string this version does not know stays as is,
    so a stored report is always shown rather than refused."""
    text = str(value)
    return kind(text) if text in kind._value2member_map_ else text


HIDDEN_MESSAGES = {
    Verdict.PASS: "Correct.",
    Verdict.WRONG_VALUES: "{what} has wrong values on this hidden test.",
    Verdict.WRONG_SHAPE: "{what} has the wrong shape on this hidden test.",
    Verdict.WRONG_DTYPE: "{what} has the wrong dtype on this hidden test: return a float array.",
    Verdict.WRONG_TYPE: "{what} returned the wrong kind of value on this hidden test.",
    Verdict.NOT_FINITE: "{what} contains NaN or infinity on this hidden test.",
    Verdict.EXCEPTION: "{what} raised an exception on this hidden test.",
    Verdict.TIMEOUT: "{what} ran out of time on this hidden test: is there a loop that never "
                     "ends, or a very slow one?",
    Verdict.MEMORY_LIMIT: "{what} ran out of memory on this hidden test: does it build a much "
                          "larger array than needed?",
    Verdict.CRASHED: "Your code stopped the process during this hidden test, before returning.",
    Verdict.NOT_ATTEMPTED: "{what} is not written yet.",
    Verdict.TOO_SLOW: "{what} is correct but slower than this hidden test's time budget: "
                      "vectorize the inner loops.",
    Verdict.BANNED: "{what} calls a helper this exercise does not allow.",
}


def hidden_message(verdict: str, what: str) -> str:
    """A hidden test's message from its verdict alone (nothing the test or the code chose)."""
    return HIDDEN_MESSAGES.get(verdict, "{what} failed this hidden test.").format(what=what)


@dataclass(frozen=True)
class Picture:
    """One example and one channel of a wrong output: expected, the student's, what differs.

    Only public tests carry one (it shows expected values); :meth:`TestReport.redacted` and a
    hidden test's JSON never do.
    """

    title: str
    expected: tuple[tuple[float, ...], ...]
    got: tuple[tuple[float, ...], ...]
    wrong: tuple[tuple[bool, ...], ...]

    def to_json(self) -> dict[str, Any]:
        return {"title": self.title, "expected": [list(r) for r in self.expected],
                "got": [list(r) for r in self.got], "wrong": [list(r) for r in self.wrong]}

    @classmethod
    def from_json(cls, data: Any) -> Picture | None:
        """The picture stored by :meth:`to_json`, or None when there is none (or it is not one)."""
        if not isinstance(data, Mapping):
            return None
        try:
            grids = [tuple(tuple(kind(v) for v in row) for row in data[key])
                     for key, kind in (("expected", float), ("got", float), ("wrong", bool))]
        except (KeyError, TypeError, ValueError):
            return None
        return cls(str(data.get("title", "")), *grids)


@dataclass(frozen=True)
class TestReport:
    """The verdict of one test; ``diagnosis`` names the likely bug in words, or is None.

    For a hidden test, ``name`` and ``message`` are the forms a student may see, and
    ``staff_case`` and ``staff_message`` hold the case's name and the full message (None once
    redacted, or for a public test, whose ``name`` and ``message`` are already complete).
    """

    __test__ = False  # not a pytest test class

    name: str
    passed: bool
    verdict: Verdict
    message: str
    diagnosis: str | None = None
    points: float = 0.0
    max_points: float = 0.0
    hidden: bool = False
    staff_case: str | None = None
    staff_message: str | None = None
    picture: Picture | None = None

    @classmethod
    def of(cls, test: Any, verdict: Verdict, message: str, diagnosis: str | None = None, *,
           student: str | None = None, what: str | None = None) -> TestReport:
        """The report of ``test`` (a planned test or a :class:`~grader.code.cases.TestSlot`:
        anything with ``func``, ``case``, ``speed`` and ``hidden_number``).

        For a hidden test, ``message`` is kept for staff only, and the student sees
        ``student`` (only pass text that depends on nothing the test or the student's code
        chose) or else a sentence built from the verdict and ``what`` failed.
        """
        passed = verdict == Verdict.PASS
        points = test.speed.points if test.speed else test.case.points
        case = f"speed: {test.case.name}" if test.speed else test.case.name
        earned = points if passed else 0.0
        if test.hidden_number is None:
            return cls(case, passed, verdict, message, diagnosis, earned, points)
        shown = student if student is not None else hidden_message(verdict, what or test.func)
        return cls(f"hidden test {test.hidden_number}", passed, verdict, shown, diagnosis,
                   earned, points, hidden=True, staff_case=case, staff_message=message)

    def redacted(self) -> TestReport:
        """What a student may see: the staff-only fields dropped (a hidden test's picture too)."""
        picture = None if self.hidden else self.picture
        return replace(self, staff_case=None, staff_message=None, picture=picture)

    def with_picture(self, picture: Picture | None) -> TestReport:
        """This report with ``picture`` attached; a hidden test never gets one."""
        return self if self.hidden or picture is None else replace(self, picture=picture)

    def to_json(self, audience: str = "student") -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name, "passed": self.passed, "verdict": str(self.verdict),
            "message": self.message, "diagnosis": self.diagnosis, "points": self.points,
            "max_points": self.max_points, "hidden": self.hidden}
        if audience == "staff" and self.hidden and self.staff_case is not None:
            data["staff"] = {"case": self.staff_case, "message": self.staff_message}
        if self.picture is not None and not self.hidden:
            data["picture"] = self.picture.to_json()
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any], number: int = 0,
                  function: str = "") -> TestReport:
        """Rebuild a test from :meth:`to_json`; ``number`` names an unmarked stored hidden test."""
        fields = {"name": str(data.get("name", "")), "passed": bool(data.get("passed")),
                  "verdict": _parsed(Verdict, data.get("verdict", "")),
                  "message": str(data.get("message", "")), "diagnosis": data.get("diagnosis"),
                  "points": float(data.get("points", 0.0)),
                  "max_points": float(data.get("max_points", 0.0))}
        if "hidden" not in data and fields["name"].startswith("hidden"):
            # Stored before hidden tests were marked: its name and message are the full ones.
            return cls(**{**fields, "name": f"hidden test {number}",
                          "message": hidden_message(fields["verdict"], function or "your code")},
                       hidden=True, staff_case=fields["name"], staff_message=fields["message"])
        staff = data.get("staff") if isinstance(data.get("staff"), Mapping) else {}
        hidden = bool(data.get("hidden"))
        picture = None if hidden else Picture.from_json(data.get("picture"))
        return cls(**fields, hidden=hidden, staff_case=staff.get("case"),
                   staff_message=staff.get("message"), picture=picture)


@dataclass(frozen=True)
class FunctionReport:
    """One function's tests and its :class:`FunctionStatus`."""

    name: str
    status: FunctionStatus
    tests: tuple[TestReport, ...]

    @classmethod
    def of(cls, name: str, tests: Sequence[TestReport]) -> FunctionReport:
        """``name``'s report from its tests: not attempted when every test is, else passed or
        failed."""
        if all(t.verdict == Verdict.NOT_ATTEMPTED for t in tests):
            status = FunctionStatus.NOT_ATTEMPTED
        else:
            status = FunctionStatus.PASSED if all(t.passed for t in tests) else FunctionStatus.FAILED
        return cls(name, status, tuple(tests))

    @property
    def score(self) -> float:
        return sum(t.points for t in self.tests)

    @property
    def max_score(self) -> float:
        return sum(t.max_points for t in self.tests)

    def redacted(self) -> FunctionReport:
        return replace(self, tests=tuple(t.redacted() for t in self.tests))

    def to_json(self, audience: str = "student") -> dict[str, Any]:
        return {"name": self.name, "status": str(self.status),
                "tests": [t.to_json(audience) for t in self.tests]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FunctionReport:
        name, tests, hidden = str(data.get("name", "")), [], 0
        for test in data.get("tests") or ():
            marked_hidden = test.get("hidden", str(test.get("name", "")).startswith("hidden"))
            hidden += bool(marked_hidden)
            tests.append(TestReport.from_json(test, hidden, name))
        return cls(name, _parsed(FunctionStatus, data.get("status", "")), tuple(tests))


@dataclass(frozen=True)
class CodeReport:
    """The whole submission's result, for staff; :meth:`redacted` is the student's form.

    ``warnings`` are sentences about how the code was run (e.g. without bubblewrap).
    """

    score: float
    max_score: float
    functions: tuple[FunctionReport, ...]
    warnings: tuple[str, ...] = ()

    def redacted(self) -> CodeReport:
        """The report without what only staff may see (the hidden tests' cases and details)."""
        return replace(self, functions=tuple(f.redacted() for f in self.functions))

    def to_json(self, audience: str = "student") -> dict[str, Any]:
        """Plain JSON data for ``audience`` ("student", the default, or "staff").

        ``CodeReport.from_json(r.to_json(audience="staff")) == r``; the student form equals
        ``student_view(r.to_json(audience="staff"))``.
        """
        if audience not in AUDIENCES:
            raise ValueError(f"audience must be one of {AUDIENCES}, got {audience!r}")
        return {"audience": audience, "score": self.score, "max_score": self.max_score,
                "functions": [f.to_json(audience) for f in self.functions],
                "warnings": list(self.warnings)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CodeReport:
        """Rebuild a report from :meth:`to_json` (either audience, or a report stored earlier)."""
        functions = tuple(FunctionReport.from_json(f) for f in data.get("functions") or ())
        return cls(score=float(data.get("score", 0.0)), max_score=float(data.get("max_score", 0.0)),
                   functions=functions, warnings=tuple(str(w) for w in data.get("warnings") or ()))

    @property
    def all_attempted_pass(self) -> bool:
        attempted = [f for f in self.functions if f.status != FunctionStatus.NOT_ATTEMPTED]
        return bool(attempted) and all(f.status == FunctionStatus.PASSED for f in attempted)


def student_view(report_json: Mapping[str, Any]) -> dict[str, Any]:
    """What a student may see of a stored report (``CodeReport.to_json(audience="staff")``).

    Idempotent, and safe on reports stored before hidden tests were marked: their hidden
    tests get neutral names and messages too.
    """
    return CodeReport.from_json(report_json).to_json(audience="student")
