"""The test plan: the one home of turning an exercise's specs into sandbox test calls.

For each chosen function and case the plan builds the inputs (deterministic in the case's
seed), the expected outputs from the trusted reference, and the :class:`TestCall` the sandbox
runs. It keeps two wire plans, the public calls' and the hidden calls': they run in separate
children, so the child that produces public feedback never holds a hidden input.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from grader.code.functions import FUNCTIONS, expected_outputs, reference_call, saved_items
from grader.code.spec import Case, FunctionSpec, SpeedSpec, load_spec
from grader.errors import ProblemSpecError
from grader.sandbox import SandboxLimits, TestCall, WirePlan, wire_plan


@dataclass(frozen=True)
class Planned:
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


def build_inputs(func: str, case: Case) -> tuple[tuple, dict]:
    """The arguments of ``func`` for ``case``: deterministic in the case's seed."""
    rng = np.random.default_rng(int(case.params.get("seed", 0)))
    return FUNCTIONS[func].build(case.params, rng)


def _time_reference(func: str, args: tuple, kwargs: Mapping) -> float:
    best = math.inf
    for _ in range(3):
        start = time.perf_counter()
        reference_call(func, args, kwargs)
        best = min(best, time.perf_counter() - start)
    return best * 1000


def _expected(spec: FunctionSpec, case: Case, args: tuple, kwargs: Mapping
              ) -> tuple[tuple[str, np.ndarray], ...]:
    try:
        result = reference_call(spec.name, args, kwargs)
    except (ValueError, TypeError) as err:
        raise ProblemSpecError(f"{spec.name} case {case.name!r}: the reference rejects "
                               f"its inputs: {err}") from None
    return tuple(expected_outputs(spec.result, spec.name, result))


def _plan_function(spec: FunctionSpec, include_hidden: bool, limits: SandboxLimits,
                   start: int) -> list[Planned]:
    planned: list[Planned] = []

    def number(public: bool) -> int | None:
        return None if public else 1 + sum(p.hidden for p in planned)

    for case in spec.cases:
        if not (case.public or include_hidden):
            continue
        args, kwargs = build_inputs(spec.name, case)
        expected = _expected(spec, case, args, kwargs)
        wall, save = min(case.time_limit, limits.wall_s), saved_items(spec.result)
        call = TestCall(f"t{start + len(planned)}", spec.name, args, kwargs, wall, save)
        planned.append(Planned(spec.name, case, spec.result, call, args, kwargs, expected,
                               hidden_number=number(case.public)))
        speed = spec.speed
        public = bool(speed) and speed.public and case.public
        if speed and speed.case == case.name and (public or include_hidden):
            solo = TestCall(f"t{start + len(planned)}", spec.name, args, kwargs, wall, save,
                            solo=True)
            planned.append(Planned(spec.name, case, spec.result, solo, args, kwargs, expected,
                                   speed, _time_reference(spec.name, args, kwargs),
                                   number(public)))
    return planned


@functools.lru_cache(maxsize=32)
def plan(exercise: str, functions: tuple[str, ...], include_hidden: bool,
         limits: SandboxLimits) -> tuple[tuple[Planned, ...], WirePlan, WirePlan]:
    """Inputs, expected outputs and the serialized calls: deterministic, so built once.

    Returns the planned tests, then the public calls' wire plan and the hidden calls'.

    The cached input arrays are made read-only; the reference and the diagnosis work on them
    (or on copies) and never write to them.
    """
    spec = load_spec(exercise)
    planned: list[Planned] = []
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
