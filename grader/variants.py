"""Variants: one concrete, seeded instance of a problem template.

``generate(problem, seed)`` is a pure function of the problem, the seed and any overrides: it
samples the parameters with ``numpy.random.default_rng([hash of the problem id, seed])``, renders
the prompt, evaluates the answer and the expected mistakes (the author's and the built-in families
of :mod:`grader.mistakes`), and builds the options of a choice problem. This module is the one
home of per-variant behaviour: everything that turns a compiled :class:`~grader.bank.Problem`
into a variant is here. A :class:`Variant` holds only JSON-able data, so it can be stored when
first shown and graded later without the YAML.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import jinja2
import numpy as np

from grader.answers import GradingRules, lookup
from grader.answers.detectors import general_mistakes
from grader.bank.problem import Options, OptionSpec, ParamSpec, Problem, Statement
from grader.errors import ExpressionError, GraderError, ProblemSpecError
from grader.expressions import same_value, to_jsonable
from grader.mistakes import standard_context
from grader.prompts import render

MAX_TRIES = 1000


class IncompatibleVariant(GraderError):
    """A stored variant the current problem can no longer grade: a parameter was removed or
    added, the answer type changed, or the options the student saw are no longer built."""


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
    rules: GradingRules = GradingRules()
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
            "grading": self.rules.to_json(),
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
            rules=GradingRules.from_json(data.get("grading")),
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
                  env: dict[str, Any], collisions: list[str] | None = None) -> Variant:
    """The rest of :func:`generate` once the parameters are sampled (``rng`` continues).

    ``collisions``, when given, receives the tag of every mistake whose value equals the answer
    for these parameters (dropped, so its feedback cannot show: the linter counts them)."""
    statement = _pick_statement(problem, rng)
    context = {**env, **role_values(problem, env)}
    prompt = render_prompt(problem, env, statement)
    if statement is not None:
        raw_answer = statement.answer
    else:
        raw_answer = problem.answer.evaluate(context) if problem.answer is not None else None
    answer = normalize(problem.answer_type, raw_answer)
    mistakes = _mistakes(problem, context, answer, statement, collisions)
    options = None
    if problem.options is not None:
        options, answer, mistakes = build_options(problem, context, answer, mistakes, rng)
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
        rules=problem.rules,
        figures=_figures(problem, context),
    )


def regraded_variant(problem: Problem, stored: Variant) -> Variant:
    """``stored`` (the variant a student saw) with its expected answer, mistakes and grading
    rules taken from the current ``problem``, evaluated on the stored parameters.

    Nothing is drawn again: the parameters, prompt, options and figures stay the ones shown, so a
    widened ``choice`` list or a reworded prompt changes nothing, while a corrected answer
    expression changes the expected answer. Raises :class:`IncompatibleVariant` (with a
    sentence) when the current problem cannot grade the stored variant.
    """
    if problem.answer_type != stored.answer_type:
        raise IncompatibleVariant(f"the answer type changed from {stored.answer_type!r} to "
                                  f"{problem.answer_type!r}")
    names = [spec.name for spec in problem.params]
    removed = [name for name in stored.params if name not in names]
    added = [name for name in names if name not in stored.params]
    if removed or added:
        parts = ([f"parameter {', '.join(map(repr, removed))} removed"] if removed else []) + (
            [f"parameter {', '.join(map(repr, added))} added"] if added else [])
        raise IncompatibleVariant("; ".join(parts))
    env = {spec.name: _stored_value(spec, stored.params[spec.name]) for spec in problem.params}
    try:
        return _regraded(problem, stored, env)
    except (ExpressionError, ValueError, ArithmeticError, TypeError, IndexError,
            KeyError) as exc:
        raise IncompatibleVariant(f"the current problem fails on the stored parameters: {exc}"
                                  ) from exc


def _regraded(problem: Problem, stored: Variant, env: dict[str, Any]) -> Variant:
    statement = _statement_shown(problem, stored.prompt)
    context = {**env, **role_values(problem, env)}
    if statement is not None:
        raw_answer = statement.answer
    else:
        raw_answer = problem.answer.evaluate(context) if problem.answer is not None else None
    answer = normalize(problem.answer_type, raw_answer)
    mistakes = _mistakes(problem, context, answer, statement)
    if problem.options is not None:
        answer, mistakes = _options_seen(problem, context, answer, mistakes, stored)
    return replace(stored, title=problem.title, topic=problem.topic, answer=answer,
                   mistakes=mistakes, rules=problem.rules)


def _stored_value(spec: ParamSpec, value: Any) -> Any:
    """A stored (JSON) parameter value as sampling made it: lists become arrays."""
    return np.asarray(value) if isinstance(value, list) else value


def _statement_shown(problem: Problem, prompt: str) -> Statement | None:
    """The true/false statement in a stored prompt (the longest that appears in it)."""
    if not problem.statements:
        return None
    shown = [s for s in problem.statements if s.text.strip() and s.text.strip() in prompt]
    if not shown:
        raise IncompatibleVariant("none of the problem's statements is in the prompt shown")
    return max(shown, key=lambda s: len(s.text.strip()))


def _options_seen(problem: Problem, context: Mapping[str, Any], answer: Any,
                  mistakes: tuple[Mistake, ...], stored: Variant) -> tuple[Any, tuple]:
    """The answer and mistakes among the options the student saw (in the order shown)."""
    options, kind, seen = problem.options, lookup(problem.answer_type), list(stored.options or ())
    if options.static:
        specs = {_option_text(options, o.template, context): o for o in options.static}
        missing = [text for text in seen if text not in specs]
        if missing:
            raise IncompatibleVariant(f"the option {missing[0]!r} shown is no longer one of the "
                                      "problem's options")
        right = [text for text in seen if specs[text].correct]
        found = []
        for text in seen:
            spec = specs[text]
            value = kind.mistake_of(text, spec.correct, seen, right)
            if spec.message is not None and value is not None:
                found.append(Mistake(spec.tag, value, spec.message))
        return kind.answer_of(right), tuple(found)
    _texts, correct, found = _computed_options(options, context, answer, mistakes,
                                               rng_for(problem.id, stored.seed))
    if correct not in seen:
        raise IncompatibleVariant(f"the answer {correct!r} is not among the options shown")
    return correct, tuple(m for m in found if m.value in seen)


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
        checked[name] = _coerce(spec, value, problem.id)
    return checked


def sample_params(
    problem: Problem, rng: np.random.Generator, overrides: Mapping[str, Any]
) -> dict[str, Any]:
    """Sample every parameter in order, rejecting samples that break a ``where`` constraint."""
    fixed = _fixed_names(problem.params, overrides)
    for _ in range(MAX_TRIES):
        env = _try_sample(problem.params, problem.checks, rng, overrides, fixed)
        if env is not None:
            return env
    constraints = "; ".join(expr.source for expr in problem.where)
    fixed = f" with {to_jsonable(dict(overrides))}" if overrides else ""
    raise ProblemSpecError(
        f"{problem.source}: problem {problem.id!r}: field 'where': the constraints ({constraints}) "
        f"were not met in {MAX_TRIES} samples{fixed}; widen the parameter ranges or relax them"
    )


def _fixed_names(params: tuple[ParamSpec, ...], overrides: Mapping[str, Any]) -> set[str]:
    """The overridden parameters and the derived ones computed from them alone."""
    fixed = set(overrides)
    for spec in params:
        if spec.kind == "derived" and spec.expr is not None and spec.expr.names <= fixed:
            fixed.add(spec.name)
    return fixed


def _try_sample(
    params: tuple[ParamSpec, ...], checks: tuple, rng: np.random.Generator,
    overrides: Mapping[str, Any], fixed: set[str] | frozenset[str] = frozenset(),
) -> dict[str, Any] | None:
    env: dict[str, Any] = {}
    for spec, after in zip(params, checks, strict=True):
        env[spec.name] = overrides[spec.name] if spec.name in overrides else _sample(spec, rng, env)
        for constraint in after:
            if constraint.names <= (fixed or overrides.keys()):
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
    return lookup(answer_type).normalize(to_jsonable(value))


def _mistakes(problem: Problem, context: Mapping[str, Any], answer: Any, statement: Any,
              collisions: list[str] | None = None) -> tuple[Mistake, ...]:
    """The author's mistakes, then the built-in families, then the general detectors; correct
    values and repeated values dropped, and a tag one source names is not named again by a later
    one (the author's bias-forgotten replaces the family's). One source may give a tag several
    values: an index off by one either way, padding on the left only or on the right only."""
    found: list[tuple[int, Mistake]] = []
    memo: dict[str, Any] = {}
    if problem.answer is not None and statement is None:
        memo[problem.answer.source] = answer
    if statement is not None:
        found.append((0, Mistake(statement.tag, not statement.answer, statement.message)))
    for spec in problem.mistakes:
        value = normalize(problem.answer_type, spec.expr.evaluate_cached(context, memo))
        found.append((1, Mistake(spec.tag, value, spec.message)))
    for family in problem.families:
        try:
            value = family.wrong_value(context, answer, memo)
        except (ExpressionError, ValueError, ArithmeticError, TypeError, IndexError):
            continue  # the family does not apply to these parameter values
        if value is not None:
            found.append((2, Mistake(family.tag, normalize(problem.answer_type, value),
                                     family.message)))
    general: list[Mistake] = []
    if problem.answer is not None and statement is None:
        general = [Mistake(tag, normalize(problem.answer_type, value), message)
                   for tag, value, message in general_mistakes(
                       problem.answer, problem.answer_type, context, answer, memo)]
        found.extend((3, mistake) for mistake in general)
    kept = _distinct(found, answer, collisions)
    if collisions is not None and general:
        # The general detectors fit any template; only its own mistakes and families are counted.
        tags = {m.tag for m in general}
        collisions[:] = [tag for tag in collisions if tag not in tags]
    return kept


def _distinct(found: list[tuple[int, Mistake]], answer: Any,
              collisions: list[str] | None = None) -> tuple[Mistake, ...]:
    kept: list[tuple[int, Mistake]] = []
    for source, mistake in found:
        if mistake.value is None:
            continue
        if same_value(mistake.value, answer):
            if collisions is not None:
                collisions.append(mistake.tag)
            continue
        if any(same_value(mistake.value, k.value) or (mistake.tag == k.tag and source != s)
               for s, k in kept):
            continue
        kept.append((source, mistake))
    return tuple(mistake for _, mistake in kept)


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
# Parameters


def _sample(spec: ParamSpec, rng: np.random.Generator, env: Mapping[str, Any]) -> Any:
    """One parameter's value for this variant (``env`` holds the earlier parameters)."""
    if spec.kind in ("int", "choice"):
        value = spec.values[int(rng.integers(len(spec.values)))]
        return np.asarray(value) if isinstance(value, list) else value
    if spec.kind == "array":
        shape = tuple(int(env[d]) if isinstance(d, str) else d for d in spec.shape)
        return rng.integers(spec.low, spec.high + 1, size=shape, dtype=np.int64)
    return spec.expr.evaluate(env)


def _coerce(spec: ParamSpec, value: Any, problem_id: str) -> Any:
    """An override value, checked loosely against the kind (any int for an int param)."""
    where = f"problem {problem_id!r}: parameter {spec.name!r}"
    if spec.kind == "derived":
        raise ProblemSpecError(f"{where} is derived from the others and cannot be set")
    if spec.kind == "int":
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ProblemSpecError(f"{where} must be an integer, got {value!r}")
        return int(value)
    if spec.kind == "array":
        array = np.asarray(value)
        if array.ndim != len(spec.shape) or not np.issubdtype(array.dtype, np.number):
            raise ProblemSpecError(
                f"{where} must be a {len(spec.shape)}D array of numbers, got {value!r}")
        return array
    return np.asarray(value) if isinstance(value, list) else value


# ---------------------------------------------------------------------------------------------
# Roles and the prompt


def role_values(problem: Problem, env: Mapping[str, Any]) -> dict[str, Any]:
    """Standard names (defaults such as s=1, p=0, then ``roles:``) for answers and families."""
    values = standard_context(env)
    scope = {**env, **values}
    for name, expr in problem.roles:
        values[name] = scope[name] = expr.evaluate(scope)
    return values


def render_prompt(problem: Problem, env: Mapping[str, Any], statement: Statement | None) -> str:
    """The prompt text of a variant (with the drawn statement of a true/false problem)."""
    context = dict(env)
    if statement is not None:
        context["statement"] = statement.text
    return render(problem.prompt_template, context,
                  f"{problem.source}: problem {problem.id!r}: field 'prompt'")


# ---------------------------------------------------------------------------------------------
# Options of choice and multiselect problems

Built = tuple[tuple[str, ...], Any, tuple[Mistake, ...]]  # option texts, answer, mistakes


def build_options(problem: Problem, context: Mapping[str, Any], answer: Any,
                  mistakes: tuple[Mistake, ...], rng: np.random.Generator) -> Built:
    """The options shown, the answer in option texts, and the mistakes as option texts."""
    if problem.options.static:
        return _static_options(problem, context, rng)
    return _computed_options(problem.options, context, answer, mistakes, rng)


def _option_text(options: Options, template: jinja2.Template, context: Mapping[str, Any],
                 **extra: Any) -> str:
    return " ".join(render(template, {**context, **extra}, options.where).split())


def _static_options(problem: Problem, context: Mapping[str, Any],
                    rng: np.random.Generator) -> Built:
    options, kind = problem.options, lookup(problem.answer_type)
    chosen = list(options.static)
    if options.pick is not None and options.pick < len(chosen):
        chosen = _pick(options, kind.multiple, rng)
    if options.shuffle:
        chosen = [chosen[i] for i in rng.permutation(len(chosen))]
    texts = [_option_text(options, o.template, context) for o in chosen]
    right = [t for t, o in zip(texts, chosen, strict=True) if o.correct]
    found = []
    for text, option in zip(texts, chosen, strict=True):
        value = kind.mistake_of(text, option.correct, texts, right)
        if option.message is not None and value is not None:
            found.append(Mistake(option.tag, value, option.message))
    return tuple(texts), kind.answer_of(right), tuple(found)


def _pick(options: Options, multiple: bool, rng: np.random.Generator) -> list[OptionSpec]:
    """``options.pick`` of the static options: one correct for a single choice, else a random
    number of correct ones that leaves room for at least one wrong option."""
    right = [o for o in options.static if o.correct]
    wrong = [o for o in options.static if not o.correct]
    if not multiple:
        n_right = 1
    else:
        low, high = max(1, options.pick - len(wrong)), min(len(right), options.pick - 1)
        n_right = int(rng.integers(low, high + 1))
    take_right = rng.choice(len(right), size=n_right, replace=False)
    take_wrong = rng.choice(len(wrong), size=options.pick - n_right, replace=False)
    picked = {id(right[i]) for i in take_right} | {id(wrong[i]) for i in take_wrong}
    return [o for o in options.static if id(o) in picked]


def _computed_options(options: Options, context: Mapping[str, Any], answer: Any,
                      mistakes: tuple[Mistake, ...], rng: np.random.Generator) -> Built:
    correct_text = _option_text(options, options.template, context, value=answer)
    texts, found = [correct_text], []
    candidates = [(m.value, m) for m in mistakes]
    candidates += [(to_jsonable(d.evaluate(context)), None) for d in options.distractors]
    for value, mistake in candidates:
        if len(texts) >= options.count:
            break
        text = _option_text(options, options.template, context, value=value)
        if text in texts or same_value(value, answer):
            continue
        texts.append(text)
        if mistake is not None:
            found.append(Mistake(mistake.tag, text, mistake.message))
    if options.shuffle:
        texts = [texts[i] for i in rng.permutation(len(texts))]
    return tuple(texts), correct_text, tuple(found)
