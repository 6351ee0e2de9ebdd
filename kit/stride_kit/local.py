"""The local check: the kit's ``grade_source``, on the public tests shipped with the kit.

It follows the server's :func:`grade_source` step by step with the grader's own code (copied
into ``_core``): read the file (notebooks keep their definitions), run the public calls in a
child process (:mod:`.runner`), climb the verdict ladder for each function, mark template stubs
as not attempted. The known bugs' outputs on the same inputs come with the tests, so the named
diagnoses are the server's too. Hidden tests are not in the kit: the report says how many each
function has and that the server runs them.
"""

from __future__ import annotations

import ast
import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._core import diagnosis
from ._core.bans import banned_uses
from ._core.grade import (
    _banned,
    _decode_source,
    _stub,
    _too_large,
    _without_stand_in_frames,
    unwritten_outcomes,
)
from ._core.plan import OwnCache, Planned, sandbox_source
from ._core.report import CodeReport, FunctionReport
from ._core.sandbox import DEFAULT_LIMITS, RawOutcome, SandboxLimits, TestCall
from ._core.source import prepare_source, read_submission
from ._core.spec import Bans, Case, SpeedSpec
from ._core.verdicts import MAX_SOURCE_BYTES, judge_function
from .runner import run_batches

DATA = Path(__file__).resolve().parent / "data"
RAN_HERE = ("Checked on your own machine with the public tests only: your code ran in a child "
            "process with a time limit (and a memory cap where the system allows one).")


@dataclass(frozen=True)
class Exercise:
    """One exercise as the kit holds it: its public tests, ready to judge, and their calls."""

    name: str
    title: str
    version: str
    functions: tuple[str, ...]
    hidden_tests: dict[str, int]
    bans: Bans
    planned: tuple[Planned, ...]
    batches: tuple[tuple[dict, ...], ...]
    inputs: dict[str, str]
    npz: Path


def exercises() -> tuple[str, ...]:
    """The exercises this kit was built for."""
    return tuple(sorted(p.stem for p in DATA.glob("*.json")))


class _Arrays:
    """The arrays of an exercise's ``.npz``, each read on first use (most are bugs' outputs,
    needed only to name the bug behind a wrong output)."""

    def __init__(self, path: Path) -> None:
        self.path, self.read = path, {}

    def __getitem__(self, key: str) -> np.ndarray:
        if key not in self.read:
            with np.load(self.path, allow_pickle=False) as data:
                self.read[key] = data[key]
        return self.read[key]

    def load(self, keys: Sequence[str]) -> None:
        """Read ``keys`` at once (one pass over the file for the inputs and expected values)."""
        with np.load(self.path, allow_pickle=False) as data:
            self.read.update({k: data[k] for k in keys if k not in self.read})


def _keys(value: Any) -> list[str]:
    """The array keys an encoded argument refers to."""
    if "a" in value:
        return [value["a"]]
    if "t" in value:
        return [k for v in value["t"] for k in _keys(v)]
    if "d" in value:
        return [k for v in value["d"].values() for k in _keys(v)]
    return []


def _decoded(value: Any, arrays: Any) -> Any:
    if "a" in value:
        array = arrays[value["a"]]
        array.flags.writeable = False
        return array
    if "t" in value:
        return tuple(_decoded(v, arrays) for v in value["t"])
    if "d" in value:
        return {k: _decoded(v, arrays) for k, v in value["d"].items()}
    return value["v"]


def _call(raw: dict, args: tuple, kwargs: dict) -> TestCall:
    save = tuple(raw["save"]) if raw["save"] is not None else None
    return TestCall(raw["id"], raw["func"], args, kwargs, raw["wall_s"], save, raw["solo"])


def _planned(raw: dict, arrays: Any) -> Planned:
    args, kwargs = _decoded(raw["args"], arrays), _decoded(raw["kwargs"], arrays)
    own = raw["own_cache"]
    own_cache = None if own is None else OwnCache(
        own["forward"], _call(own["forward_call"], (), {}),
        np.asarray(arrays[own["forward_expected"]]), _call(own["call"], (), {}))
    speed = None if raw["speed"] is None else SpeedSpec(**raw["speed"])
    c = raw["case"]
    case = Case(c["name"], c["public"], c["points"], c["rtol"], c["atol"], c["time_limit"],
                c["params"])
    planned = Planned(raw["func"], case, raw["kind"], _call(raw["call"], args, kwargs), args,
                      kwargs, tuple((n, np.asarray(arrays[k])) for n, k in raw["expected"]),
                      speed, raw["reference_ms"], None, own_cache)
    if raw["candidates"]:
        diagnosis.register(args, functools.cache(functools.partial(
            _candidates, raw["candidates"], arrays)))
    return planned


def _candidates(found: dict[str, list[list[str]]], arrays: _Arrays
                ) -> dict[str, list[tuple[str, np.ndarray]]]:
    arrays.load([k for pairs in found.values() for _, k in pairs])
    return {name: [(s, arrays[k]) for s, k in pairs] for name, pairs in found.items()}


@functools.lru_cache(maxsize=8)
def load(name: str) -> Exercise:
    """The exercise ``name`` from the kit's data."""
    if name not in exercises():
        raise ValueError(f"this kit has no exercise {name!r}; it has: {', '.join(exercises())}")
    meta = json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))
    npz = DATA / f"{name}.npz"
    arrays = _Arrays(npz)
    arrays.load([k for raw in meta["tests"] for part in ("args", "kwargs")
                 for k in _keys(raw[part])] + [k for raw in meta["tests"] for _, k in
                                               raw["expected"]])
    planned = tuple(_planned(raw, arrays) for raw in meta["tests"])
    return Exercise(name, meta["title"], meta["version"],
                    tuple(f["name"] for f in meta["functions"]),
                    {f["name"]: f["hidden_tests"] for f in meta["functions"]},
                    Bans(tuple(meta["bans"]["names"]), meta["bans"]["reason"]), planned,
                    tuple(tuple(b) for b in meta["batches"]), meta["inputs"], npz)


def guess_exercise(source: str) -> str:
    """The exercise whose function names the file defines most (the first one on a tie)."""
    try:
        names = {n.name for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)}
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        names = set()
    known = exercises()
    counts = {e: len(names & set(load(e).functions)) for e in known}
    return max(known, key=lambda e: (counts[e], e == "conv_step_by_step"))


def _run(text: str, planned: Sequence[Planned], exercise: Exercise, limits: SandboxLimits
         ) -> dict[str, RawOutcome]:
    if len(text.encode("utf-8")) > MAX_SOURCE_BYTES:
        return {p.call.id: _too_large() for p in planned}
    unwritten = unwritten_outcomes(text, planned)
    if unwritten is not None:
        return unwritten
    ids = {c.id for p in planned for c in ([p.call] if p.own_cache is None else
                                          [p.call, p.own_cache.forward_call, p.own_cache.call])}
    batches = [[t for t in batch if t["id"] in ids] for batch in exercise.batches]
    return run_batches(sandbox_source(text, planned), batches, exercise.npz, exercise.inputs,
                       limits)


def hidden_note(exercise: Exercise, functions: Sequence[str]) -> str | None:
    count = sum(exercise.hidden_tests.get(f, 0) for f in functions)
    if not count:
        return None
    tests = "hidden tests of these functions run" if count != 1 else \
        "hidden test of these functions runs"
    return (f"{count} {tests} only on the server, when you submit: passing here does not "
            "mean passing there.")


def grade(source: str | bytes, exercise: str | None = None,
          functions: Sequence[str] | None = None, filename: str | None = None,
          limits: SandboxLimits = DEFAULT_LIMITS) -> CodeReport:
    """The public tests' report on ``source``, as ``grader check`` gives it."""
    program = read_submission(_decode_source(source), filename)
    prepared = prepare_source(program)
    text = prepared.text
    spec = load(exercise or guess_exercise(text))
    if functions:
        unknown = [f for f in functions if f not in spec.functions]
        if unknown:
            raise ValueError(f"exercise {spec.name!r} has no function {unknown[0]!r} (it has: "
                             f"{', '.join(spec.functions)})")
    chosen = tuple(f for f in spec.functions if not functions or f in functions)
    planned = [p for p in spec.planned if p.func in chosen]
    outcomes = _run(text, planned, spec, limits)
    reports: list[FunctionReport] = [
        judge_function(name, [p for p in planned if p.func == name], outcomes, text, limits)
        for name in chosen]
    reports = [_stub(r) if r.name in prepared.stubs else r for r in reports]
    uses = banned_uses(program, spec.bans.names)  # as written: before stand-ins rename imports
    reports = [_banned(r, spec.bans.message(uses[r.name])) if r.name in uses else r
               for r in reports]

    if prepared.missing:
        reports = [_without_stand_in_frames(r) for r in reports]
    notes = tuple(n for n in (RAN_HERE, hidden_note(spec, chosen)) if n)
    return CodeReport(score=sum(f.score for f in reports),
                      max_score=sum(f.max_score for f in reports), functions=tuple(reports),
                      warnings=prepared.notes() + notes)
