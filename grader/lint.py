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

from grader.answers import Parsed, lookup
from grader.bank import Problem, load_bank
from grader.errors import ProblemSpecError
from grader.expressions import to_jsonable
from grader.grading import describe_answer, grade, grade_raw, readable
from grader.lint_feedback import template_findings, variant_findings
from grader.variants import Variant, build_variant, rng_for, sample_params

ROUND_TRIP_EVERY = 4  # lint types the displayed answer back in for every 4th seed


@dataclass(frozen=True)
class LintReport:
    """What ``lint`` found for one problem: findings (with a seed to reproduce each)."""

    problem_id: str
    variants: int
    findings: tuple[str, ...]
    tags: frozenset[str]
    distinct: int = 0  # variants actually checked (seeds that drew new parameters)


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
    for seed in range(count):
        try:
            variant = _lint_variant(problem, seed, seen)
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
    return LintReport(problem.id, count, tuple(findings.values())[:10], frozenset(tags),
                      checked)


def _lint_variant(problem: Problem, seed: int, seen: set[str]) -> Variant | None:
    """The variant of ``seed``, or None when an earlier seed drew the very same parameters of a
    problem whose variant depends on nothing else (no statements, no options to shuffle)."""
    rng = rng_for(problem.id, seed)
    env = sample_params(problem, rng, {})
    if not problem.statements and problem.options is None:
        key = repr(to_jsonable(env))
        if key in seen:
            return None
        seen.add(key)
    return build_variant(problem, seed, rng, env)


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
