"""Grade a student's NumPy exercise file: specs, inputs, sandboxed calls, verdicts, report.

The student's code only ever runs in the sandbox (:mod:`grader.sandbox`). This module, in the
trusted process, builds each test's inputs from the exercise spec (``exercises/specs/``),
computes the expected outputs with :mod:`grader.reference` on its own copies, and turns what
came back into verdicts: pass, wrong values, wrong shape, wrong dtype, wrong type, not finite,
exception, timeout, memory limit, crashed, not attempted, too slow. When values are wrong,
:mod:`grader.diagnosis` names the likely bug.

Hidden tests and the two audiences
----------------------------------
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

Hidden inputs never reach the run that produces public feedback: the public tests run in one
sandboxed child and the hidden tests in another, afterwards, so public messages (which show
what the student's code returned or raised) cannot echo what a hidden test passed in.

Isolation
---------
``grade_source(..., own_code=False)`` (the server, ``grader grade``, ``grader batch``) grades
someone else's code and calls ``require_isolation()`` first: without working bubblewrap it
raises :class:`IsolationUnavailable`, unless the operator opted out explicitly. Only a
student's check of their own code (``own_code=True``) runs with resource limits alone; the
report's ``warnings`` then say so.
"""

from __future__ import annotations

import ast
import builtins
import functools
import math
import re
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from grader import diagnosis
from grader.errors import ProblemSpecError, StudentCodeError
from grader.sandbox import (
    DEFAULT_LIMITS,
    RawOutcome,
    SandboxLimits,
    TestCall,
    WirePlan,
    local_isolation,
    require_isolation,
    run_calls,
    wire_plan,
)
from grader.sandbox.runner import SandboxPool


def _run_calls(source: str, plan: WirePlan, *, limits: SandboxLimits,
               pool: SandboxPool | None, own_code: bool) -> list[RawOutcome]:
    return run_calls(source, plan, limits=limits, pool=pool, own_code=own_code)


EXERCISES = ("conv_step_by_step", "convolution_basics")
SPECS_DIR = Path(__file__).resolve().parents[1] / "exercises" / "specs"
RESULT_KINDS = ("array", "scalar", "tuple0", "grads", "mask")
MAX_SOURCE_BYTES = 512 * 1024


# ---------------------------------------------------------------------------------- reports
AUDIENCES = ("student", "staff")


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
    verdict: str
    message: str
    diagnosis: str | None = None
    points: float = 0.0
    max_points: float = 0.0
    hidden: bool = False
    staff_case: str | None = None
    staff_message: str | None = None

    def redacted(self) -> TestReport:
        """What a student may see: the staff-only fields dropped."""
        return replace(self, staff_case=None, staff_message=None)

    def to_json(self, audience: str = "student") -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name, "passed": self.passed, "verdict": self.verdict,
            "message": self.message, "diagnosis": self.diagnosis, "points": self.points,
            "max_points": self.max_points, "hidden": self.hidden}
        if audience == "staff" and self.hidden and self.staff_case is not None:
            data["staff"] = {"case": self.staff_case, "message": self.staff_message}
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any], number: int = 0,
                  function: str = "") -> TestReport:
        """Rebuild a test from :meth:`to_json`; ``number`` names an unmarked stored hidden test."""
        fields = {"name": str(data.get("name", "")), "passed": bool(data.get("passed")),
                  "verdict": str(data.get("verdict", "")), "message": str(data.get("message", "")),
                  "diagnosis": data.get("diagnosis"), "points": float(data.get("points", 0.0)),
                  "max_points": float(data.get("max_points", 0.0))}
        if "hidden" not in data and fields["name"].startswith("hidden"):
            # Stored before hidden tests were marked: its name and message are the full ones.
            return cls(**{**fields, "name": f"hidden test {number}",
                          "message": _hidden_message(fields["verdict"], function or "your code")},
                       hidden=True, staff_case=fields["name"], staff_message=fields["message"])
        staff = data.get("staff") if isinstance(data.get("staff"), Mapping) else {}
        return cls(**fields, hidden=bool(data.get("hidden")), staff_case=staff.get("case"),
                   staff_message=staff.get("message"))


@dataclass(frozen=True)
class FunctionReport:
    """One function's tests; status is "passed", "failed" or "not attempted"."""

    name: str
    status: str
    tests: tuple[TestReport, ...]

    @property
    def score(self) -> float:
        return sum(t.points for t in self.tests)

    @property
    def max_score(self) -> float:
        return sum(t.max_points for t in self.tests)

    def redacted(self) -> FunctionReport:
        return replace(self, tests=tuple(t.redacted() for t in self.tests))

    def to_json(self, audience: str = "student") -> dict[str, Any]:
        return {"name": self.name, "status": self.status,
                "tests": [t.to_json(audience) for t in self.tests]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FunctionReport:
        name, tests, hidden = str(data.get("name", "")), [], 0
        for test in data.get("tests") or ():
            marked_hidden = test.get("hidden", str(test.get("name", "")).startswith("hidden"))
            hidden += bool(marked_hidden)
            tests.append(TestReport.from_json(test, hidden, name))
        return cls(name, str(data.get("status", "")), tuple(tests))


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
        return cls(score=float(data.get("score", 0.0)), max_score=float(data.get("max_score", 0.0)),
                   functions=tuple(FunctionReport.from_json(f) for f in data.get("functions") or ()),
                   warnings=tuple(str(w) for w in data.get("warnings") or ()))

    @property
    def all_attempted_pass(self) -> bool:
        attempted = [f for f in self.functions if f.status != "not attempted"]
        return bool(attempted) and all(f.status == "passed" for f in attempted)


def student_view(report_json: Mapping[str, Any]) -> dict[str, Any]:
    """What a student may see of a stored report (``CodeReport.to_json(audience="staff")``).

    Idempotent, and safe on reports stored before hidden tests were marked: their hidden
    tests get neutral names and messages too.
    """
    return CodeReport.from_json(report_json).to_json(audience="student")


HIDDEN_MESSAGES = {
    "pass": "Correct.",
    "wrong values": "{what} has wrong values on this hidden test.",
    "wrong shape": "{what} has the wrong shape on this hidden test.",
    "wrong dtype": "{what} has the wrong dtype on this hidden test: return a float array.",
    "wrong type": "{what} returned the wrong kind of value on this hidden test.",
    "not finite": "{what} contains NaN or infinity on this hidden test.",
    "exception": "{what} raised an exception on this hidden test.",
    "timeout": "{what} ran out of time on this hidden test: is there a loop that never ends, "
               "or a very slow one?",
    "memory limit": "{what} ran out of memory on this hidden test: does it build a much "
                    "larger array than needed?",
    "crashed": "Your code stopped the process during this hidden test, before returning.",
    "not attempted": "{what} is not written yet.",
    "too slow": "{what} is correct but slower than this hidden test's time budget: vectorize "
                "the inner loops.",
}


def _hidden_message(verdict: str, what: str) -> str:
    """A hidden test's message from its verdict alone (nothing the test or the code chose)."""
    return HIDDEN_MESSAGES.get(verdict, "{what} failed this hidden test.").format(what=what)


# ------------------------------------------------------------------------------------ specs
@dataclass(frozen=True)
class Case:
    """One test case: the builder's parameters plus grading settings."""

    name: str
    public: bool
    points: float
    rtol: float
    atol: float
    time_limit: float
    params: Mapping[str, Any]


@dataclass(frozen=True)
class SpeedSpec:
    """A "vectorize it" challenge: the named case must run within ``budget_ms``."""

    case: str
    budget_ms: float
    points: float
    public: bool


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    result: str
    cases: tuple[Case, ...]
    speed: SpeedSpec | None = None


@dataclass(frozen=True)
class ExerciseSpec:
    name: str
    title: str
    functions: tuple[FunctionSpec, ...]

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


@functools.lru_cache(maxsize=8)
def load_spec(exercise: str, specs_dir: Path = SPECS_DIR) -> ExerciseSpec:
    """Read and validate ``exercises/specs/<exercise>.yaml``."""
    if exercise not in EXERCISES:
        raise ValueError(f"unknown exercise {exercise!r}; choose one of {EXERCISES}")
    path = specs_dir / f"{exercise}.yaml"
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise _spec_error(path, "file", str(err)) from None
    if not isinstance(raw, Mapping) or not isinstance(raw.get("functions"), Mapping):
        raise _spec_error(path, "functions", "missing or not a mapping")
    defaults = raw.get("defaults") or {}
    functions = tuple(_parse_function(path, name, body, defaults)
                      for name, body in raw["functions"].items())
    for spec in functions:
        if spec.name not in BUILDERS:
            raise _spec_error(path, spec.name, "no input builder for this function")
    return ExerciseSpec(exercise, str(raw.get("title", exercise)), functions)


# ----------------------------------------------------------------------------------- inputs
def _rand(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape)


def _conv_inputs(p: Mapping, rng: np.random.Generator) -> tuple:
    A = _rand(rng, p["m"], p["n_H"], p["n_W"], p["n_C_prev"])
    W = _rand(rng, p["f"], p["f"], p["n_C_prev"], p["n_C"])
    b = _rand(rng, 1, 1, 1, p["n_C"])
    return A, W, b, {"stride": int(p["stride"]), "pad": int(p["pad"])}


def _pool_inputs(p: Mapping, rng: np.random.Generator) -> tuple:
    A = _rand(rng, p["m"], p["n_H"], p["n_W"], p["n_C"])
    return A, {"f": int(p["f"]), "stride": int(p["stride"])}


def _build_conv_backward(p: Mapping, rng: np.random.Generator) -> tuple[tuple, dict]:
    from grader import reference

    cache = _conv_inputs(p, rng)
    Z, _ = reference.conv_forward(*cache)
    return (_rand(rng, *Z.shape), cache), {}


def _build_pool_backward(p: Mapping, rng: np.random.Generator) -> tuple[tuple, dict]:
    from grader import reference

    cache = _pool_inputs(p, rng)
    A, _ = reference.pool_forward(*cache, mode=p["mode"])
    return (_rand(rng, *A.shape), cache), {"mode": p["mode"]}


def _signal(p: Mapping, rng: np.random.Generator, ndim: int) -> tuple[tuple, dict]:
    if "x" in p:
        x, k = np.array(p["x"]), np.array(p["k"])
    elif ndim == 1:
        x, k = _rand(rng, p["n"]), _rand(rng, p["f"])
    else:
        x, k = _rand(rng, p["n_H"], p["n_W"]), _rand(rng, p["f_H"], p["f_W"])
    return (x, k), {"mode": p["mode"], "pad": int(p.get("pad", 0))}


def _edge_image(p: Mapping, rng: np.random.Generator) -> tuple[tuple, dict]:
    if p.get("image") == "halves":
        image = np.zeros((p["n_H"], p["n_W"]))
        image[:, : p["n_W"] // 2] = 10.0
    else:
        image = _rand(rng, p["n_H"], p["n_W"])
    return (image,), {"direction": p["direction"]}


Builder = Callable[[Mapping, np.random.Generator], tuple[tuple, dict]]
BUILDERS: dict[str, Builder] = {
    "zero_pad": lambda p, r: ((_rand(r, p["m"], p["n_H"], p["n_W"], p["n_C"]), int(p["pad"])), {}),
    "conv_single_step": lambda p, r: ((_rand(r, p["f"], p["f"], p["n_C_prev"]),
                                       _rand(r, p["f"], p["f"], p["n_C_prev"]),
                                       _rand(r, 1, 1, 1)), {}),
    "conv_forward": lambda p, r: (_conv_inputs(p, r), {}),
    "pool_forward": lambda p, r: (_pool_inputs(p, r), {"mode": p["mode"]}),
    "conv_backward": _build_conv_backward,
    "create_mask_from_window": lambda p, r: ((_rand(r, p["n_H"], p["n_W"]),), {}),
    "distribute_value": lambda p, r: ((float(p["dz"]), (int(p["n_H"]), int(p["n_W"]))), {}),
    "pool_backward": _build_pool_backward,
    "convolve1d": lambda p, r: _signal(p, r, 1),
    "correlate1d": lambda p, r: _signal(p, r, 1),
    "convolve2d": lambda p, r: _signal(p, r, 2),
    "correlate2d": lambda p, r: _signal(p, r, 2),
    "detect_edges": _edge_image,
}


def build_inputs(func: str, case: Case) -> tuple[tuple, dict]:
    """The arguments of ``func`` for ``case``: deterministic in the case's seed."""
    rng = np.random.default_rng(int(case.params.get("seed", 0)))
    return BUILDERS[func](case.params, rng)


def _edge_filter(direction: str) -> np.ndarray:
    vertical = np.array([[1.0, 0.0, -1.0]] * 3)
    return vertical if direction == "vertical" else vertical.T


def reference_call(func: str, args: tuple, kwargs: Mapping) -> Any:
    """Call the trusted reference on (copies of) the inputs."""
    from grader import reference

    args, kwargs = _copy(args), _copy(dict(kwargs))
    if func == "detect_edges":
        return reference.correlate2d(args[0], _edge_filter(kwargs["direction"]), mode="valid")
    return getattr(reference, func)(*args, **kwargs)


def _copy(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, tuple):
        return tuple(_copy(v) for v in value)
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value


OUTPUT_NAMES = {"tuple0": ("Z",), "grads": ("dA_prev", "dW", "db")}


def expected_outputs(kind: str, func: str, result: Any) -> list[tuple[str, np.ndarray]]:
    """(name, expected array) pairs that the student's return value is checked against."""
    if kind == "tuple0":
        name = "A" if func == "pool_forward" else "Z"
        return [(name, np.asarray(result[0]))]
    if kind == "grads":
        return [(n, np.asarray(r)) for n, r in zip(OUTPUT_NAMES["grads"], result, strict=True)]
    return [("output", np.asarray(result))]


# ---------------------------------------------------------------------------------- running
@dataclass(frozen=True)
class _Planned:
    """A test ready to run: its call, its inputs (the grader's copies) and the expected values."""

    func: str
    case: Case
    kind: str
    call: TestCall
    args: tuple
    kwargs: Mapping[str, Any]
    expected: tuple[tuple[str, np.ndarray], ...]
    speed: SpeedSpec | None = None
    reference_ms: float | None = None
    hidden_number: int | None = None  # its number among the function's hidden tests

    @property
    def hidden(self) -> bool:
        return self.hidden_number is not None


def _save_indices(kind: str) -> tuple[int, ...] | None:
    return {"tuple0": (0,), "grads": (0, 1, 2)}.get(kind)


def _time_reference(func: str, args: tuple, kwargs: Mapping) -> float:
    best = math.inf
    for _ in range(3):
        start = time.perf_counter()
        reference_call(func, args, kwargs)
        best = min(best, time.perf_counter() - start)
    return best * 1000


def _plan_function(spec: FunctionSpec, include_hidden: bool, limits: SandboxLimits,
                   start: int) -> list[_Planned]:
    planned: list[_Planned] = []

    def number(public: bool) -> int | None:
        return None if public else 1 + sum(p.hidden for p in planned)

    for case in spec.cases:
        if not (case.public or include_hidden):
            continue
        args, kwargs = build_inputs(spec.name, case)
        try:
            result = reference_call(spec.name, args, kwargs)
        except (ValueError, TypeError) as err:
            raise ProblemSpecError(f"{spec.name} case {case.name!r}: the reference rejects "
                                   f"its inputs: {err}") from None
        expected = tuple(expected_outputs(spec.result, spec.name, result))
        wall = min(case.time_limit, limits.wall_s)
        call = TestCall(f"t{start + len(planned)}", spec.name, args, kwargs, wall,
                        _save_indices(spec.result))
        planned.append(_Planned(spec.name, case, spec.result, call, args, kwargs, expected,
                                hidden_number=number(case.public)))
        speed = spec.speed
        public = bool(speed) and speed.public and case.public
        if speed and speed.case == case.name and (public or include_hidden):
            solo = TestCall(f"t{start + len(planned)}", spec.name, args, kwargs, wall,
                            _save_indices(spec.result), solo=True)
            planned.append(_Planned(spec.name, case, spec.result, solo, args, kwargs, expected,
                                    speed, _time_reference(spec.name, args, kwargs),
                                    number(public)))
    return planned


@functools.lru_cache(maxsize=32)
def _plan(exercise: str, functions: tuple[str, ...], include_hidden: bool,
          limits: SandboxLimits) -> tuple[tuple[_Planned, ...], WirePlan, WirePlan]:
    """Inputs, expected outputs and the serialized calls: deterministic, so built once.

    Two wire plans, the public calls' and the hidden calls': they run in separate children,
    so the child that produces public feedback never holds a hidden input.

    The cached input arrays are made read-only; the reference and the diagnosis work on them
    (or on copies) and never write to them.
    """
    spec = load_spec(exercise)
    planned: list[_Planned] = []
    for name in functions:
        planned.extend(_plan_function(spec.function(name), include_hidden, limits, len(planned)))
    for p in planned:
        _freeze(p.args)
        _freeze(tuple(p.kwargs.values()))
    return (tuple(planned), wire_plan([p.call for p in planned if not p.hidden]),
            wire_plan([p.call for p in planned if p.hidden]))


def _freeze(value: Any) -> None:
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
    elif isinstance(value, tuple):
        for item in value:
            _freeze(item)


def _decode_source(source: str | bytes) -> str:
    if isinstance(source, bytes):
        try:
            source = source.decode("utf-8")
        except UnicodeDecodeError as err:
            raise StudentCodeError(
                f"the file is not UTF-8 text (byte {err.start} cannot be read); save it as a "
                "plain .py file and try again") from None
    if not isinstance(source, str):
        raise StudentCodeError(f"expected the program text, got {type(source).__name__}")
    if "\x00" in source:
        raise StudentCodeError("the file contains NUL bytes: it is not a Python source file")
    return source.removeprefix("\ufeff")


def grade_source(source: str | bytes, *, exercise: str = "conv_step_by_step",
                 include_hidden: bool = True, functions: Sequence[str] | None = None,
                 limits: SandboxLimits = DEFAULT_LIMITS, pool: SandboxPool | None = None,
                 progress: Callable[[str], None] | None = None,
                 own_code: bool = False) -> CodeReport:
    """Grade a submission of ``exercise`` in the sandbox.

    Parameters
    ----------
    source : str or bytes
        The student's file (bytes must be UTF-8).
    exercise : str
        One of :data:`EXERCISES`.
    include_hidden : bool
        Run the hidden tests too (the server and instructors); ``grader check`` does not.
    functions : sequence of str, optional
        Only these functions (default: every function of the exercise).
    limits : SandboxLimits
        Resource limits of the sandboxed child.
    pool : SandboxPool, optional
        The warm workers to use (default: the process-wide pool).
    progress : callable, optional
        Called with a short phase description ("running", "checking").
    own_code : bool
        True only for a student checking their own code on their own machine: then the code
        may run with resource limits alone when bubblewrap is unavailable (the report's
        ``warnings`` say so). False (the server, ``grader grade``, ``grader batch``) requires
        isolation.

    Returns
    -------
    CodeReport
        The full (staff) report; ``report.to_json()`` and ``report.redacted()`` are the
        student's form.

    Raises
    ------
    IsolationUnavailable
        With ``own_code=False``, when bubblewrap does not work and the operator did not opt out.
    StudentCodeError
        Only when ``source`` is not text at all.
    ValueError
        On an unknown exercise or function name.
    """
    isolation = local_isolation() if own_code else require_isolation()
    text = _decode_source(source)
    spec = load_spec(exercise)
    chosen = tuple(spec.function(n).name for n in functions) if functions else tuple(
        f.name for f in spec.functions)
    planned, public_plan, hidden_plan = _plan(exercise, chosen, include_hidden, limits)
    if progress:
        progress("running")
    if len(text.encode("utf-8")) > MAX_SOURCE_BYTES:
        outcomes = {p.call.id: _too_large() for p in planned}
    else:
        # Public first, in a child of its own: nothing a hidden test passes in can reach it.
        outcomes = {r.id: r for plan in (public_plan, hidden_plan)
                    for r in _run_calls(text, plan, limits=limits, pool=pool, own_code=own_code)}
    if progress:
        progress("checking")
    reports = [_judge_function(name, [p for p in planned if p.func == name], outcomes,
                               text, limits) for name in chosen]
    warning = isolation.warning()
    return CodeReport(
        score=sum(f.score for f in reports), max_score=sum(f.max_score for f in reports),
        functions=tuple(reports), warnings=(warning,) if warning else (),
    )


def _too_large() -> RawOutcome:
    return RawOutcome(id="", outcome="import_error", status={
        "ok": False, "exc_type": "FileTooLarge",
        "exc_msg": f"the file is larger than {MAX_SOURCE_BYTES // 1024} KB", "frames": []})


# --------------------------------------------------------------------------------- verdicts
def _judge_function(name: str, planned: list[_Planned], outcomes: Mapping[str, RawOutcome],
                    source: str, limits: SandboxLimits) -> FunctionReport:
    tests = []
    for p in planned:
        report = _judge(p, outcomes[p.call.id], source, limits)
        if p.speed is not None:
            report = _judge_speed(p, report, outcomes[p.call.id])
        tests.append(report)
    if all(t.verdict == "not attempted" for t in tests):
        status = "not attempted"
    else:
        status = "passed" if all(t.passed for t in tests) else "failed"
    return FunctionReport(name, status, tuple(tests))


def _report(p: _Planned, verdict: str, message: str, diagnosis_text: str | None = None, *,
            student: str | None = None, what: str | None = None) -> TestReport:
    """The test's report; for a hidden test, ``message`` is kept for staff only.

    A hidden test shows ``student`` (only pass text that depends on nothing the test or the
    student's code chose) or else a sentence built from the verdict and ``what`` failed.
    """
    passed = verdict == "pass"
    points = p.speed.points if p.speed else p.case.points
    case = f"speed: {p.case.name}" if p.speed else p.case.name
    earned = points if passed else 0.0
    if not p.hidden:
        return TestReport(case, passed, verdict, message, diagnosis_text, earned, points)
    shown = student if student is not None else _hidden_message(verdict, what or p.func)
    return TestReport(f"hidden test {p.hidden_number}", passed, verdict, shown, diagnosis_text,
                      earned, points, hidden=True, staff_case=case, staff_message=message)


def _mentions(source: str, func: str) -> bool:
    if len(source) > MAX_SOURCE_BYTES:
        return f"def {func}" in source
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return f"def {func}" in source
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == func:
            return True
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.Import, ast.ImportFrom)):
            if func in ast.dump(node):
                return True
    return False


def _judge(p: _Planned, raw: RawOutcome, source: str, limits: SandboxLimits) -> TestReport:
    outcome = raw.outcome
    if outcome.startswith("import") and not _mentions(source, p.func):
        return _not_attempted(p, f"{p.func} is not defined in your file.")
    if outcome == "import_error":
        return _exception(p, raw.status, source, at_import=True)
    if outcome in ("import_timeout", "timeout"):
        return _timeout(p, at_import=outcome == "import_timeout", limits=limits)
    if outcome in ("disk_quota", "import_disk_quota"):
        message = (f"Your code wrote more than {limits.disk_mb} MB of files and was stopped: "
                   "return results instead of writing files.")
        return _report(p, "crashed", message, student=message)
    if outcome == "skipped_after_timeout":
        message = f"Not run: an earlier test of {p.func} ran out of time, so this one would too."
        return _report(p, "timeout", message, student=message)
    if outcome in ("import_crashed", "crashed", "lost"):
        return _crashed(p, raw, limits)
    status = raw.status
    if status is None:
        return _report(p, "crashed", "Your code ended without writing a result: did it call "
                       "os._exit(), or crash the interpreter?")
    if status.get("missing"):
        return _not_attempted(p, f"{p.func} is not defined in your file.")
    if not status.get("ok"):
        if status.get("stage") == "save":
            return _unsaveable(p, status)
        return _exception(p, status, source, at_import=False)
    if raw.problem:
        return _report(p, "wrong type", f"Your {p.func} returned something that is not a "
                       f"plain numeric array: {raw.problem}.")
    return _check_result(p, status.get("result"), raw.arrays or {})


def _not_attempted(p: _Planned, message: str) -> TestReport:
    return _report(p, "not attempted", message, student=message)


def _exception(p: _Planned, status: dict | None, source: str, at_import: bool) -> TestReport:
    status = status or {}
    exc_type = str(status.get("exc_type", "Exception"))
    exc_msg = str(status.get("exc_msg", ""))
    frames = status.get("frames") if isinstance(status.get("frames"), list) else []
    if exc_type == "NotImplementedError" and not at_import:
        return _not_attempted(p, f"{p.func} still raises NotImplementedError.")
    if exc_type == "MemoryError":
        message = (f"{p.func} ran out of memory (the limit is the sandbox's memory cap): does "
                   "it build a much larger array than needed?")
        return _report(p, "memory limit", message, student=message)
    where = "while loading your file" if at_import else f"in {p.func}"
    message = f"{exc_type} {where}: {exc_msg}".rstrip(": ")
    trace = _format_frames(frames)
    if trace:
        message += "\n" + trace
    hint = diagnosis.explain_exception(p.func, p.args, p.kwargs, exc_type, exc_msg, frames)
    student = _hidden_exception(exc_type, where, frames, source) if p.hidden else None
    return _report(p, "exception", message, hint, student=student)


BUILTIN_EXCEPTIONS = frozenset(name for name, value in vars(builtins).items()
                               if isinstance(value, type) and issubclass(value, BaseException))
NUMPY_EXCEPTIONS = frozenset({"AxisError", "LinAlgError", "DTypePromotionError", "TooHardError"})
SYNTHETIC_FRAMES = frozenset({"<module>", "<lambda>", "<listcomp>", "<genexpr>", "<dictcomp>",
                              "<setcomp>"})


def _hidden_exception(exc_type: str, where: str, frames: list, source: str) -> str:
    """A hidden test's exception: its type and the student's own lines, never its text.

    The type is shown when it is a built-in or NumPy exception or a class the file defines
    (a name made up at run time could spell out an input); a frame is shown only when its
    text is the file's own line at that number.
    """
    shown = exc_type if _declared_exception(exc_type, source) else "an exception"
    message = f"Your code raised {shown} {where} on this hidden test."
    trace = _format_frames(_own_frames(frames, source))
    return message + ("\n" + trace if trace else "")


def _declared_exception(name: str, source: str) -> bool:
    if name in BUILTIN_EXCEPTIONS or name in NUMPY_EXCEPTIONS:
        return True
    return name.isidentifier() and re.search(
        rf"^\s*class\s+{re.escape(name)}\b", source, re.MULTILINE) is not None


def _own_frames(frames: list, source: str) -> list[list]:
    lines = source.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept = []
    for frame in frames:
        if not (isinstance(frame, list) and len(frame) == 3 and type(frame[0]) is int):
            continue
        lineno, name, text = frame
        if not 1 <= lineno <= len(lines) or text != lines[lineno - 1].strip()[:200]:
            continue
        named = str(name) in SYNTHETIC_FRAMES or (str(name).isidentifier() and re.search(
            rf"\bdef\s+{re.escape(str(name))}\b", source) is not None)
        kept.append([lineno, name if named else "your code", text])
    return kept


def _format_frames(frames: list) -> str:
    lines = []
    for frame in frames[-6:]:
        if isinstance(frame, list) and len(frame) == 3:
            lineno, name, text = frame
            lines.append(f"  line {lineno}, in {name}: {str(text)[:160]}")
    return "\n".join(lines)


def _timeout(p: _Planned, at_import: bool, limits: SandboxLimits) -> TestReport:
    if at_import:
        return _report(p, "timeout", f"Your file's top-level code ran longer than "
                       f"{limits.import_wall_s:g} s: move work into functions, or remove an "
                       "endless loop.")
    return _report(p, "timeout", f"{p.func} did not return within {p.call.wall_s:g} s (its "
                   "time limit): is there a loop that never ends, or a very slow one?")


SIGNAL_NAMES = {int(s): s.name for s in signal.Signals}


def _crashed(p: _Planned, raw: RawOutcome, limits: SandboxLimits) -> TestReport:
    if raw.outcome == "lost":
        return _report(p, "crashed", "The sandbox stopped while running your code: did it "
                       "signal or stop its parent process?")
    when = "while loading your file" if raw.outcome.startswith("import") else f"in {p.func}"
    sig = raw.signal
    if sig in (signal.SIGXCPU, signal.SIGKILL) and (raw.cpu or 0) >= limits.cpu_s * 0.9:
        return _report(p, "timeout", f"Your code used up its CPU time ({limits.cpu_s:g} s) "
                       f"{when}: is there a loop that never ends?")
    if sig is not None:
        name = SIGNAL_NAMES.get(sig, f"signal {sig}")
        return _report(p, "crashed", f"Python crashed {when} ({name}). This happens with "
                       "ctypes or other low-level tricks, or when memory runs out.")
    return _report(p, "crashed", f"Your code ended the process {when} (exit code {raw.exit}) "
                   "before returning: remove sys.exit()/os._exit() and return the result.")


def _unsaveable(p: _Planned, status: dict) -> TestReport:
    info = status.get("result") if isinstance(status.get("result"), dict) else {}
    dtype = info.get("dtype")
    # Numeric arrays only fail to save when they exceed the file-size limit (or memory).
    too_large = status.get("exc_type") in ("OSError", "MemoryError")
    if dtype and too_large:
        return _report(p, "wrong shape", f"{p.func} returned an array of shape "
                       f"{tuple(info.get('shape', ()))}, far larger than expected: the grader "
                       "cannot bring it back.")
    if dtype:
        return _report(p, "wrong dtype", f"{p.func} returned an array of dtype {dtype}; "
                       "return numbers (a float array), not Python objects.")
    return _report(p, "wrong type", f"{p.func} returned a value the grader cannot read "
                   f"({status.get('exc_type')}: {str(status.get('exc_msg'))[:200]}).")


def _type_name(info: Any) -> str:
    if not isinstance(info, dict):
        return "an unknown value"
    name = str(info.get("type", "?")).removeprefix("builtins.")
    if "len" in info:
        return f"a {name} of {info['len']} items"
    return f"a {name}"


def _returned_arrays(p: _Planned, info: Any, arrays: Mapping[str, np.ndarray]
                     ) -> list[np.ndarray] | TestReport:
    """The arrays to check, or a "wrong type" report when the return value has the wrong form."""
    is_sequence = isinstance(info, dict) and "len" in info
    if p.kind in ("tuple0", "grads"):
        count = 2 if p.kind == "tuple0" else 3
        if not is_sequence and "r" in arrays:
            if p.kind == "tuple0":
                return _report(p, "wrong type", f"{p.func} returned a single array; it must "
                               "return a tuple (output, cache).",
                               diagnosis.FORGOT_CACHE.format(func=p.func))
            return _report(p, "wrong type", f"{p.func} returned a single array; it must return "
                           "the tuple (dA_prev, dW, db).")
        if not is_sequence or info["len"] != count:
            return _report(p, "wrong type", f"{p.func} returned {_type_name(info)}; expected a "
                           f"tuple of {count} items.")
        keys = [f"r{i}" for i in _save_indices(p.kind)]
    else:
        if is_sequence or "r" not in arrays:
            hint = " Wrap it with np.array(...)." if is_sequence else ""
            what = "a number" if p.kind == "scalar" else "a NumPy array"
            return _report(p, "wrong type", f"{p.func} returned {_type_name(info)}; expected "
                           f"{what}.{hint}")
        keys = ["r"]
    missing = [k for k in keys if k not in arrays]
    if missing:
        index = int(missing[0][1:])
        item = info["items"][index] if is_sequence and index < len(info.get("items", [])) else None
        return _report(p, "wrong type", f"Item {index} of what {p.func} returned is "
                       f"{_type_name(item)}; expected a NumPy array.")
    return [arrays[k] for k in keys]


def _check_result(p: _Planned, info: Any, arrays: Mapping[str, np.ndarray]) -> TestReport:
    got_arrays = _returned_arrays(p, info, arrays)
    if isinstance(got_arrays, TestReport):
        return got_arrays
    for (name, expected), got in zip(p.expected, got_arrays, strict=True):
        failure = _compare(p, name, expected, got)
        if failure is not None:
            return failure
    return _report(p, "pass", "Correct.")


def _label(p: _Planned, name: str) -> str:
    return p.func if name == "output" else f"{name} from {p.func}"


def _compare(p: _Planned, name: str, expected: np.ndarray, got: np.ndarray) -> TestReport | None:
    """The array-check ladder: dtype, shape, finite, values. None when it all holds."""
    label = _label(p, name)
    if got.dtype.kind not in "biuf":
        return _report(p, "wrong dtype", f"{label} has dtype {got.dtype}; expected numbers.",
                       what=label)
    if got.dtype.kind == "b" and p.kind != "mask":
        return _report(p, "wrong dtype", f"{label} is a boolean array; expected numbers.",
                       what=label)
    if p.kind == "scalar" and got.shape != ():
        return _report(p, "wrong shape", f"{p.func} returned an array of shape {got.shape}; "
                       "expected a single number.", diagnosis.SCALAR_HINT)
    if got.shape != expected.shape:
        # An exact match with a mutated output beats a guess from the shape alone.
        hint = (diagnosis.explain_values(p.func, p.args, p.kwargs, name, got, expected,
                                         hidden=p.hidden)
                or diagnosis.explain_shape(p.func, p.args, p.kwargs, name, got.shape,
                                           expected.shape))
        formula = diagnosis.size_formula(p.func, p.args, p.kwargs)
        message = f"{label} has shape {got.shape}; expected {expected.shape}."
        return _report(p, "wrong shape", message + (f" {formula}" if formula else ""), hint,
                       what=label)
    if not np.all(np.isfinite(got)):
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(got))[0])
        return _report(p, "not finite", f"{label} contains NaN or infinity (first at index "
                       f"{index}).", what=label)
    if p.kind == "mask":
        same = (got != 0) == expected.astype(bool)
        ok = bool(np.all(same))
    else:
        same = np.isclose(got.astype(np.float64), expected.astype(np.float64),
                          rtol=p.case.rtol, atol=p.case.atol)
        ok = bool(np.all(same))
    if ok:
        return None
    return _wrong_values(p, name, label, expected, got, same)


def _wrong_values(p: _Planned, name: str, label: str, expected: np.ndarray, got: np.ndarray,
                  same: np.ndarray) -> TestReport:
    diff = np.abs(got.astype(np.float64) - expected.astype(np.float64))
    index = tuple(int(i) for i in np.argwhere(~same)[0]) if same.ndim else ()
    scale = float(np.max(np.abs(expected))) or 1.0
    message = (f"{label} has wrong values: max abs error {float(np.max(diff)):.3g}, relative "
               f"error {float(np.max(diff)) / scale:.3g}; first mismatch at index {index}: "
               f"got {float(got[index]):.6g}, expected {float(expected[index]):.6g}.")
    verdict = "wrong values"
    if got.dtype.kind in "iu" and expected.dtype.kind == "f":
        verdict = "wrong dtype"
        message = f"{label} has integer dtype {got.dtype}, so values are truncated. " + message
    hint = diagnosis.explain_values(p.func, p.args, p.kwargs, name, got, expected,
                                    hidden=p.hidden)
    return _report(p, verdict, message, hint, what=label)


def _judge_speed(p: _Planned, report: TestReport, raw: RawOutcome) -> TestReport:
    if not report.passed:
        return _report(p, report.verdict, "Speed is measured only once the output is correct "
                       f"(see the test {p.case.name!r}).")
    ms = (raw.lifetime or 0.0) * 1000
    ratio = ms / p.reference_ms if p.reference_ms else math.inf
    message = (f"{ms:.1f} ms on the case {p.case.name!r} (budget {p.speed.budget_ms:g} ms); the "
               f"reference takes {p.reference_ms:.2f} ms, so yours is {ratio:.0f}x.")
    if ms <= p.speed.budget_ms:
        return _report(p, "pass", message)
    return _report(p, "too slow", message, "Vectorize the inner loops: compute each output "
                   "position for all filters at once with np.sum over the window, or use "
                   "np.lib.stride_tricks.sliding_window_view.")
