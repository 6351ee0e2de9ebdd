"""Compiled problems: the one home of the types a loaded bank is made of (data only).

:mod:`grader.bank.load` builds these from validated YAML once (grading settings included, as
:class:`~grader.answers.GradingRules`); :mod:`grader.variants` turns a
:class:`Problem` into a variant. Nothing here samples, renders or grades.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2

from grader.answers import GradingRules
from grader.attempts import AttemptPolicy, PolicySpec
from grader.expressions import Expr
from grader.mistakes import Family


@dataclass(frozen=True, eq=False)
class ParamSpec:
    """One parameter: how it is drawn (``kind`` int/choice/array/derived) and its bounds."""

    name: str
    kind: str
    values: tuple[Any, ...] = ()
    shape: tuple[int | str, ...] = ()
    low: int = 0
    high: int = 0
    expr: Expr | None = None


@dataclass(frozen=True, eq=False)
class MistakeSpec:
    tag: str
    expr: Expr
    message: str


@dataclass(frozen=True, eq=False)
class Statement:
    text: str
    answer: bool
    message: str
    tag: str


@dataclass(frozen=True, eq=False)
class FigureSpec:
    name: str
    expr: Expr


@dataclass(frozen=True, eq=False)
class OptionSpec:
    template: jinja2.Template
    correct: bool
    message: str | None
    tag: str


@dataclass(frozen=True, eq=False)
class Options:
    """How a choice/multiselect problem builds its options: ``static`` options (``pick`` of
    them shown) or a ``template`` filled with the answer and ``count - 1`` distractors."""

    where: str
    static: tuple[OptionSpec, ...] = ()
    template: jinja2.Template | None = None
    count: int = 4
    distractors: tuple[Expr, ...] = ()
    pick: int | None = None
    shuffle: bool = True


@dataclass(frozen=True, eq=False)
class AuthorTest:
    """One of a template's ``tests:``: these parameters, this answer as typed, must be graded
    with ``score`` and ``mistake`` (None: no mistake tag)."""

    params: Mapping[str, Any]
    answer: str
    score: float
    mistake: str | None = None


@dataclass(frozen=True, eq=False)
class Problem:
    """A compiled problem template; make variants with :func:`grader.variants.generate`."""

    id: str
    title: str
    topic: str
    answer_type: str
    source: Path
    prompt_template: jinja2.Template
    params: tuple[ParamSpec, ...] = ()
    checks: tuple[tuple[Expr, ...], ...] = ()
    where: tuple[Expr, ...] = ()
    roles: tuple[tuple[str, Expr], ...] = ()
    answer: Expr | None = None
    rules: GradingRules = GradingRules()
    mistakes: tuple[MistakeSpec, ...] = ()
    families: tuple[Family, ...] = ()
    options: Options | None = None
    statements: tuple[Statement, ...] = ()
    figures: tuple[FigureSpec, ...] = ()
    practice: bool = True  # False: never offered in practice mode
    attempt_spec: PolicySpec | None = None  # what the problem says about attempts
    solution_template: jinja2.Template | None = None  # the worked solution, if any
    tests: tuple[AuthorTest, ...] = ()  # the author's tests, checked by lint
    draft: bool = False  # True: instructors only (never students, never practice)


@dataclass(frozen=True)
class SetItem:
    """One problem of a set; ``policy`` is resolved by the loader (item, set, problem, default)
    and ``attempts`` is its number of attempts."""

    problem_id: str
    points: float = 1.0
    attempts: int = 3
    spec: PolicySpec | None = None  # what the item itself says about attempts
    policy: AttemptPolicy = AttemptPolicy()


@dataclass(frozen=True)
class ProblemSet:
    id: str
    title: str
    items: tuple[SetItem, ...]
    due: datetime | None
    source: Path
    description: str = ""
    practice: bool = True  # False: none of its problems is offered in practice mode
    attempt_spec: PolicySpec | None = None  # the set's default for its items
    release: datetime | None = None  # students see the set from then on (None: at once)
    hidden: bool = False  # True: students never see the set


@dataclass(frozen=True)
class Bank:
    """Loaded problems and sets. A bank loaded in part (at start-up, with broken files) also lists
    the problems it could not load (``unavailable``: id -> the first finding) and every finding
    (``errors``); a published bank has neither."""

    problems: Mapping[str, Problem]
    sets: Mapping[str, ProblemSet]
    unavailable: Mapping[str, str] = field(default_factory=dict)
    errors: tuple[str, ...] = ()

    def by_topic(self, topic: str) -> list[Problem]:
        return [p for p in self.problems.values() if p.topic == topic]
