"""The problem bank: YAML templates and problem sets, validated and compiled once on load.

A problem file holds one problem (a mapping) or several (``problems: [...]``); a problem-set file
under ``problems/sets/`` lists problem ids with points and attempts. :func:`load_bank` checks every
file against the schema (pydantic models, :data:`SCHEMA_MODELS`), then checks what a schema cannot:
expressions parse, stay inside the whitelist and only use defined names; templates compile; ids
are unique; sets name existing problems. Every finding names the file, the problem id and the
field, with the offending value, and a bank with any finding is not loaded at all.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import jinja2
import numpy as np
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from grader import mistakes as families_module
from grader.errors import ProblemSpecError
from grader.expressions import Expr, compile_expr, same_value, to_jsonable
from grader.prompts import compile_template, render

DEFAULT_PROBLEMS_DIR = Path(__file__).resolve().parent.parent / "problems"

TOPICS: tuple[str, ...] = (
    "fc-vs-conv-params", "conv-params", "conv-output-volume", "padding", "same-padding",
    "pool-output-volume", "pooling-facts", "one-by-one-conv", "why-convolutions", "conv1d",
    "conv2d", "edge-detection", "conv-over-volume", "network-table", "continuous-convolution",
    "strided-floor", "correlation-vs-convolution", "adaptive-pooling", "counting-layers",
)
ANSWER_TYPES: tuple[str, ...] = (
    "integer", "number", "shape", "vector", "matrix", "choice", "multiselect", "truefalse",
)
MAX_ARRAY_ENTRIES = 400


class BankError(ProblemSpecError):
    """The bank could not be loaded; ``errors`` lists every finding, one line each."""

    def __init__(self, errors: list[str] | tuple[str, ...]) -> None:
        self.errors = tuple(errors)
        count = len(self.errors)
        super().__init__(f"{count} problem(s) in the bank:\n" + "\n".join(self.errors))


# ---------------------------------------------------------------------------------------------
# Schema (pydantic models): the shape of the YAML


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class IntParam(_Strict):
    """An integer drawn uniformly from ``[low, high]`` (inclusive) in steps of ``step``."""

    int_: tuple[int, int] = Field(alias="int", description="[low, high], both included")
    step: int = Field(1, ge=1)

    @field_validator("int_")
    @classmethod
    def _ordered(cls, bounds: tuple[int, int]) -> tuple[int, int]:
        if bounds[0] > bounds[1]:
            raise ValueError(f"expected [low, high] with low <= high, got {list(bounds)}")
        return bounds


class ChoiceParam(_Strict):
    """One of the listed values, uniformly."""

    choice: list[Any] = Field(min_length=1)


class ArraySpec(_Strict):
    shape: list[int | str] = Field(min_length=1, max_length=3,
                                   description="sizes, or names of earlier int parameters")
    low: int
    high: int = Field(description="largest value, included")

    @model_validator(mode="after")
    def _ordered(self) -> ArraySpec:
        if self.low > self.high:
            raise ValueError(f"expected low <= high, got low={self.low}, high={self.high}")
        return self


class ArrayParam(_Strict):
    """A small random integer vector or matrix."""

    array: ArraySpec


class DerivedParam(_Strict):
    """A value computed from earlier parameters."""

    derived: str | int | float


def _param_kind(value: Any) -> str | None:
    if isinstance(value, Mapping):
        for kind in ("int", "choice", "array", "derived"):
            if kind in value:
                return kind
    return None


ParamModel = Annotated[
    Annotated[IntParam, Tag("int")] | Annotated[ChoiceParam, Tag("choice")]
    | Annotated[ArrayParam, Tag("array")] | Annotated[DerivedParam, Tag("derived")],
    Discriminator(_param_kind, custom_error_type="param_kind",
                  custom_error_message="expected one of {int: [low, high]}, {choice: [...]}, "
                  "{array: {shape, low, high}} or {derived: expression}"),
]

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]
Expression = str | int | float | bool


class Grading(_Strict):
    atol: float | None = Field(None, ge=0)
    rtol: float | None = Field(None, ge=0)
    partial_credit: bool | None = None
    multiselect_scoring: Literal["right_minus_wrong", "all_or_nothing"] | None = None


class MistakeModel(_Strict):
    tag: Slug
    expr: Expression
    message: str = Field(min_length=1)


class FamiliesModel(_Strict):
    exclude: list[str] = []


class OptionModel(_Strict):
    text: str = Field(min_length=1, description="Jinja text, may use the parameters")
    correct: bool = False
    message: str | None = Field(None, description="feedback when this wrong option is chosen "
                                "(or, for a correct option of a multiselect, when it is missed)")
    tag: Slug | None = None


class ComputedOptions(_Strict):
    template: str = Field("{{ value }}", description="Jinja text for one option; `value` is it")
    count: int = Field(4, ge=2, le=8)
    distractors: list[Expression] = []


class OptionsModel(_Strict):
    static: list[OptionModel] | None = None
    computed: ComputedOptions | None = None
    pick: int | None = Field(None, ge=2, description="show this many of the static options")
    shuffle: bool = True

    @model_validator(mode="after")
    def _one_kind(self) -> OptionsModel:
        if (self.static is None) == (self.computed is None):
            raise ValueError("give exactly one of 'static' or 'computed'")
        return self


class StatementModel(_Strict):
    text: str = Field(min_length=1)
    answer: bool
    message: str = Field(min_length=1, description="feedback for a student who gets it wrong")
    tag: Slug | None = None


class FigureModel(_Strict):
    name: str
    expr: Expression


class ProblemModel(_Strict):
    """One problem template."""

    id: Slug
    title: str = Field(min_length=1)
    topic: Literal[TOPICS]  # type: ignore[valid-type]
    answer_type: Literal[ANSWER_TYPES]  # type: ignore[valid-type]
    prompt: str = Field(min_length=1)
    params: dict[str, ParamModel] = {}
    where: list[str] = []
    roles: dict[str, Expression] = {}
    answer: Expression | None = None
    grading: Grading = Grading()
    mistakes: list[MistakeModel] = []
    families: bool | FamiliesModel = True
    options: OptionsModel | None = None
    statements: list[StatementModel] | None = Field(None, min_length=1)
    figures: list[str | FigureModel] = []
    practice: bool = Field(True, strict=True, description=(
        "false: never offered in practice mode (true or false, unquoted)"))

    @field_validator("where", mode="before")
    @classmethod
    def _listify(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class ProblemFileModel(_Strict):
    problems: list[dict[str, Any]] = Field(min_length=1)


class SetItemModel(_Strict):
    problem: str
    points: float = Field(1.0, gt=0)
    attempts: int = Field(3, ge=1)


class ProblemSetModel(_Strict):
    """A problem set: an ordered list of problems with points and attempts."""

    id: Slug
    title: str = Field(min_length=1)
    description: str = ""
    due: datetime | None = None
    problems: list[SetItemModel] = Field(min_length=1)
    practice: bool = Field(True, strict=True, description=(
        "false: the set's problems are never offered in practice mode (true or false, unquoted)"))


SCHEMA_MODELS = {"problem": ProblemModel, "problem_set": ProblemSetModel}


def json_schema() -> dict[str, Any]:
    """A JSON Schema for problem files (one problem or ``problems: [...]``) and set files."""
    problem = ProblemModel.model_json_schema(by_alias=True)
    defs = problem.pop("$defs", {})
    problem_set = ProblemSetModel.model_json_schema(by_alias=True)
    defs.update(problem_set.pop("$defs", {}))
    defs["Problem"] = problem
    defs["ProblemSet"] = problem_set
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Stride problem bank file",
        "oneOf": [
            {"$ref": "#/$defs/Problem"},
            {"type": "object", "additionalProperties": False, "required": ["problems"],
             "properties": {"problems": {"type": "array", "items": {"$ref": "#/$defs/Problem"}}}},
            {"$ref": "#/$defs/ProblemSet"},
        ],
        "$defs": defs,
    }


# ---------------------------------------------------------------------------------------------
# Compiled problems


@dataclass(frozen=True, eq=False)
class ParamSpec:
    """One parameter: how to sample it (``kind`` int/choice/array/derived) and check overrides."""

    name: str
    kind: str
    values: tuple[Any, ...] = ()
    shape: tuple[int | str, ...] = ()
    low: int = 0
    high: int = 0
    expr: Expr | None = None

    def sample(self, rng: np.random.Generator, env: Mapping[str, Any]) -> Any:
        if self.kind in ("int", "choice"):
            value = self.values[int(rng.integers(len(self.values)))]
            return np.asarray(value) if isinstance(value, list) else value
        if self.kind == "array":
            shape = tuple(int(env[d]) if isinstance(d, str) else d for d in self.shape)
            return rng.integers(self.low, self.high + 1, size=shape, dtype=np.int64)
        return self.expr.evaluate(env)

    def coerce(self, value: Any, problem_id: str) -> Any:
        """An override value, checked loosely against the kind (any int for an int param)."""
        where = f"problem {problem_id!r}: parameter {self.name!r}"
        if self.kind == "derived":
            raise ProblemSpecError(f"{where} is derived from the others and cannot be set")
        if self.kind == "int":
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ProblemSpecError(f"{where} must be an integer, got {value!r}")
            return int(value)
        if self.kind == "array":
            array = np.asarray(value)
            if array.ndim != len(self.shape) or not np.issubdtype(array.dtype, np.number):
                raise ProblemSpecError(
                    f"{where} must be a {len(self.shape)}D array of numbers, got {value!r}")
            return array
        return np.asarray(value) if isinstance(value, list) else value


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
    """How a choice/multiselect problem builds its options for one variant."""

    where: str
    static: tuple[OptionSpec, ...] = ()
    template: jinja2.Template | None = None
    count: int = 4
    distractors: tuple[Expr, ...] = ()
    pick: int | None = None
    shuffle: bool = True

    def build(self, problem: Problem, context: Mapping[str, Any], answer: Any,
              mistakes: tuple, rng: np.random.Generator) -> tuple:
        from grader.variants import Mistake

        if self.static:
            return self._build_static(problem, context, rng, Mistake)
        return self._build_computed(context, answer, mistakes, rng, Mistake)

    def _text(self, template: jinja2.Template, context: Mapping[str, Any], **extra: Any) -> str:
        return " ".join(render(template, {**context, **extra}, self.where).split())

    def _build_static(self, problem: Problem, context: Mapping[str, Any],
                      rng: np.random.Generator, mistake_cls: type) -> tuple:
        chosen = list(self.static)
        if self.pick is not None and self.pick < len(chosen):
            chosen = self._pick(problem.answer_type, rng)
        if self.shuffle:
            chosen = [chosen[i] for i in rng.permutation(len(chosen))]
        texts = [self._text(o.template, context) for o in chosen]
        right = [t for t, o in zip(texts, chosen, strict=True) if o.correct]
        found = []
        for text, option in zip(texts, chosen, strict=True):
            if option.message is None:
                continue
            if problem.answer_type == "choice" and not option.correct:
                found.append(mistake_cls(option.tag, text, option.message))
            elif problem.answer_type == "multiselect":
                value = [t for t in texts if (t in right) != (t == text)]
                if value:
                    found.append(mistake_cls(option.tag, value, option.message))
        answer = right[0] if problem.answer_type == "choice" else right
        return tuple(texts), answer, tuple(found)

    def _pick(self, answer_type: str, rng: np.random.Generator) -> list[OptionSpec]:
        right = [o for o in self.static if o.correct]
        wrong = [o for o in self.static if not o.correct]
        if answer_type == "choice":
            n_right = 1
        else:
            low, high = max(1, self.pick - len(wrong)), min(len(right), self.pick - 1)
            n_right = int(rng.integers(low, high + 1))
        take_right = rng.choice(len(right), size=n_right, replace=False)
        take_wrong = rng.choice(len(wrong), size=self.pick - n_right, replace=False)
        picked = {id(right[i]) for i in take_right} | {id(wrong[i]) for i in take_wrong}
        return [o for o in self.static if id(o) in picked]

    def _build_computed(self, context: Mapping[str, Any], answer: Any, mistakes: tuple,
                        rng: np.random.Generator, mistake_cls: type) -> tuple:
        correct_text = self._text(self.template, context, value=answer)
        texts, found = [correct_text], []
        candidates = [(m.value, m) for m in mistakes]
        candidates += [(to_jsonable(d.evaluate(context)), None) for d in self.distractors]
        for value, mistake in candidates:
            if len(texts) >= self.count:
                break
            text = self._text(self.template, context, value=value)
            if text in texts or same_value(value, answer):
                continue
            texts.append(text)
            if mistake is not None:
                found.append(mistake_cls(mistake.tag, text, mistake.message))
        if self.shuffle:
            texts = [texts[i] for i in rng.permutation(len(texts))]
        return tuple(texts), correct_text, tuple(found)


@dataclass(frozen=True, eq=False)
class Problem:
    """A compiled problem template; make variants with :func:`grader.variants.generate`."""

    id: str
    title: str
    topic: str
    answer_type: str
    source: Path
    prompt_template: jinja2.Template
    prompt_source: str = ""
    params: tuple[ParamSpec, ...] = ()
    checks: tuple[tuple[Expr, ...], ...] = ()
    where: tuple[Expr, ...] = ()
    roles: tuple[tuple[str, Expr], ...] = ()
    answer: Expr | None = None
    grading: Mapping[str, Any] = field(default_factory=dict)
    mistakes: tuple[MistakeSpec, ...] = ()
    families: tuple = ()
    options: Options | None = None
    statements: tuple[Statement, ...] = ()
    figures: tuple[FigureSpec, ...] = ()
    practice: bool = True  # False: never offered in practice mode

    def role_values(self, env: Mapping[str, Any]) -> dict[str, Any]:
        """Standard names (defaults such as s=1, p=0, then ``roles:``) for answers and families."""
        values = families_module.standard_context(env)
        scope = {**env, **values}
        for name, expr in self.roles:
            values[name] = scope[name] = expr.evaluate(scope)
        return values

    def render_prompt(self, env: Mapping[str, Any], statement: Statement | None) -> str:
        context = dict(env)
        if statement is not None:
            context["statement"] = statement.text
        return render(self.prompt_template, context,
                      f"{self.source}: problem {self.id!r}: field 'prompt'")


@dataclass(frozen=True)
class SetItem:
    problem_id: str
    points: float = 1.0
    attempts: int = 3


@dataclass(frozen=True)
class ProblemSet:
    id: str
    title: str
    items: tuple[SetItem, ...]
    due: datetime | None
    source: Path
    description: str = ""
    practice: bool = True  # False: none of its problems is offered in practice mode


@dataclass(frozen=True)
class Bank:
    problems: Mapping[str, Problem]
    sets: Mapping[str, ProblemSet]

    def by_topic(self, topic: str) -> list[Problem]:
        return [p for p in self.problems.values() if p.topic == topic]


# ---------------------------------------------------------------------------------------------
# Loading


def _display(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root.parent))
    except ValueError:
        return str(path)


def _format_loc(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        text = str(item)
        if parts and parts[-1] == text:
            continue  # a discriminated union repeats the tag: params.p.int.int
        parts.append(text)
    return ".".join(parts) or "(top level)"


def _pydantic_errors(exc: ValidationError, prefix: str) -> list[str]:
    lines = []
    for error in exc.errors():
        msg = error["msg"].removeprefix("Value error, ")
        if "got" not in msg:
            msg = f"{msg}, got {error.get('input')!r}"
        lines.append(f"{prefix}: field {_format_loc(error['loc'])!r}: {msg}")
    return lines


def _read_yaml(path: Path, shown: str) -> tuple[Any, list[str]]:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")), []
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        return None, [f"{shown}: not valid YAML: {exc}".replace("\n", " ")]


def _problem_dicts(data: Any, shown: str) -> tuple[list[Any], list[str]]:
    if isinstance(data, Mapping) and "problems" in data and "id" not in data:
        try:
            return list(ProblemFileModel.model_validate(data).problems), []
        except ValidationError as exc:
            return [], _pydantic_errors(exc, shown)
    if isinstance(data, Mapping):
        return [data], []
    return [], [f"{shown}: expected a problem (a mapping) or 'problems: [...]', got {data!r:.80}"]


def load_problem_file(path: Path, root: Path = DEFAULT_PROBLEMS_DIR
                      ) -> tuple[list[Problem], list[str]]:
    """Problems of one file and the findings; a file with findings gives no problems."""
    shown = _display(path, root)
    data, errors = _read_yaml(path, shown)
    if errors:
        return [], errors
    raws, errors = _problem_dicts(data, shown)
    problems: list[Problem] = []
    for index, raw in enumerate(raws):
        pid = raw.get("id", f"#{index + 1}") if isinstance(raw, Mapping) else f"#{index + 1}"
        prefix = f"{shown}: problem {pid!r}"
        try:
            model = ProblemModel.model_validate(raw)
        except ValidationError as exc:
            errors.extend(_pydantic_errors(exc, prefix))
            continue
        try:
            problems.append(build_problem(model, path, prefix))
        except BankError as exc:
            errors.extend(exc.errors)
        except ProblemSpecError as exc:
            errors.append(str(exc))
    return ([] if errors else problems), errors


def load_set_file(path: Path, root: Path = DEFAULT_PROBLEMS_DIR
                  ) -> tuple[ProblemSet | None, list[str]]:
    """One problem set and the findings."""
    shown = _display(path, root)
    data, errors = _read_yaml(path, shown)
    if errors:
        return None, errors
    sid = data.get("id", path.stem) if isinstance(data, Mapping) else path.stem
    try:
        model = ProblemSetModel.model_validate(data)
    except ValidationError as exc:
        return None, _pydantic_errors(exc, f"{shown}: set {sid!r}")
    items = tuple(SetItem(i.problem, i.points, i.attempts) for i in model.problems)
    return ProblemSet(model.id, model.title, items, model.due, path, model.description,
                      model.practice), []


def _yaml_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.y*ml") if p.suffix in (".yaml", ".yml"))


def load_bank(root: Path = DEFAULT_PROBLEMS_DIR) -> Bank:
    """Load and check every problem under ``root`` and every set under ``root/sets``.

    Raises
    ------
    BankError
        With one line per finding (file, problem id, field, offending value); nothing is
        loaded when there is any finding.
    """
    root = Path(root)
    if not root.is_dir():
        raise BankError([f"{root}: no such directory"])
    errors: list[str] = []
    problems: dict[str, Problem] = {}
    for path in _yaml_files(root):
        loaded, found = load_problem_file(path, root)
        errors.extend(found)
        for problem in loaded:
            if problem.id in problems:
                first = _display(problems[problem.id].source, root)
                errors.append(f"{_display(path, root)}: problem {problem.id!r}: field 'id': "
                              f"the id is already used in {first}")
            else:
                problems[problem.id] = problem
    sets = _load_sets(root / "sets", root, problems, errors)
    if errors:
        raise BankError(errors)
    return Bank(problems=problems, sets=sets)


def _load_sets(folder: Path, root: Path, problems: Mapping[str, Problem], errors: list[str]
               ) -> dict[str, ProblemSet]:
    sets: dict[str, ProblemSet] = {}
    if not folder.is_dir():
        return sets
    for path in _yaml_files(folder):
        problem_set, found = load_set_file(path, root)
        errors.extend(found)
        if problem_set is None:
            continue
        shown = f"{_display(path, root)}: set {problem_set.id!r}"
        for i, item in enumerate(problem_set.items):
            if item.problem_id not in problems:
                errors.append(f"{shown}: field 'problems.{i}.problem': no problem with id "
                              f"{item.problem_id!r}")
        if problem_set.id in sets:
            errors.append(f"{shown}: field 'id': the set id is already used")
        sets[problem_set.id] = problem_set
    return sets


# ---------------------------------------------------------------------------------------------
# From the validated model to a compiled problem


def build_problem(model: ProblemModel, path: Path, prefix: str) -> Problem:
    """Compile expressions and templates of a validated problem (semantic checks).

    Raises
    ------
    BankError
        With every finding of the problem (parameters first: the rest depends on their names).
    """
    params = _build_params(model, prefix)
    names = [p.name for p in params]
    errors: list[str] = []

    def attempt(build: Any, *args: Any) -> Any:
        try:
            return build(*args)
        except ProblemSpecError as exc:
            errors.append(str(exc))
            return None

    where = attempt(lambda: tuple(compile_expr(w, f"{prefix}: field 'where.{i}'", names)
                                  for i, w in enumerate(model.where)))
    roles = attempt(_build_roles, model, prefix, names) or ()
    scope = set(names) | set(families_module.STANDARD_DEFAULTS) | {r for r, _ in roles}
    if "n" in names:
        scope |= {"n_h", "n_w"}
    attempt(_check_answer_fields, model, prefix)
    parts = {
        "answer": attempt(lambda: compile_expr(model.answer, f"{prefix}: field 'answer'", scope)
                          if model.answer is not None else None),
        "prompt_template": attempt(compile_template, model.prompt, f"{prefix}: field 'prompt'"),
        "mistakes": attempt(_build_mistakes, model, prefix, scope),
        "families": attempt(_build_families, model, prefix, frozenset(scope)),
        "options": attempt(_build_options, model, prefix, scope),
        "figures": attempt(_build_figures, model, prefix, scope, names),
    }
    if errors:
        raise BankError(errors)
    return Problem(
        id=model.id, title=model.title, topic=model.topic, answer_type=model.answer_type,
        source=path, prompt_source=model.prompt, params=params,
        checks=_checks_after(params, where), where=where, roles=roles,
        grading=model.grading.model_dump(exclude_none=True),
        statements=_build_statements(model), practice=model.practice, **parts,
    )


def _build_params(model: ProblemModel, prefix: str) -> tuple[ParamSpec, ...]:
    specs: list[ParamSpec] = []
    for name, raw in model.params.items():
        where = f"{prefix}: field 'params.{name}'"
        if not name.isidentifier() or name.startswith("_") or name in ("statement", "value"):
            raise ProblemSpecError(f"{where}: {name!r} is not a usable parameter name")
        earlier = [s.name for s in specs]
        specs.append(_build_param(name, raw, where, earlier))
    return tuple(specs)


def _build_param(name: str, raw: BaseModel, where: str, earlier: list[str]) -> ParamSpec:
    if isinstance(raw, IntParam):
        low, high = raw.int_
        return ParamSpec(name, "int", values=tuple(range(low, high + 1, raw.step)))
    if isinstance(raw, ChoiceParam):
        return ParamSpec(name, "choice", values=tuple(raw.choice))
    if isinstance(raw, ArrayParam):
        spec = raw.array
        for dim in spec.shape:
            if isinstance(dim, str) and dim not in earlier:
                raise ProblemSpecError(f"{where}.array.shape: {dim!r} is not an earlier parameter")
            if isinstance(dim, int) and not 1 <= dim <= 20:
                raise ProblemSpecError(f"{where}.array.shape: sizes must be 1..20, got {dim}")
        return ParamSpec(name, "array", shape=tuple(spec.shape), low=spec.low, high=spec.high)
    expr = compile_expr(raw.derived, f"{where}.derived", earlier)
    return ParamSpec(name, "derived", expr=expr)


def _checks_after(params: tuple[ParamSpec, ...], where: tuple[Expr, ...]
                  ) -> tuple[tuple[Expr, ...], ...]:
    """Each constraint runs right after the last parameter it reads is sampled."""
    order = {p.name: i for i, p in enumerate(params)}
    slots: list[list[Expr]] = [[] for _ in params]
    for expr in where:
        last = max((order[n] for n in expr.names), default=0)
        if slots:
            slots[last].append(expr)
    return tuple(tuple(s) for s in slots)


def _build_roles(model: ProblemModel, prefix: str, names: list[str]
                 ) -> tuple[tuple[str, Expr], ...]:
    roles, known = [], set(names) | set(families_module.STANDARD_DEFAULTS) | {"n_h", "n_w"}
    for role, source in model.roles.items():
        roles.append((role, compile_expr(source, f"{prefix}: field 'roles.{role}'", known)))
        known.add(role)
    return tuple(roles)


def _check_answer_fields(model: ProblemModel, prefix: str) -> None:
    kind = model.answer_type
    if model.statements is not None and kind != "truefalse":
        raise ProblemSpecError(f"{prefix}: field 'statements': only truefalse problems take "
                               f"statements, this one is {kind!r}")
    if kind in ("choice", "multiselect"):
        if model.options is None:
            raise ProblemSpecError(f"{prefix}: field 'options': a {kind} problem needs options")
        if model.options.computed is not None and model.answer is None:
            raise ProblemSpecError(f"{prefix}: field 'answer': computed options need an answer")
        if model.options.computed is not None and kind == "multiselect":
            raise ProblemSpecError(f"{prefix}: field 'options.computed': a multiselect problem "
                                   "needs static options (which ones are correct)")
        if model.options.static is not None:
            _check_static_options(model, prefix)
    elif model.options is not None:
        raise ProblemSpecError(f"{prefix}: field 'options': only choice and multiselect "
                               f"problems take options, this one is {kind!r}")
    elif model.answer is None and model.statements is None:
        raise ProblemSpecError(f"{prefix}: field 'answer': missing (an expression), got None")
    if model.answer is not None and model.statements is not None:
        raise ProblemSpecError(f"{prefix}: field 'answer': give either 'answer' or 'statements'")


def _check_static_options(model: ProblemModel, prefix: str) -> None:
    options = model.options.static
    right = sum(o.correct for o in options)
    texts = [o.text for o in options]
    if len(set(texts)) != len(texts):
        raise ProblemSpecError(f"{prefix}: field 'options.static': option texts repeat: {texts}")
    if right == 0:
        raise ProblemSpecError(f"{prefix}: field 'options.static': no option is marked correct")
    if model.answer_type == "choice" and right > 1 and model.options.pick is None:
        raise ProblemSpecError(f"{prefix}: field 'options.static': a choice problem needs "
                               f"exactly one correct option, got {right}")
    pick = model.options.pick
    if pick is None:
        return
    wrong_needed = pick - 1 if model.answer_type == "choice" else 0
    if (pick > len(options) or wrong_needed > len(options) - right):
        raise ProblemSpecError(f"{prefix}: field 'options.pick': cannot show {pick} options "
                               f"with {right} correct and {len(options) - right} wrong")


def _build_mistakes(model: ProblemModel, prefix: str, scope: set[str]
                    ) -> tuple[MistakeSpec, ...]:
    specs, seen = [], set()
    for i, m in enumerate(model.mistakes):
        if m.tag in seen:
            raise ProblemSpecError(f"{prefix}: field 'mistakes.{i}.tag': {m.tag!r} repeats")
        seen.add(m.tag)
        expr = compile_expr(m.expr, f"{prefix}: field 'mistakes.{i}.expr'", scope)
        specs.append(MistakeSpec(m.tag, expr, m.message))
    return tuple(specs)


def _build_families(model: ProblemModel, prefix: str, scope: frozenset[str]) -> tuple:
    if model.families is False:
        return ()
    exclude = frozenset(model.families.exclude) if isinstance(model.families,
                                                              FamiliesModel) else frozenset()
    unknown = sorted(exclude - families_module.FAMILY_TAGS)
    if unknown:
        raise ProblemSpecError(f"{prefix}: field 'families.exclude': unknown tag(s) {unknown}; "
                               f"known: {sorted(families_module.FAMILY_TAGS)}")
    own = {m.tag for m in model.mistakes}
    return tuple(f for f in families_module.families_for(model.topic, model.answer_type, scope, exclude)
                 if f.tag not in own)


def _build_options(model: ProblemModel, prefix: str, scope: set[str]) -> Options | None:
    spec = model.options
    if spec is None:
        return None
    where = f"{prefix}: field 'options'"
    if spec.static is not None:
        static = tuple(
            OptionSpec(compile_template(o.text, f"{where}.static.{i}.text"), o.correct,
                       o.message, o.tag or f"option-{i + 1}")
            for i, o in enumerate(spec.static))
        return Options(where, static=static, pick=spec.pick, shuffle=spec.shuffle)
    computed = spec.computed
    distractors = tuple(compile_expr(d, f"{where}.computed.distractors.{i}", scope)
                        for i, d in enumerate(computed.distractors))
    return Options(where, template=compile_template(computed.template, f"{where}.computed"),
                   count=computed.count, distractors=distractors, shuffle=spec.shuffle)


def _build_statements(model: ProblemModel) -> tuple[Statement, ...]:
    return tuple(Statement(s.text, s.answer, s.message, s.tag or f"statement-{i + 1}")
                 for i, s in enumerate(model.statements or ()))


def _build_figures(model: ProblemModel, prefix: str, scope: set[str], names: list[str]
                   ) -> tuple[FigureSpec, ...]:
    figures = []
    for i, fig in enumerate(model.figures):
        where = f"{prefix}: field 'figures.{i}'"
        if isinstance(fig, str):
            if fig not in names:
                raise ProblemSpecError(f"{where}: no parameter named {fig!r}")
            figures.append(FigureSpec(fig, compile_expr(fig, where, scope)))
        else:
            figures.append(FigureSpec(fig.name, compile_expr(fig.expr, where, scope)))
    return tuple(figures)


def schema_text() -> str:
    """The JSON Schema as indented text (for ``grader schema``)."""
    return json.dumps(json_schema(), indent=2)
