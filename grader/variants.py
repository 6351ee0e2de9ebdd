"""Variants: one concrete, seeded instance of a problem template.

``generate(problem, seed)`` is a pure function of the problem, the seed and any overrides: it
samples the parameters with ``numpy.random.default_rng([hash of the problem id, seed])``, renders
the prompt, evaluates the answer and the expected mistakes (the author's and the built-in families
of :mod:`grader.mistakes`), and builds the options of a choice problem. A :class:`Variant` holds
only JSON-able data, so it can be stored when first shown and graded later without the YAML.
"""

from __future__ import annotations

import functools
import hashlib
import multiprocessing
import sys
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from grader.errors import ExpressionError, ProblemSpecError
from grader.expressions import same_value, to_jsonable

if TYPE_CHECKING:
    from grader.bank import ParamSpec, Problem

MAX_TRIES = 1000
ROUND_TRIP_EVERY = 4  # lint types the displayed answer back in for every 4th seed


@dataclass(frozen=True)
class Figure:
    """A grid to draw as shaded cells (an edge-detection image, a filter)."""

    name: str
    matrix: tuple[tuple[float, ...], ...]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "matrix": [list(row) for row in self.matrix]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Figure:
        return cls(name=data["name"], matrix=tuple(tuple(row) for row in data["matrix"]))


@dataclass(frozen=True)
class Mistake:
    """An expected wrong answer: its value, a stable tag for statistics and the feedback."""

    tag: str
    value: Any
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"tag": self.tag, "value": self.value, "message": self.message}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Mistake:
        return cls(tag=data["tag"], value=data["value"], message=data["message"])


@dataclass(frozen=True)
class Variant:
    """One seeded instance of a problem, all JSON-able.

    ``prompt`` is plain text with LaTeX math in ``$...$``; ``answer`` is an int, float, list,
    nested list, option text, list of option texts or bool depending on ``answer_type``.
    """

    problem_id: str
    seed: int
    title: str
    topic: str
    answer_type: str
    params: dict[str, Any]
    prompt: str
    answer: Any
    options: tuple[str, ...] | None = None
    mistakes: tuple[Mistake, ...] = ()
    grading: dict[str, Any] = field(default_factory=dict)
    figures: tuple[Figure, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data; ``Variant.from_json(v.to_json()) == v``."""
        return {
            "problem_id": self.problem_id,
            "seed": self.seed,
            "title": self.title,
            "topic": self.topic,
            "answer_type": self.answer_type,
            "params": self.params,
            "prompt": self.prompt,
            "answer": self.answer,
            "options": list(self.options) if self.options is not None else None,
            "mistakes": [m.to_json() for m in self.mistakes],
            "grading": self.grading,
            "figures": [f.to_json() for f in self.figures],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Variant:
        """Rebuild a variant stored with :meth:`to_json`."""
        options = data.get("options")
        return cls(
            problem_id=data["problem_id"],
            seed=int(data["seed"]),
            title=data["title"],
            topic=data["topic"],
            answer_type=data["answer_type"],
            params=dict(data["params"]),
            prompt=data["prompt"],
            answer=data["answer"],
            options=tuple(options) if options is not None else None,
            mistakes=tuple(Mistake.from_json(m) for m in data.get("mistakes", ())),
            grading=dict(data.get("grading") or {}),
            figures=tuple(Figure.from_json(f) for f in data.get("figures", ())),
        )


# ---------------------------------------------------------------------------------------------
# Generation


@functools.lru_cache(maxsize=4096)
def stable_hash(text: str) -> int:
    """A 64-bit hash of ``text`` that is the same in every process (unlike ``hash()``)."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def rng_for(problem_id: str, seed: int) -> np.random.Generator:
    """The random generator of one variant."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return np.random.default_rng([stable_hash(problem_id), int(seed)])


def generate(
    problem: Problem, seed: int, overrides: Mapping[str, Any] | None = None
) -> Variant:
    """Make the variant of ``problem`` for ``seed``.

    Parameters
    ----------
    problem : Problem
        A template loaded by :func:`grader.bank.load_bank`.
    seed : int
        Any non-negative integer; the same seed always gives the same variant.
    overrides : mapping, optional
        Parameter values to use instead of sampled ones (e.g. a worked example ``{"n": 63}``).

    Raises
    ------
    ProblemSpecError
        When the constraints cannot be met, an override names an unknown or derived parameter,
        or an expression fails (ExpressionError).
    """
    rng = rng_for(problem.id, seed)
    env = sample_params(problem, rng, _check_overrides(problem, overrides or {}))
    return build_variant(problem, seed, rng, env)


def build_variant(problem: Problem, seed: int, rng: np.random.Generator,
                  env: dict[str, Any]) -> Variant:
    """The rest of :func:`generate` once the parameters are sampled (``rng`` continues)."""
    statement = _pick_statement(problem, rng)
    context = {**env, **problem.role_values(env)}
    prompt = problem.render_prompt(env, statement)
    if statement is not None:
        raw_answer = statement.answer
    else:
        raw_answer = problem.answer.evaluate(context) if problem.answer is not None else None
    answer = normalize(problem.answer_type, raw_answer)
    mistakes = _mistakes(problem, context, answer, statement)
    options = None
    if problem.answer_type in ("choice", "multiselect"):
        options, answer, mistakes = problem.options.build(problem, context, answer, mistakes, rng)
    return Variant(
        problem_id=problem.id,
        seed=int(seed),
        title=problem.title,
        topic=problem.topic,
        answer_type=problem.answer_type,
        params={name: to_jsonable(value) for name, value in env.items()},
        prompt=prompt,
        answer=answer,
        options=options,
        mistakes=mistakes,
        grading=dict(problem.grading),
        figures=_figures(problem, context),
    )


def _check_overrides(problem: Problem, overrides: Mapping[str, Any]) -> dict[str, Any]:
    specs = {spec.name: spec for spec in problem.params}
    checked: dict[str, Any] = {}
    for name, value in overrides.items():
        spec = specs.get(name)
        if spec is None:
            known = ", ".join(specs) or "none"
            raise ProblemSpecError(
                f"problem {problem.id!r} has no parameter {name!r} (parameters: {known})"
            )
        checked[name] = spec.coerce(value, problem.id)
    return checked


def sample_params(
    problem: Problem, rng: np.random.Generator, overrides: Mapping[str, Any]
) -> dict[str, Any]:
    """Sample every parameter in order, rejecting samples that break a ``where`` constraint."""
    for _ in range(MAX_TRIES):
        env = _try_sample(problem.params, problem.checks, rng, overrides)
        if env is not None:
            return env
    constraints = "; ".join(expr.source for expr in problem.where)
    fixed = f" with {to_jsonable(dict(overrides))}" if overrides else ""
    raise ProblemSpecError(
        f"{problem.source}: problem {problem.id!r}: field 'where': the constraints ({constraints}) "
        f"were not met in {MAX_TRIES} samples{fixed}; widen the parameter ranges or relax them"
    )


def _try_sample(
    params: tuple[ParamSpec, ...], checks: tuple, rng: np.random.Generator,
    overrides: Mapping[str, Any],
) -> dict[str, Any] | None:
    env: dict[str, Any] = {}
    for spec, after in zip(params, checks, strict=True):
        env[spec.name] = overrides[spec.name] if spec.name in overrides else spec.sample(rng, env)
        for constraint in after:
            if constraint.names <= overrides.keys():
                continue  # values set on purpose (a worked example) are not second-guessed
            if not constraint.evaluate(env):
                return None
    return env


def _pick_statement(problem: Problem, rng: np.random.Generator) -> Any:
    if not problem.statements:
        return None
    return problem.statements[int(rng.integers(len(problem.statements)))]


def normalize(answer_type: str, value: Any) -> Any:
    """Bring an expression result into the JSON form of its answer type.

    Integral floats become ints for integer and shape answers; arrays become nested lists.
    A value that does not fit is returned as is, for the linter to report.
    """
    value = to_jsonable(value)
    if answer_type == "integer":
        return _integral(value)
    if answer_type == "shape" and isinstance(value, list):
        return [_integral(v) for v in value]
    if answer_type == "truefalse" and isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    return value


def _integral(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _mistakes(problem: Problem, context: Mapping[str, Any], answer: Any, statement: Any
              ) -> tuple[Mistake, ...]:
    """The author's mistakes, then the built-in families; duplicates and correct values dropped."""
    found: list[Mistake] = []
    memo: dict[str, Any] = {}
    if problem.answer is not None and statement is None:
        memo[problem.answer.source] = answer
    if statement is not None:
        found.append(Mistake(statement.tag, not statement.answer, statement.message))
    for spec in problem.mistakes:
        value = normalize(problem.answer_type, spec.expr.evaluate_cached(context, memo))
        found.append(Mistake(spec.tag, value, spec.message))
    for family in problem.families:
        try:
            value = family.wrong_value(context, answer, memo)
        except (ExpressionError, ValueError, ArithmeticError, TypeError, IndexError):
            continue  # the family does not apply to these parameter values
        if value is not None:
            found.append(Mistake(family.tag, normalize(problem.answer_type, value),
                                 family.message))
    return _distinct(found, answer)


def _distinct(found: list[Mistake], answer: Any) -> tuple[Mistake, ...]:
    kept: list[Mistake] = []
    for mistake in found:
        if mistake.value is None or same_value(mistake.value, answer):
            continue
        if any(same_value(mistake.value, k.value) or mistake.tag == k.tag for k in kept):
            continue
        kept.append(mistake)
    return tuple(kept)


def _figures(problem: Problem, context: Mapping[str, Any]) -> tuple[Figure, ...]:
    figures = []
    for spec in problem.figures:
        matrix = np.atleast_2d(np.asarray(spec.expr.evaluate(context)))
        if matrix.ndim != 2:
            raise ExpressionError(
                f"{spec.expr.where}: a figure must be a matrix, got shape {matrix.shape}"
            )
        figures.append(Figure(spec.name, tuple(tuple(row) for row in to_jsonable(matrix))))
    return tuple(figures)


# ---------------------------------------------------------------------------------------------
# Checking a template over many variants (``grader lint``)


@dataclass(frozen=True)
class LintReport:
    """What ``lint`` found for one problem: findings (with a seed to reproduce each)."""

    problem_id: str
    variants: int
    findings: tuple[str, ...]
    tags: frozenset[str]
    distinct: int = 0  # variants actually checked (seeds that drew new parameters)


_ANSWER_SHAPES = {
    "integer": lambda a: isinstance(a, int) and not isinstance(a, bool),
    "number": lambda a: isinstance(a, (int, float)) and not isinstance(a, bool)
    and bool(np.isfinite(a)),
    "shape": lambda a: isinstance(a, list) and 1 <= len(a) <= 4
    and all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in a),
    "vector": lambda a: isinstance(a, list) and len(a) > 0
    and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in a),
    "matrix": lambda a: isinstance(a, list) and len(a) > 0 and all(
        isinstance(r, list) and len(r) == len(a[0]) > 0
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in r) for r in a),
    "choice": lambda a: isinstance(a, str),
    "multiselect": lambda a: isinstance(a, list) and len(a) > 0,
    "truefalse": lambda a: isinstance(a, bool),
}


def check_variant(variant: Variant) -> list[str]:
    """Problems with one variant: answer form, distinct options, correct scores 1, every
    mistake scores below 1 and gets its own message."""
    from grader.answers import Parsed
    from grader.grading import describe_answer, grade, grade_raw

    found: list[str] = []
    seed = f"seed {variant.seed}"
    if not _ANSWER_SHAPES[variant.answer_type](variant.answer):
        return [f"{seed}: answer {variant.answer!r} is not a valid {variant.answer_type}"]
    if variant.options is not None:
        if len(set(variant.options)) != len(variant.options) or len(variant.options) < 2:
            found.append(f"{seed}: options are not distinct (or fewer than 2): {variant.options}")
        chosen = variant.answer if variant.answer_type == "multiselect" else [variant.answer]
        if any(c not in variant.options for c in chosen):
            found.append(f"{seed}: the answer {variant.answer!r} is not among the options")
    if grade(variant, Parsed(variant.answer, "answer")).score != 1:
        found.append(f"{seed}: the correct answer {variant.answer!r} does not score 1")
    if variant.seed % ROUND_TRIP_EVERY:
        return found + _check_mistakes(variant, grade, Parsed)
    shown = describe_answer(variant)
    try:
        if grade_raw(variant, shown).score != 1:
            found.append(f"{seed}: the answer as shown ({shown!r}) does not score 1 when typed")
    except Exception as exc:  # a display form the parser rejects is a finding, whatever it is
        found.append(f"{seed}: the answer as shown ({shown!r}) cannot be typed back: {exc}")
    return found + _check_mistakes(variant, grade, Parsed)


def _check_mistakes(variant: Variant, grade: Any, parsed_cls: Any) -> list[str]:
    found = []
    for mistake in variant.mistakes:
        if not _ANSWER_SHAPES[variant.answer_type](mistake.value):
            found.append(f"seed {variant.seed}: mistake {mistake.tag!r} can never be typed: "
                         f"its value is not a valid {variant.answer_type} ({mistake.value!r})")
            continue
        result = grade(variant, parsed_cls(mistake.value, "mistake"))
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
    from grader.bank import load_bank

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
