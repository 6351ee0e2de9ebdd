"""Exercise specs: the one home of loading and validating ``exercises/specs/*.yaml``.

A spec names an exercise's graded functions, their result kinds, their test cases (public or
hidden, with points, tolerances and time limits, plus the parameters the function's input
builder reads) and an optional speed challenge. Errors name the file, the function and the case.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from grader.data_root import data_root
from grader.errors import ProblemSpecError

EXERCISES = ("conv_step_by_step", "convolution_basics")
# What a graded function returns, as a spec names it (:mod:`grader.code.functions` says which
# parts of each kind are brought back from the sandbox and compared).
RESULT_KINDS = ("array", "scalar", "tuple0", "grads", "mask")
SPECS_DIR = data_root() / "exercises" / "specs"


@dataclass(frozen=True)
class Tolerance:
    """How close a value must be: ``|got - expected| <= atol + rtol * |expected|``.

    ``dtype`` names the student's output dtype the tolerance was chosen for; ``exact`` means
    integer outputs, compared for equality.
    """

    dtype: str
    rtol: float
    atol: float

    @property
    def exact(self) -> bool:
        return self.rtol == 0 and self.atol == 0

    def describe(self) -> str:
        """The rule in words, for a message that states the tolerance a value missed."""
        if self.exact:
            return f"{self.dtype} values must be exact"
        return (f"the {self.dtype} tolerance is |got - expected| <= {self.atol:.3g} + "
                f"{self.rtol:.3g} * |expected|")


# The loosest tolerance each floating dtype is held to: float32 and float16 cannot be as close
# to a float64 reference as float64 is (their epsilons are 1.2e-7 and 9.8e-4), so a correct
# float32 solution must pass. ``atol`` is relative to the expected output's largest magnitude
# (at least 1), so it scales with the values a rounding error is made of. A case's own
# rtol/atol (the float64 tolerance) apply when they are looser.
DTYPE_TOLERANCES = {"float16": (1e-2, 1e-3), "float32": (1e-4, 1e-5)}


@dataclass(frozen=True)
class Case:
    """One test case: the builder's parameters plus grading settings.

    ``rtol`` and ``atol`` are the float64 tolerance; :meth:`tolerance` gives the one for the
    dtype a student's output has.
    """

    name: str
    public: bool
    points: float
    rtol: float
    atol: float
    time_limit: float
    params: Mapping[str, Any]

    def tolerance(self, dtype: Any, scale: float = 1.0) -> Tolerance:
        """The tolerance for an output of ``dtype`` whose expected values reach ``scale``.

        Integer (and boolean) outputs are exact; float16 and float32 get at least their
        :data:`DTYPE_TOLERANCES`; float64 (and anything wider) gets the case's own.
        """
        import numpy as np  # here: listing a spec's tests (a stub's check) needs no NumPy

        dtype = np.dtype(dtype)
        if dtype.kind in "biu":
            return Tolerance(dtype.name, 0.0, 0.0)
        rtol, atol = DTYPE_TOLERANCES.get(dtype.name, (0.0, 0.0))
        atol *= max(1.0, float(scale))
        return Tolerance(dtype.name, max(rtol, self.rtol), max(atol, self.atol))


@dataclass(frozen=True)
class SpeedSpec:
    """A "vectorize it" challenge: the named case must run within ``budget_ms``."""

    case: str
    budget_ms: float
    points: float
    public: bool


@dataclass(frozen=True)
class FunctionSpec:
    """One graded function of an exercise: its result kind (see ``RESULT_KINDS``) and cases."""

    name: str
    result: str
    cases: tuple[Case, ...]
    speed: SpeedSpec | None = None


@dataclass(frozen=True)
class Bans:
    """Helpers a student may not call, and why (the exercise asks them to write these).

    Each name bans itself and everything under it (``scipy.ndimage`` bans
    ``scipy.ndimage.convolve``); :mod:`grader.code.bans` finds the uses.
    """

    names: tuple[str, ...] = ()
    reason: str = ""

    def message(self, used: str) -> str:
        """What a function that uses ``used`` is told, e.g. for scipy.signal.convolve2d."""
        return f"{self.reason[:1].upper()}{self.reason[1:]}; {used} is not allowed here."


@dataclass(frozen=True)
class ExerciseSpec:
    """One exercise file's graded functions, in the spec's order, and its banned helpers."""

    name: str
    title: str
    functions: tuple[FunctionSpec, ...]
    bans: Bans = Bans()

    def function(self, name: str) -> FunctionSpec:
        for spec in self.functions:
            if spec.name == name:
                return spec
        known = ", ".join(f.name for f in self.functions)
        raise ValueError(f"exercise {self.name!r} has no function {name!r} (it has: {known})")


CASE_KEYS = ("name", "public", "points", "rtol", "atol", "time_limit")


def _spec_error(path: Path, where: str, message: str) -> ProblemSpecError:
    return ProblemSpecError(f"{path.name}: {where}: {message}")


def _parse_case(path: Path, func: str, raw: Any, defaults: Mapping[str, Any]) -> Case:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
        raise _spec_error(path, func, f"each case needs a mapping with a name, got {raw!r}")
    merged = {**defaults, **raw}
    try:
        return Case(
            name=merged["name"], public=bool(merged.get("public", True)),
            points=float(merged.get("points", 1)), rtol=float(merged.get("rtol", 1e-6)),
            atol=float(merged.get("atol", 1e-8)), time_limit=float(merged.get("time_limit", 3)),
            params={k: v for k, v in raw.items() if k not in CASE_KEYS},
        )
    except (TypeError, ValueError) as err:
        raise _spec_error(path, f"{func} case {raw['name']!r}", str(err)) from None


def _parse_function(path: Path, name: str, raw: Any, defaults: Mapping) -> FunctionSpec:
    if not isinstance(raw, Mapping) or raw.get("result") not in RESULT_KINDS:
        raise _spec_error(path, name, f"result must be one of {RESULT_KINDS}, got {raw!r}")
    fdefaults = {**defaults, **{k: raw[k] for k in ("rtol", "atol", "time_limit") if k in raw}}
    cases = tuple(_parse_case(path, name, c, fdefaults) for c in raw.get("cases") or ())
    if not cases or len({c.name for c in cases}) != len(cases):
        raise _spec_error(path, name, "needs at least one case, with unique names")
    speed = None
    if raw.get("speed"):
        s = raw["speed"]
        if s.get("case") not in {c.name for c in cases}:
            raise _spec_error(path, f"{name}.speed", f"unknown case {s.get('case')!r}")
        speed = SpeedSpec(s["case"], float(s["budget_ms"]), float(s.get("points", 0)),
                          bool(s.get("public", True)))
    return FunctionSpec(name, raw["result"], cases, speed)


def _parse_bans(path: Path, raw: Any) -> Bans:
    if raw is None:
        return Bans()
    names, reason = (raw.get("names"), raw.get("reason")) if isinstance(raw, Mapping) else (
        None, None)
    if (not isinstance(names, list) or not all(isinstance(n, str) and n for n in names)
            or not isinstance(reason, str) or not reason.strip()):
        raise _spec_error(path, "banned", "needs a reason (text) and names (a list of dotted "
                          f"names such as scipy.signal.convolve2d), got {raw!r}")
    return Bans(tuple(names), reason.strip())


@functools.lru_cache(maxsize=8)
def load_spec(exercise: str, specs_dir: Path = SPECS_DIR) -> ExerciseSpec:
    """Read and validate ``exercises/specs/<exercise>.yaml``."""
    if exercise not in EXERCISES:
        raise ValueError(f"unknown exercise {exercise!r}; choose one of {EXERCISES}")
    path = specs_dir / f"{exercise}.yaml"
    try:
        # libyaml's loader when PyYAML has it: 15x faster, and the specs are read at every start
        raw = yaml.load(path.read_text(encoding="utf-8"),
                        Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (OSError, yaml.YAMLError) as err:
        raise _spec_error(path, "file", str(err)) from None
    if not isinstance(raw, Mapping) or not isinstance(raw.get("functions"), Mapping):
        raise _spec_error(path, "functions", "missing or not a mapping")
    defaults = raw.get("defaults") or {}
    functions = tuple(_parse_function(path, name, body, defaults)
                      for name, body in raw["functions"].items())
    return ExerciseSpec(exercise, str(raw.get("title", exercise)), functions,
                        _parse_bans(path, raw.get("banned")))
