"""The bank linter: the one home of checking a template over many of its variants.

``grader lint`` generates hundreds of variants of every problem and checks each: the answer has
the form of its type, options are distinct and contain the answer, the correct answer scores 1
(also when typed back as displayed), and every expected mistake scores below 1 with its own
message. A systematic finding is reported once, with the first seed that shows it.
"""

from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from grader.answers import Parsed, lookup
from grader.bank import Problem, load_bank
from grader.errors import FormatError, ProblemSpecError
from grader.expressions import to_jsonable
from grader.grading import describe_answer, grade, grade_raw, readable
from grader.lint_feedback import template_findings, variant_findings
from grader.variants import Variant, build_variant, generate, rng_for, sample_params

ROUND_TRIP_EVERY = 4  # lint types the displayed answer back in for every 4th seed


@dataclass(frozen=True)
class LintReport:
    """What ``lint`` found for one problem: findings (with a seed to reproduce each)."""

    problem_id: str
    variants: int
    findings: tuple[str, ...]
    tags: frozenset[str]
    distinct: int = 0  # variants actually checked (seeds that drew new parameters)
    degenerate: tuple[str, ...] = ()  # the findings about degenerate draws (not failures)


def check_variant(variant: Variant) -> list[str]:
    """Problems with one variant: answer form, distinct options, correct scores 1, every
    mistake scores below 1 and gets its own message."""
    found: list[str] = []
    seed = f"seed {variant.seed}"
    kind = lookup(variant.answer_type)
    if not kind.valid(variant.answer):
        return [f"{seed}: answer {variant.answer!r} is not a valid {variant.answer_type}"]
    if variant.options is not None:
        if len(set(variant.options)) != len(variant.options) or len(variant.options) < 2:
            found.append(f"{seed}: options are not distinct (or fewer than 2): {variant.options}")
        chosen = variant.answer if kind.multiple else [variant.answer]
        if any(c not in variant.options for c in chosen):
            found.append(f"{seed}: the answer {variant.answer!r} is not among the options")
    found += variant_findings(variant)
    if grade(variant, Parsed(variant.answer, "answer")).score != 1:
        found.append(f"{seed}: the correct answer {variant.answer!r} does not score 1")
    if variant.seed % ROUND_TRIP_EVERY:
        return found + _check_mistakes(variant)
    shown = describe_answer(variant)
    try:
        if grade_raw(variant, shown).score != 1:
            found.append(f"{seed}: the answer as shown ({shown!r}) does not score 1 when typed")
    except Exception as exc:  # a display form the parser rejects is a finding, whatever it is
        found.append(f"{seed}: the answer as shown ({shown!r}) cannot be typed back: {exc}")
    return found + _check_mistakes(variant)


def _check_mistakes(variant: Variant) -> list[str]:
    found = []
    for mistake in variant.mistakes:
        if not readable(variant.answer_type, mistake.value):
            found.append(f"seed {variant.seed}: mistake {mistake.tag!r} can never be typed: "
                         f"its value is not a valid {variant.answer_type} ({mistake.value!r})")
            continue
        result = grade(variant, Parsed(mistake.value, "mistake"))
        if result.score >= 1:
            found.append(f"seed {variant.seed}: mistake {mistake.tag!r} ({mistake.value!r}) "
                         "scores 1")
        elif result.mistake != mistake.tag or mistake.message not in result.feedback:
            found.append(f"seed {variant.seed}: mistake {mistake.tag!r} ({mistake.value!r}) is "
                         f"graded as {result.mistake!r}, not with its own message")
    return found


def lint_problem(problem: Problem, count: int = 500) -> LintReport:
    """Generate ``count`` variants (seeds 0..count-1) and check each; findings are grouped so a
    systematic error is reported once with the first seed that shows it."""
    findings: dict[str, str] = {}
    tags: set[str] = set()
    seen: set[str] = set()
    checked = 0
    degenerate = Degeneracy(problem)
    for seed in range(count):
        try:
            variant = _lint_variant(problem, seed, seen, degenerate)
        except ProblemSpecError as exc:
            findings.setdefault(str(exc), f"seed {seed}: {exc}")
            break
        if variant is None:
            continue
        checked += 1
        tags.update(m.tag for m in variant.mistakes)
        for finding in check_variant(variant):
            key = finding.split(": ", 1)[1][:60]
            findings.setdefault(key, finding)
    if checked:
        findings.update((f, f) for f in template_findings(problem.answer_type, tags))
    draws = degenerate.findings(checked)
    for finding in author_test_findings(problem) + draws:
        findings.setdefault(finding, finding)
    kept = tuple(findings.values())[:10]
    return LintReport(problem.id, count, kept, frozenset(tags), checked,
                      tuple(f for f in kept if f in draws))


def _lint_variant(problem: Problem, seed: int, seen: set[str],
                  degenerate: Degeneracy | None = None) -> Variant | None:
    """The variant of ``seed``, or None when an earlier seed drew the very same parameters of a
    problem whose variant depends on nothing else (no statements, no options to shuffle)."""
    rng = rng_for(problem.id, seed)
    env = sample_params(problem, rng, {})
    if not problem.statements and problem.options is None:
        key = repr(to_jsonable(env))
        if key in seen:
            return None
        seen.add(key)
    collisions: list[str] = []
    variant = build_variant(problem, seed, rng, env, collisions)
    if degenerate is not None:
        degenerate.observe(seed, env, collisions, variant)
    return variant


# ---------------------------------------------------------------------------------------------
# Degenerate variants and the author's tests

COLLISION_SHARE = 0.02  # a mistake may equal the answer in at most this share of the variants


class Degeneracy:
    """Counts, over the variants linted, the draws that defeat a template: a mistake equal to the
    answer (its feedback can never show), an array parameter that is constant (all zero
    included), computed options that could not all be told apart."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.collided: dict[str, list[int]] = {}
        self.constant: dict[str, list[int]] = {}
        self.few_options: list[int] = []
        self.arrays = [p.name for p in problem.params if p.kind == "array"]
        self.scalars: dict[int, dict[str, Any]] = {}  # seed -> its int and scalar choice values

    def observe(self, seed: int, env: Mapping[str, Any], collisions: list[str],
                variant: Variant) -> None:
        self.scalars[seed] = {p.name: env[p.name] for p in self.problem.params
                              if p.kind in ("int", "choice") and np.ndim(env[p.name]) == 0}
        for tag in dict.fromkeys(collisions):
            self.collided.setdefault(tag, []).append(seed)
        for name in self.arrays:
            values = np.asarray(env[name])
            if values.size >= 2 and np.all(values == values.flat[0]):
                self.constant.setdefault(name, []).append(seed)
        options = self.problem.options
        if (options is not None and not options.static and variant.options is not None
                and len(variant.options) < options.count):
            self.few_options.append(seed)

    def findings(self, checked: int) -> list[str]:
        found = []
        for tag, seeds in self.collided.items():
            # A mistake that never applies (a family about padding when there is none) is not a
            # degenerate draw; one that collides now and then by the luck of drawn arrays is.
            if (self.arrays and COLLISION_SHARE * checked < len(seeds) < checked
                    and not self._by_design(seeds)):
                found.append(f"seed {seeds[0]}: mistake {tag!r} equals the answer in "
                             f"{len(seeds)} of {checked} variants, so its feedback never shows "
                             "there; exclude those draws with a 'where' constraint")
        for name, seeds in self.constant.items():
            found.append(f"seed {seeds[0]}: array parameter {name!r} is constant in "
                         f"{len(seeds)} of {checked} variants; exclude those draws with a "
                         f"'where' constraint (e.g. amax({name}) > -amax(-{name}))")
        if self.few_options:
            found.append(f"seed {self.few_options[0]}: fewer than {self.problem.options.count} "
                         f"distinct options in {len(self.few_options)} of {checked} variants "
                         "(the distractors collide)")
        return found


    def _by_design(self, seeds: list[int]) -> bool:
        """Whether the mistake collides exactly when one drawn number has one value (a padding
        family when ``pad`` is 0): the mistake does not apply then, by design."""
        first = self.scalars[seeds[0]]
        for name, value in first.items():
            if all(self.scalars[s].get(name) == value for s in seeds):
                with_value = sum(v.get(name) == value for v in self.scalars.values())
                if len(seeds) >= 0.9 * with_value:
                    return True
        return False


def author_test_findings(problem: Problem) -> list[str]:
    """The template's own ``tests:`` (like STACK's question tests): each gives parameters and an
    answer as typed, with the score and mistake tag it must get."""
    found = []
    for i, test in enumerate(problem.tests):
        label = f"test {i + 1} ({test.answer!r})"
        try:
            variant = generate(problem, 0, test.params)
            result = grade_raw(variant, test.answer)
        except FormatError as exc:
            found.append(f"{label}: the answer cannot be read: {exc}")
            continue
        except ProblemSpecError as exc:
            found.append(f"{label}: the variant cannot be made: {exc}")
            continue
        if abs(result.score - test.score) > 1e-9:
            found.append(f"{label}: scores {result.score:g}, the test expects {test.score:g}")
        if (result.mistake or None) != test.mistake:
            found.append(f"{label}: is graded with mistake {result.mistake!r}, the test expects "
                         f"{test.mistake!r}")
    return found


_WORKER_BANK: dict[str, Problem] = {}


def _init_worker(root: str) -> None:
    _WORKER_BANK.update(load_bank(Path(root)).problems)


def _lint_in_worker(problem_id: str, count: int) -> LintReport:
    return lint_problem(_WORKER_BANK[problem_id], count)


def lint_problems(problems: Mapping[str, Problem], count: int = 500, jobs: int = 1,
                  root: Path | None = None) -> dict[str, LintReport]:
    """Lint several problems, in ``jobs`` worker processes when ``jobs > 1`` (each worker loads
    the bank from ``root`` itself, since compiled templates cannot be sent between processes)."""
    ids = list(problems)
    if jobs <= 1 or root is None or len(ids) < 2:
        return {pid: lint_problem(problems[pid], count) for pid in ids}
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_init_worker,
                             initargs=(str(root),)) as pool:
        reports = pool.map(_lint_in_worker, ids, [count] * len(ids))
        return dict(zip(ids, reports, strict=True))
