"""Which tests a check runs: the one home of their order, call ids and hidden numbers.

A :class:`TestSlot` is one test before anything is computed for it: the function, the spec's
case, the sandbox call id, the speed challenge it measures (if any), its number among the
function's hidden tests, and the forward whose cache a backward pass takes. :func:`plan_slots`
lists them in plan order from the spec alone, with nothing but the standard library, so a file
that is not run (a fresh stub) is judged without building inputs or running the reference.
:mod:`grader.code.plan` fills each slot with its inputs and expected outputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from grader.code.spec import Case, ExerciseSpec, FunctionSpec, SpeedSpec

# A backward function and the forward whose cache it takes.
FORWARD_OF = {"conv_backward": "conv_forward", "pool_backward": "pool_forward"}


@dataclass(frozen=True)
class TestSlot:
    """One test of a check, in plan order: what it runs and how its report is named."""

    __test__ = False  # not a pytest test class, whatever its name

    func: str
    case: Case
    kind: str
    call_id: str
    speed: SpeedSpec | None = None
    hidden_number: int | None = None  # its number among the function's hidden tests
    forward: str | None = None  # backward passes: the forward whose cache they take

    @property
    def hidden(self) -> bool:
        return self.hidden_number is not None


def function_slots(spec: FunctionSpec, include_hidden: bool, start: int = 0
                   ) -> list[TestSlot]:
    """``spec``'s tests in order: each case, then the speed challenge right after its case.

    Call ids are ``t<start>``, ``t<start + 1>``, ...; hidden tests are numbered from 1 per
    function, a hidden speed challenge included.
    """
    slots: list[TestSlot] = []

    def number(public: bool) -> int | None:
        return None if public else 1 + sum(s.hidden for s in slots)

    for case in spec.cases:
        if not (case.public or include_hidden):
            continue
        slots.append(TestSlot(spec.name, case, spec.result, f"t{start + len(slots)}",
                              hidden_number=number(case.public),
                              forward=FORWARD_OF.get(spec.name)))
        speed = spec.speed
        public = bool(speed) and speed.public and case.public
        if speed and speed.case == case.name and (public or include_hidden):
            slots.append(TestSlot(spec.name, case, spec.result, f"t{start + len(slots)}",
                                  speed, number(public)))
    return slots


def plan_slots(spec: ExerciseSpec, functions: Sequence[str], include_hidden: bool
               ) -> tuple[TestSlot, ...]:
    """Every test of ``functions`` (in that order) of the exercise ``spec``."""
    slots: list[TestSlot] = []
    for name in functions:
        slots.extend(function_slots(spec.function(name), include_hidden, len(slots)))
    return tuple(slots)

