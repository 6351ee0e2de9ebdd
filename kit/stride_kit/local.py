"""The local check: the kit's ``grade_source``, on the public tests shipped with the kit.

It follows the server's :func:`grade_source` step by step with the grader's own code (copied
into ``_core``): read the file (notebooks keep their definitions), judge a fresh file from its
tests' slots or else run the public calls in a child process (:mod:`.shipped`, :mod:`.runner`)
and climb the verdict ladder for each function, mark template stubs as not attempted. The
known bugs' outputs on the same inputs come with the tests, so the named diagnoses are the
server's too. Hidden tests are not in the kit: the report says how many each function has and
that the server runs them.
"""

from __future__ import annotations

import ast
import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._core.cases import TestSlot
from ._core.fresh import fresh_reports, unwritten_functions
from ._core.grade import _decode_source, finish_reports
from ._core.report import CodeReport, FunctionReport
from ._core.source import prepare_source, read_submission
from ._core.spec import Bans, Case, SpeedSpec
from ._core.syntax import parse_python

if TYPE_CHECKING:  # NumPy and the verdict ladder load only for a file that runs
    from ._core.sandbox import SandboxLimits

DATA = Path(__file__).resolve().parent / "data"
RAN_HERE = ("Checked on your own machine with the public tests only: your code ran in a child "
            "process with a time limit (and a memory cap where the system allows one).")


def exercises() -> tuple[str, ...]:
    """The exercises this kit was built for."""
    return tuple(sorted(p.stem for p in DATA.glob("*.json")))


@dataclass(frozen=True)
class ExerciseInfo:
    """What the kit knows of an exercise without its arrays: enough to judge a fresh file."""

    name: str
    title: str
    functions: tuple[str, ...]
    hidden_tests: dict[str, int]
    bans: Bans
    slots: tuple[TestSlot, ...]


@functools.lru_cache(maxsize=8)
def metadata(name: str) -> ExerciseInfo:
    """The exercise ``name`` from the kit's data (its ``.json``; the arrays stay unread)."""
    if name not in exercises():
        raise ValueError(f"this kit has no exercise {name!r}; it has: {', '.join(exercises())}")
    meta = json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))
    return ExerciseInfo(name, meta["title"], tuple(f["name"] for f in meta["functions"]),
                        {f["name"]: f["hidden_tests"] for f in meta["functions"]},
                        Bans(tuple(meta["bans"]["names"]), meta["bans"]["reason"]),
                        tuple(_slot(raw) for raw in meta["tests"]))


def _slot(raw: dict[str, Any]) -> TestSlot:
    c, own = raw["case"], raw["own_cache"]
    case = Case(c["name"], c["public"], c["points"], c["rtol"], c["atol"], c["time_limit"],
                c["params"])
    speed = None if raw["speed"] is None else SpeedSpec(**raw["speed"])
    return TestSlot(raw["func"], case, raw["kind"], raw["call"]["id"], speed, None,
                    None if own is None else own["forward"])


def guess_exercise(source: str) -> str:
    """The exercise whose function names the file defines most (the first one on a tie)."""
    try:
        names = {n.name for n in parse_python(source).body if isinstance(n, ast.FunctionDef)}
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        names = set()
    known = exercises()
    counts = {e: len(names & set(metadata(e).functions)) for e in known}
    return max(known, key=lambda e: (counts[e], e == "conv_step_by_step"))


def hidden_note(exercise: ExerciseInfo, functions: Sequence[str]) -> str | None:
    count = sum(exercise.hidden_tests.get(f, 0) for f in functions)
    if not count:
        return None
    tests = "hidden tests of these functions run" if count != 1 else \
        "hidden test of these functions runs"
    return (f"{count} {tests} only on the server, when you submit: passing here does not "
            "mean passing there.")


def grade(source: str | bytes, exercise: str | None = None,
          functions: Sequence[str] | None = None, filename: str | None = None,
          limits: SandboxLimits | None = None) -> CodeReport:
    """The public tests' report on ``source``, as ``grader check`` gives it.

    A fresh file (only ``raise NotImplementedError`` bodies) is judged from the tests' slots
    without NumPy; any other file runs in a child process (:mod:`.shipped`).
    """
    decoded = _decode_source(source)
    program = read_submission(decoded.text, filename)
    prepared = prepare_source(program)
    text = prepared.text
    spec = metadata(exercise or guess_exercise(text))
    if functions:
        unknown = [f for f in functions if f not in spec.functions]
        if unknown:
            raise ValueError(f"exercise {spec.name!r} has no function {unknown[0]!r} (it has: "
                             f"{', '.join(spec.functions)})")
    chosen = tuple(f for f in spec.functions if not functions or f in functions)
    unwritten = unwritten_functions(text)
    if unwritten is not None:
        reports: list[FunctionReport] = list(fresh_reports(spec.slots, chosen, unwritten))
    else:
        from .shipped import judged

        reports = judged(text, spec.name, chosen, limits)
    reports = finish_reports(reports, program, prepared, spec.bans)
    notes = tuple(n for n in (RAN_HERE, hidden_note(spec, chosen)) if n)
    return CodeReport(score=sum(f.score for f in reports),
                      max_score=sum(f.max_score for f in reports), functions=tuple(reports),
                      warnings=decoded.notes() + prepared.notes() + notes)
