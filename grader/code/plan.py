"""The test plan: the one home of turning an exercise's specs into sandbox test calls.

For each chosen function and case the plan builds the inputs (deterministic in the case's
seed), the expected outputs from the trusted reference, and the :class:`TestCall` the sandbox
runs. It keeps two wire plans, the public calls' and the hidden calls': they run in separate
children, so the child that produces public feedback never holds a hidden input.

Backward passes on the student's own cache
------------------------------------------
The course's notebook calls ``conv_backward(dZ, cache)`` with the cache the student's own
``conv_forward`` returned, so students keep any layout they like (a dict, a 5-tuple,
``(A_prev, hparameters, mode)``). Each backward case therefore runs three calls in the same
child: the student's forward on the case's forward inputs (to check its output), the backward
on the grader's cache ``(A_prev, W, b, hparameters)`` / ``(A_prev, hparameters)``, and the
backward on the student's own cache, through a small adapter that :func:`sandbox_source`
appends to the file (the forward's return value never leaves the child, so the sandbox's
protocol is unchanged). :mod:`grader.code.verdicts` judges the own-cache call when the forward
returned the right output on exactly these inputs, and the grader's-cache call otherwise; the
message says which.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from grader.code.cases import FORWARD_OF, TestSlot, plan_slots
from grader.code.functions import FUNCTIONS, expected_outputs, reference_call, saved_items
from grader.code.spec import Case, FunctionSpec, SpeedSpec, load_spec
from grader.errors import ProblemSpecError
from grader.sandbox import SandboxLimits, TestCall, WirePlan, wire_plan

# How the grader's own cache is laid out, for the message that says it was used.
REFERENCE_CACHE = {"conv_backward": "(A_prev, W, b, hparameters)",
                   "pool_backward": "(A_prev, hparameters)"}

_ADAPTER = """

def {name}(gradient, forward_args, forward_kwargs, backward_kwargs):
    # Added by the grader: {backward} on the cache the file's own {forward} returns.
    cache = globals()[{forward!r}](*forward_args, **forward_kwargs)[1]
    return globals()[{backward!r}](gradient, cache, **backward_kwargs)
"""


def adapter_name(backward: str) -> str:
    """The name of the appended function that runs ``backward`` on the student's own cache."""
    return f"_stride_{backward}_on_own_cache"


@dataclass(frozen=True)
class OwnCache:
    """A backward case's run on the student's own cache, and the check of their forward.

    ``forward_call`` runs the student's forward on the case's forward inputs; its output is
    compared with ``forward_expected`` before ``call`` (the backward on the cache that forward
    returned) is trusted.
    """

    forward: str
    forward_call: TestCall
    forward_expected: np.ndarray
    call: TestCall


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
    own_cache: OwnCache | None = None  # backward passes: the run on the student's own cache

    @property
    def hidden(self) -> bool:
        return self.hidden_number is not None


def build_inputs(func: str, case: Case) -> tuple[tuple, dict]:
    """The arguments of ``func`` for ``case``: deterministic in the case's seed."""
    if func not in FUNCTIONS:
        raise ProblemSpecError(f"{func}: no input builder for this function (an exercise "
                               "spec names a function grader/code/functions.py does not know)")
    rng = np.random.default_rng(int(case.params.get("seed", 0)))
    return FUNCTIONS[func].build(case.params, rng)


def _own_cache(call: TestCall, args: tuple, kwargs: Mapping) -> OwnCache | None:
    """For a backward case: the forward check and the backward on the student's own cache.

    The forward's inputs are the grader's cache itself (``(A_prev, W, b, hparameters)`` or
    ``(A_prev, hparameters)`` plus the pooling mode), so both runs see the same numbers.
    """
    forward = FORWARD_OF.get(call.func)
    if forward is None:
        return None
    gradient, cache = args
    forward_kwargs = {"mode": kwargs["mode"]} if "mode" in kwargs else {}
    expected = np.asarray(reference_call(forward, cache, forward_kwargs)[0])
    check = TestCall(f"{call.id}f", forward, cache, forward_kwargs, call.wall_s, (0,))
    own = TestCall(f"{call.id}o", adapter_name(call.func),
                   (gradient, cache, forward_kwargs, dict(kwargs)), {}, call.wall_s, call.save)
    return OwnCache(forward, check, expected, own)


def sandbox_source(source: str, planned: Sequence[Planned]) -> str:
    """The file as the sandbox runs it: the student's text, then the own-cache adapters.

    The adapters come after every line of the student's, so the line numbers of the
    student's tracebacks are unchanged, and the student's own definitions are all in place
    when they run.
    """
    backwards = sorted({p.func for p in planned if p.own_cache is not None})
    if not backwards:
        return source
    adapters = "".join(_ADAPTER.format(name=adapter_name(b), backward=b, forward=FORWARD_OF[b])
                       for b in backwards)
    return source + ("" if source.endswith("\n") else "\n") + adapters


def _calls(p: Planned) -> list[TestCall]:
    if p.own_cache is None:
        return [p.call]
    return [p.call, p.own_cache.forward_call, p.own_cache.call]


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


def _plan_slot(spec: FunctionSpec, slot: TestSlot, limits: SandboxLimits,
               inputs: dict[tuple[str, str], tuple[tuple, dict, tuple]]) -> Planned:
    """``slot`` with its inputs and expected outputs (a speed test shares its case's)."""
    case, key = slot.case, (slot.func, slot.case.name)
    if key not in inputs:
        args, kwargs = build_inputs(spec.name, case)
        inputs[key] = (args, kwargs, _expected(spec, case, args, kwargs))
    args, kwargs, expected = inputs[key]
    wall, save = min(case.time_limit, limits.wall_s), saved_items(spec.result)
    if slot.speed is not None:
        solo = TestCall(slot.call_id, spec.name, args, kwargs, wall, save, solo=True)
        return Planned(spec.name, case, spec.result, solo, args, kwargs, expected, slot.speed,
                       _time_reference(spec.name, args, kwargs), slot.hidden_number)
    call = TestCall(slot.call_id, spec.name, args, kwargs, wall, save)
    return Planned(spec.name, case, spec.result, call, args, kwargs, expected,
                   hidden_number=slot.hidden_number, own_cache=_own_cache(call, args, kwargs))


@functools.lru_cache(maxsize=32)
def plan(exercise: str, functions: tuple[str, ...], include_hidden: bool,
         limits: SandboxLimits) -> tuple[tuple[Planned, ...], WirePlan, WirePlan]:
    """Inputs, expected outputs and the serialized calls: deterministic, so built once.

    Returns the planned tests, then the public calls' wire plan and the hidden calls'.

    The cached input arrays are made read-only; the reference and the diagnosis work on them
    (or on copies) and never write to them.
    """
    spec = load_spec(exercise)
    inputs: dict[tuple[str, str], tuple[tuple, dict, tuple]] = {}
    planned = [_plan_slot(spec.function(slot.func), slot, limits, inputs)
               for slot in plan_slots(spec, functions, include_hidden)]
    for p in planned:
        _freeze(p.args)
        _freeze(tuple(p.kwargs.values()))
    return (tuple(planned), wire_plan([c for p in planned if not p.hidden for c in _calls(p)]),
            wire_plan([c for p in planned if p.hidden for c in _calls(p)]))


def _freeze(value: Any) -> None:
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
    elif isinstance(value, tuple):
        for item in value:
            _freeze(item)
