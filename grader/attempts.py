"""Attempt policies: the one home of how many attempts a problem takes and what each is worth.

A policy is either a list of points per attempt (``points: [3, 2, 1]``: the first attempt can
earn 3 points, the second 2, the third and any later one 1) or a penalty per wrong try (Moodle's
way: ``penalty: 0.25`` takes a quarter of the points off for every earlier wrong answer), with a
number of attempts. A stored answer keeps its own score (the fraction of the problem it got
right); what it earns is that score times what its attempt was worth, and a student's credit on a
problem is the best over their attempts. Keeping the two apart means a regrade or a policy change
never rewrites history.

Where a policy is said: on a set item, as the set's default, on the problem, or nowhere. The most
specific statement of each field wins (:func:`resolve`). Unsaid, a problem takes 3 attempts with
no penalty, except true/false and single-choice problems: one attempt, since a second try at a
true/false question is a sure thing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

DEFAULT_ATTEMPTS = 3
# Answer types a guess gets right too often for free retries: one attempt unless a policy says so.
GUESSABLE_TYPES = frozenset({"truefalse", "choice"})


@dataclass(frozen=True)
class PolicySpec:
    """What one place (set item, set, problem) says about attempts; None: it says nothing.

    ``worth`` is the fraction of the problem's points each attempt can earn, first to last
    (``(1.0, 0.667, 0.333)`` for ``points: [3, 2, 1]``); ``penalty`` the fraction lost per wrong
    try. A spec gives at most one of the two.
    """

    attempts: int | None = None
    worth: tuple[float, ...] | None = None
    penalty: float | None = None

    def __post_init__(self) -> None:
        if self.worth is not None and self.penalty is not None:
            raise ValueError("give either points per attempt or a penalty per wrong try, not both")

    @classmethod
    def from_points(cls, points: Iterable[float], attempts: int | None = None) -> PolicySpec:
        """The spec of absolute points per attempt (``[3, 2, 1]``), as fractions of the first."""
        points = tuple(float(p) for p in points)
        if not points or points[0] <= 0:
            raise ValueError("points per attempt must start with a positive number")
        return cls(attempts=attempts, worth=tuple(p / points[0] for p in points))


@dataclass(frozen=True)
class AttemptPolicy:
    """A resolved policy: ``attempts`` allowed; each attempt's worth from ``worth`` (the last
    entry repeats) when given, else ``1 - penalty * (attempt - 1)``, never below 0."""

    attempts: int = DEFAULT_ATTEMPTS
    worth: tuple[float, ...] = ()
    penalty: float = 0.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"a problem takes at least one attempt, got {self.attempts}")
        if not 0.0 <= self.penalty <= 1.0:
            raise ValueError(f"a penalty is a fraction between 0 and 1, got {self.penalty}")
        if any(not 0.0 <= w <= 1.0 for w in self.worth):
            raise ValueError(f"each attempt is worth between 0 and 1 of the points: {self.worth}")

    def value(self, attempt: int) -> float:
        """The fraction of the points attempt number ``attempt`` (from 1) can earn."""
        if attempt < 1:
            raise ValueError(f"attempts count from 1, got {attempt}")
        if self.worth:
            return self.worth[min(attempt, len(self.worth)) - 1]
        return max(0.0, 1.0 - self.penalty * (attempt - 1))

    def credit(self, attempt: int, score: float) -> float:
        """What an answer scoring ``score`` (0..1) on attempt ``attempt`` earns (0..1)."""
        return max(0.0, min(1.0, float(score))) * self.value(attempt)

    def best(self, answers: Iterable[tuple[int, float]]) -> float:
        """A student's credit on the problem: the best over (attempt, score) pairs, 0 if none."""
        return max((self.credit(a, s) for a, s in answers), default=0.0)

    def with_extra(self, extra: int) -> AttemptPolicy:
        """The policy with ``extra`` more attempts (a per-student allowance); later attempts are
        worth what the last listed one is, or continue the penalty."""
        return replace(self, attempts=self.attempts + max(0, int(extra)))

    @property
    def decreasing(self) -> bool:
        """Whether later attempts are worth less than the first."""
        if self.worth:
            return any(w < self.worth[0] for w in self.worth[: self.attempts])
        return self.penalty > 0 and self.attempts > 1


def resolve(answer_type: str, *specs: PolicySpec | None) -> AttemptPolicy:
    """The policy from ``specs``, most specific first (item, set, problem); each field comes from
    the first spec that says it; unsaid, :data:`DEFAULT_ATTEMPTS` without penalty, or one attempt
    for :data:`GUESSABLE_TYPES`. A list of points gives as many attempts as it has entries unless
    an attempt count is said as specifically."""
    said = [s for s in specs if s is not None]
    attempts: int | None = None
    scheme: PolicySpec | None = None
    for spec in said:
        if attempts is None and spec.attempts is not None:
            attempts = spec.attempts
        if scheme is None and (spec.worth is not None or spec.penalty is not None):
            scheme = spec
            if attempts is None and spec.worth is not None:
                attempts = len(spec.worth)
    if attempts is None:
        attempts = 1 if answer_type in GUESSABLE_TYPES else DEFAULT_ATTEMPTS
    if scheme is None:
        return AttemptPolicy(attempts)
    if scheme.worth is not None:
        return AttemptPolicy(attempts, worth=scheme.worth)
    return AttemptPolicy(attempts, penalty=float(scheme.penalty or 0.0))


def next_attempt_note(policy: AttemptPolicy, used: int, points: float) -> str:
    """A sentence on what the next attempt can earn, for the problem page ("" when nothing is
    left to say: no attempt left, or every attempt is worth the full points)."""
    if used >= policy.attempts:
        return ""
    worth = policy.value(used + 1)
    if not policy.decreasing:
        return ""
    earn = format_points(worth * points)
    whole = format_points(points)
    return f"Attempt {used + 1} can earn {earn} of {whole} point{'' if points == 1 else 's'}."


def format_points(value: float) -> str:
    """Points as people write them: 2, 0.5, 0.67 (two decimals at most, no trailing zeros)."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text or "0"
