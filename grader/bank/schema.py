"""The problem bank's schema: the one home of the shape of a problem or set file.

The pydantic models here check the YAML's structure (types, ranges, unknown keys); what a schema
cannot check (expressions, templates, ids across files) is done by :mod:`grader.bank.load`.
:func:`json_schema` gives the same rules to editors (``grader schema``).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from grader.answers import ANSWER_TYPES
from grader.data_root import data_root

TOPICS_FILE = "topics.yaml"  # in the bank's folder: the topics its problems may have


def read_topics(root: Path) -> tuple[str, ...]:
    """The topic slugs of the bank in `root` (its topics.yaml, in teaching order), or of the
    shipped bank when `root` has none. Raises ValueError with a sentence when it is malformed."""
    path = Path(root) / TOPICS_FILE
    if not path.is_file():
        path = _SHIPPED / TOPICS_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: the topics cannot be read: {exc}") from exc
    topics = data.get("topics") if isinstance(data, Mapping) else None
    if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
        raise ValueError(f"{path}: expected 'topics:' and a list of slugs, got {data!r:.80}")
    return tuple(topics)


_SHIPPED = data_root() / "problems"
TOPICS: tuple[str, ...] = read_topics(_SHIPPED)  # the shipped bank's topics (problems/topics.yaml)


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
    size_given: bool | None = None


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


def _increases(values: list[float]) -> bool:
    return any(later > earlier for earlier, later in itertools.pairwise(values))


class AttemptPolicyModel(_Strict):
    """What attempts are worth (a problem's or a set's default; a set item may say it too)."""

    attempts: int | None = Field(None, ge=1, description="attempts allowed")
    worth: list[Annotated[float, Field(ge=0, le=1)]] | None = Field(
        None, min_length=1, description="fraction of the points each attempt can earn, first to "
        "last, e.g. [1, 0.5, 0.25]; the last repeats for any extra attempt")
    penalty: float | None = Field(None, ge=0, le=1, description=(
        "fraction of the points lost per earlier wrong answer (Moodle's penalty), e.g. 0.25"))

    @model_validator(mode="after")
    def _one_scheme(self) -> AttemptPolicyModel:
        if self.worth is not None and self.penalty is not None:
            raise ValueError("give either 'worth' or 'penalty', not both")
        if self.worth is not None and _increases(self.worth):
            raise ValueError(f"later attempts cannot be worth more than earlier ones: {self.worth}")
        return self


class AuthorTestModel(_Strict):
    """An author's test of the template, checked by lint (like STACK's question tests)."""

    params: dict[str, Any] = Field({}, description=(
        "parameter values of the variant to test (the rest are drawn from seed 0)"))
    answer: str | int | float = Field(description="the answer as a student would type it")
    score: float = Field(ge=0, le=1, description="the score it must get, from 0 to 1")
    mistake: Slug | None = Field(None, description=(
        "the mistake tag it must be graded with (leave out: none)"))


class ProblemModel(_Strict):
    """One problem template."""

    id: Slug
    title: str = Field(min_length=1)
    topic: Slug = Field(description=(
        "one of the bank's topics (problems/topics.yaml)"), json_schema_extra={"enum": list(TOPICS)})
    answer_type: Literal[ANSWER_TYPES]  # type: ignore[valid-type]
    prompt: str = Field(min_length=1)
    params: dict[str, ParamModel] = {}
    where: Annotated[list[str], WithJsonSchema({"anyOf": [
        {"type": "string"}, {"type": "array", "items": {"type": "string"}}]})] = []
    tests: list[AuthorTestModel] = []
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
    attempt_policy: AttemptPolicyModel | None = Field(None, description=(
        "what attempts are worth unless the set says otherwise; unsaid: 3 attempts without "
        "penalty, 1 attempt for truefalse and choice problems"))
    solution: str | None = Field(None, min_length=1, description=(
        "a worked solution (Markdown with LaTeX, Jinja over the parameters, roles and `answer`) "
        "shown once attempts are used up, the due date has passed, or the answer is shown"))
    draft: bool = Field(False, strict=True, description=(
        "true: only instructors see it (preview it with any seed); students and practice never"))

    @field_validator("where", mode="before")
    @classmethod
    def _listify(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class ProblemFileModel(_Strict):
    problems: list[dict[str, Any]] = Field(min_length=1)


PositivePoints = Annotated[float, Field(gt=0)]


class SetItemModel(_Strict):
    problem: str
    points: PositivePoints | Annotated[list[PositivePoints], Field(min_length=1)] = Field(
        1.0, description="the problem's points, or points per attempt such as [3, 2, 1] (the "
        "first is the problem's points; the last repeats for any extra attempt)")
    attempts: int | None = Field(None, ge=1, description=(
        "attempts allowed; unsaid: the set's or problem's policy, else 3 (1 for truefalse and "
        "choice problems, or as many as the points listed)"))
    penalty: float | None = Field(None, ge=0, le=1, description=(
        "fraction of the points lost per earlier wrong answer, e.g. 0.25"))

    @model_validator(mode="after")
    def _one_scheme(self) -> SetItemModel:
        if isinstance(self.points, list):
            if self.penalty is not None:
                raise ValueError("give either points per attempt or 'penalty', not both")
            if _increases(self.points):
                raise ValueError(f"later attempts cannot earn more points: {self.points}")
        return self


class ProblemSetModel(_Strict):
    """A problem set: an ordered list of problems with points and attempts."""

    id: Slug
    title: str = Field(min_length=1)
    description: str = ""
    due: datetime | None = None
    problems: list[SetItemModel] = Field(min_length=1)
    practice: bool = Field(True, strict=True, description=(
        "false: the set's problems are never offered in practice mode (true or false, unquoted)"))
    attempt_policy: AttemptPolicyModel | None = Field(None, description=(
        "what attempts are worth on every problem of the set unless an item says otherwise"))
    release: datetime | None = Field(None, description=(
        "when students first see the set (ISO 8601, e.g. 2026-09-01T08:00:00Z); before it, only "
        "instructors do"))
    hidden: bool = Field(False, strict=True, description=(
        "true: students never see the set (true or false, unquoted)"))


# Every field's description, shown by editors on hover (the models' own Field(description=...)
# win); tests/test_bank_schema.py checks that none is missing.
DESCRIPTIONS: dict[type[BaseModel], dict[str, str]] = {
    ProblemModel: {
        "id": "unique id of the problem (lowercase letters, digits and dashes)",
        "title": "the title students see",
        "answer_type": "integer, number, shape, vector, matrix, choice, multiselect or truefalse",
        "prompt": "Jinja text with LaTeX math in $...$; may use the parameters, e.g. {{ n }}",
        "params": "the random parameters, drawn in order: {int: [low, high]}, {choice: [...]}, "
                  "{array: {shape, low, high}} or {derived: expression}",
        "where": "constraints the drawn parameters must meet (one expression, or a list)",
        "tests": "the author's tests, checked by lint: params, answer as typed, score, mistake",
        "roles": "standard names (s, p, f, ...) computed from the parameters, for the families",
        "answer": "the expression of the correct answer",
        "grading": "tolerances and partial credit",
        "mistakes": "expected wrong answers with a tag and feedback",
        "families": "the built-in mistake families: true, false or {exclude: [tag, ...]}",
        "options": "the options of a choice or multiselect problem: static or computed",
        "statements": "truefalse: a pool of statements, one drawn per variant",
        "figures": "matrices drawn as shaded grids: a parameter name, or {name, expr}",
    },
    ArrayParam: {"array": "a random integer array: its shape and bounds"},
    ArraySpec: {"low": "smallest value, included"},
    ChoiceParam: {"choice": "the values to choose from (numbers, text or lists)"},
    ComputedOptions: {"count": "how many options are shown (2 to 8)",
                      "distractors": "expressions of further wrong options, after the mistakes"},
    DerivedParam: {"derived": "an expression of earlier parameters"},
    FamiliesModel: {"exclude": "tags of built-in families not to use"},
    FigureModel: {"name": "the caption students see", "expr": "the matrix to draw"},
    Grading: {"atol": "absolute tolerance of a number", "rtol": "relative tolerance of a number",
              "partial_credit": "matrix and vector answers: credit for the share of right entries",
              "multiselect_scoring": "right_minus_wrong (default) or all_or_nothing",
              "size_given": "shapes, vectors and matrices: whether the question states the "
                            "answer's size, so another size is a format error (no attempt used)"},
    IntParam: {"step": "the step between drawn values (default 1)"},
    MistakeModel: {"tag": "a stable tag for statistics", "expr": "the wrong answer's expression",
                   "message": "the feedback a student with this answer gets"},
    OptionModel: {"correct": "whether this option is right", "tag": "a tag for statistics"},
    OptionsModel: {"static": "options written out", "computed": "options made from the answer "
                   "and the mistakes", "shuffle": "shuffle the options per variant (default)"},
    StatementModel: {"text": "the statement shown", "answer": "whether it is true",
                     "tag": "a tag for statistics"},
    AuthorTestModel: {},
    ProblemSetModel: {
        "id": "unique id of the set (lowercase letters, digits and dashes)",
        "title": "the title students see", "description": "text shown above the problems",
        "due": "when the set closes (ISO 8601, e.g. 2026-09-14T23:59:00Z)",
        "problems": "the problems, in order, with points and attempts",
    },
    SetItemModel: {"problem": "the id of a problem of the bank",
                   "points": "points of the problem (default 1)",
                   "attempts": "graded attempts allowed (default 3)"},
}
for _model, _texts in DESCRIPTIONS.items():
    for _name, _text in _texts.items():
        _field = _model.model_fields[_name]
        _field.description = _field.description or _text
for _ in range(2):  # twice: a model embeds the schemas of the models it holds
    for _model in reversed(DESCRIPTIONS):
        _model.model_rebuild(force=True)


SCHEMA_KINDS = ("problem", "set")
PROBLEM_FILE = {"type": "object", "additionalProperties": False, "required": ["problems"],
                "description": "several problems in one file",
                "properties": {"problems": {"type": "array", "minItems": 1,
                                            "description": "the problems of this file",
                                            "items": {"$ref": "#/$defs/Problem"}}}}


def json_schema(kind: str | None = None) -> dict[str, Any]:
    """A JSON Schema for problem files (``kind="problem"``: one problem or ``problems: [...]``),
    set files (``kind="set"``), or either (None). Shipped files name theirs on their first line
    (``# yaml-language-server: $schema=...``) so editors pick the right one."""
    defs: dict[str, Any] = {}
    one_of = []
    if kind in (None, "problem"):
        problem = ProblemModel.model_json_schema(by_alias=True)
        defs.update(problem.pop("$defs", {}))
        defs["Problem"] = problem
        one_of += [{"$ref": "#/$defs/Problem"}, PROBLEM_FILE]
    if kind in (None, "set"):
        problem_set = ProblemSetModel.model_json_schema(by_alias=True)
        defs.update(problem_set.pop("$defs", {}))
        defs["ProblemSet"] = problem_set
        one_of.append({"$ref": "#/$defs/ProblemSet"})
    if kind not in (None, *SCHEMA_KINDS):
        raise ValueError(f"no schema kind {kind!r}: use one of {', '.join(SCHEMA_KINDS)}")
    title = {"problem": "Stride problem file", "set": "Stride problem set file"}.get(
        kind, "Stride problem bank file")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": title,
            "oneOf": one_of, "$defs": defs}


def schema_text(kind: str | None = None) -> str:
    """The JSON Schema as indented text (for ``grader schema``)."""
    return json.dumps(json_schema(kind), indent=2) + "\n"
