"""The public tests as the kit ships them: their calls, inputs and expected outputs, and the
known bugs' outputs on the same inputs, read from the exercise's ``.json`` and ``.npz``.

Only a file that runs needs this module (and NumPy, and the verdict ladder): a fresh stub is
judged by :mod:`.local` from the tests' slots alone.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._core import diagnosis
from ._core.grade import _too_large
from ._core.plan import OwnCache, Planned, sandbox_source
from ._core.report import FunctionReport
from ._core.sandbox import DEFAULT_LIMITS, RawOutcome, SandboxLimits, TestCall
from ._core.source import MAX_SOURCE_BYTES
from ._core.spec import Case, SpeedSpec
from ._core.verdicts import judge_function
from .runner import run_batches

DATA = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class Exercise:
    """One exercise's public tests as the kit holds them, ready to run and judge."""

    name: str
    planned: tuple[Planned, ...]
    batches: tuple[tuple[dict, ...], ...]
    inputs: dict[str, str]
    npz: Path


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
    """The exercise ``name`` from the kit's data (a name :func:`.local.metadata` accepted)."""
    meta = json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))
    npz = DATA / f"{name}.npz"
    arrays = _Arrays(npz)
    arrays.load([k for raw in meta["tests"] for part in ("args", "kwargs")
                 for k in _keys(raw[part])] + [k for raw in meta["tests"] for _, k in
                                               raw["expected"]])
    planned = tuple(_planned(raw, arrays) for raw in meta["tests"])
    return Exercise(name, planned, tuple(tuple(b) for b in meta["batches"]), meta["inputs"],
                    npz)


def judged(text: str, name: str, chosen: Sequence[str], limits: SandboxLimits | None
           ) -> list[FunctionReport]:
    """The reports of ``chosen`` after running ``text`` on the exercise ``name``'s tests."""
    exercise, limits = load(name), limits or DEFAULT_LIMITS
    planned = [p for p in exercise.planned if p.func in chosen]
    outcomes = _run(text, planned, exercise, limits)
    return [judge_function(f, [p for p in planned if p.func == f], outcomes, text, limits)
            for f in chosen]


def _run(text: str, planned: Sequence[Planned], exercise: Exercise, limits: SandboxLimits
         ) -> dict[str, RawOutcome]:
    if len(text.encode("utf-8")) > MAX_SOURCE_BYTES:
        return {p.call.id: _too_large() for p in planned}
    ids = {c.id for p in planned for c in ([p.call] if p.own_cache is None else
                                          [p.call, p.own_cache.forward_call, p.own_cache.call])}
    batches = [[t for t in batch if t["id"] in ids] for batch in exercise.batches]
    return run_batches(sandbox_source(text, planned), batches, exercise.npz, exercise.inputs,
                       limits)
