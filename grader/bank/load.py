"""Loading the problem bank: the one home of reading YAML files and sets into compiled problems.

A problem file holds one problem (a mapping) or several (``problems: [...]``); a problem-set file
under ``problems/sets/`` lists problem ids with points and attempts. :func:`load_bank` checks every
file against the schema (:mod:`grader.bank.schema`), then checks what a schema cannot:
expressions parse, stay inside the whitelist and only use defined names; templates compile; ids
are unique; sets name existing problems. Every finding names the file, the problem id and the
field, with the offending value, and a bank with any finding is not loaded at all.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from grader.answers import lookup
from grader.attempts import DEFAULT_ATTEMPTS, PolicySpec, resolve
from grader.bank.lines import compose, line_node, line_of
from grader.bank.problem import (
    AuthorTest,
    Bank,
    FigureSpec,
    GradingRules,
    MistakeSpec,
    Options,
    OptionSpec,
    ParamSpec,
    Problem,
    ProblemSet,
    SetItem,
    Statement,
)
from grader.bank.schema import (
    TOPICS_FILE,
    ArrayParam,
    AttemptPolicyModel,
    ChoiceParam,
    FamiliesModel,
    IntParam,
    ProblemFileModel,
    ProblemModel,
    ProblemSetModel,
    SetItemModel,
    read_topics,
)
from grader.data_root import data_root
from grader.errors import ProblemSpecError
from grader.expressions import Expr, compile_expr
from grader.mistakes import FAMILY_TAGS, STANDARD_DEFAULTS, Family, families_for
from grader.prompts import compile_template

DEFAULT_PROBLEMS_DIR = data_root() / "problems"


class BankError(ProblemSpecError):
    """The bank could not be loaded; ``errors`` lists every finding, one line each."""

    def __init__(self, errors: list[str] | tuple[str, ...]) -> None:
        self.errors = tuple(errors)
        count = len(self.errors)
        super().__init__(f"{count} problem(s) in the bank:\n" + "\n".join(self.errors))


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


_FIELD = re.compile(r"field '([^']+)'")


def _with_lines(errors: list[str], node: Any) -> list[str]:
    """Each finding that names a field, with the line that field is written on (for the problem
    whose YAML node is `node`)."""
    if node is None:
        return errors
    lined = []
    for error in errors:
        match = _FIELD.search(error)
        if match and "(line " not in error:
            parts = [int(p) if p.isdigit() else p for p in match.group(1).split(".")]
            line = line_of(node, parts)
            error = f"{error} (line {line})" if line else error
        lined.append(error)
    return lined


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


_COMPILED: dict[tuple[str, str, str], tuple[list[Problem], list[str]]] = {}
_COMPILED_MAX = 512  # files kept compiled (compiled problems are immutable, so banks share them)


def load_problem_file(path: Path, root: Path = DEFAULT_PROBLEMS_DIR
                      ) -> tuple[list[Problem], list[str]]:
    """Problems of one file and the findings; a file with findings gives no problems.

    A file whose text was compiled before (same path, same text) is not parsed again, so a
    reload after one edit compiles only the edited file."""
    try:
        text = path.read_bytes()
    except OSError:
        text = b""
    try:
        topics = read_topics(root if Path(root).is_dir() else Path(root).parent)
    except ValueError as exc:
        return [], [str(exc)]
    key = (str(path), str(root), hashlib.sha256(text).hexdigest() + ",".join(topics))
    if key not in _COMPILED:
        for old in [k for k in _COMPILED if k[0] == key[0]]:
            del _COMPILED[old]
        while len(_COMPILED) >= _COMPILED_MAX:
            del _COMPILED[next(iter(_COMPILED))]
        problems, errors = _compile_problem_file(path, root, topics)
        _COMPILED[key] = (problems, errors)
    problems, errors = _COMPILED[key]
    return list(problems), list(errors)


def _compile_problem_file(path: Path, root: Path, topics: tuple[str, ...]
                          ) -> tuple[list[Problem], list[str]]:
    shown = _display(path, root)
    data, errors = _read_yaml(path, shown)
    if errors:
        return [], errors
    raws, errors = _problem_dicts(data, shown)
    root_node = compose(path.read_text(encoding="utf-8"))
    errors = _with_lines(errors, root_node)
    listed = isinstance(data, Mapping) and "problems" in data and "id" not in data
    problems: list[Problem] = []
    for index, raw in enumerate(raws):
        pid = raw.get("id", f"#{index + 1}") if isinstance(raw, Mapping) else f"#{index + 1}"
        prefix = f"{shown}: problem {pid!r}"
        node = line_node(root_node, ("problems", index) if listed else ())
        found: list[str] = []
        try:
            model = ProblemModel.model_validate(raw)
        except ValidationError as exc:
            errors.extend(_with_lines(_pydantic_errors(exc, prefix), node))
            continue
        if model.topic not in topics:
            errors.extend(_with_lines([
                f"{prefix}: field 'topic': not one of the bank's topics ({TOPICS_FILE}: "
                f"{', '.join(topics)}), got {model.topic!r}"], node))
            continue
        try:
            problems.append(build_problem(model, path, prefix))
        except BankError as exc:
            found.extend(exc.errors)
        except ProblemSpecError as exc:
            found.append(str(exc))
        errors.extend(_with_lines(found, node))
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
    items = tuple(_set_item(i) for i in model.problems)
    return ProblemSet(model.id, model.title, items, model.due, path, model.description,
                      model.practice, attempt_spec=_policy_spec(model.attempt_policy),
                      release=model.release, hidden=model.hidden), []


def _set_item(model: SetItemModel) -> SetItem:
    """A set item as written; its policy is resolved once its problem is known."""
    if isinstance(model.points, list):
        spec = PolicySpec.from_points(model.points, model.attempts)
        return SetItem(model.problem, model.points[0], len(model.points), spec)
    said = model.attempts is not None or model.penalty is not None
    spec = PolicySpec(model.attempts, penalty=model.penalty) if said else None
    return SetItem(model.problem, model.points, model.attempts or DEFAULT_ATTEMPTS, spec)


def _policy_spec(model: AttemptPolicyModel | None) -> PolicySpec | None:
    if model is None:
        return None
    worth = tuple(model.worth) if model.worth is not None else None
    return PolicySpec(model.attempts, worth, model.penalty)


def _with_policies(problem_set: ProblemSet, problems: Mapping[str, Problem]) -> ProblemSet:
    """The set with each item's attempt policy resolved (item, set, problem, default)."""
    items = []
    for item in problem_set.items:
        problem = problems[item.problem_id]
        if problem is None:  # unavailable (a bank loaded in part): kept as written
            items.append(item)
            continue
        policy = resolve(problem.answer_type, item.spec, problem_set.attempt_spec,
                         problem.attempt_spec)
        items.append(replace(item, attempts=policy.attempts, policy=policy))
    return replace(problem_set, items=tuple(items))


def _yaml_files(folder: Path, skip: Path | None = None) -> list[Path]:
    """The YAML files under `folder`, subfolders included (not hidden ones, nor `skip`)."""
    found = []
    for path in folder.rglob("*.y*ml"):
        relative = path.relative_to(folder)
        if path.suffix not in (".yaml", ".yml") or any(p.startswith(".") for p in relative.parts):
            continue
        if (skip is not None and path.is_relative_to(skip)) or relative.as_posix() == TOPICS_FILE:
            continue
        found.append(path)
    return sorted(found)


def load_bank(root: Path = DEFAULT_PROBLEMS_DIR) -> Bank:
    """Load and check every problem under ``root`` (subfolders included) and every set under
    ``root/sets``.

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
    for path in _yaml_files(root, root / "sets"):
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


def load_bank_in_part(root: Path = DEFAULT_PROBLEMS_DIR) -> Bank:
    """Every problem and set under ``root`` that loads, for serving while some files are broken.

    A file with a finding gives no problems: the problems it names (when its YAML can be read)
    are listed in ``Bank.unavailable`` with the file's first finding, and a set keeps its items
    for them (students see them as unavailable). Every finding is in ``Bank.errors``. Never
    raises: a missing folder is an empty bank with that finding.
    """
    root = Path(root)
    if not root.is_dir():
        return Bank(problems={}, sets={}, errors=(f"{root}: no such directory",))
    errors: list[str] = []
    problems: dict[str, Problem] = {}
    unavailable: dict[str, str] = {}
    for path in _yaml_files(root, root / "sets"):
        loaded, found = load_problem_file(path, root)
        errors.extend(found)
        if found:
            for pid in _ids_named(path):
                unavailable.setdefault(pid, found[0])
        for problem in loaded:
            if problem.id in problems:
                errors.append(f"{_display(path, root)}: problem {problem.id!r}: field 'id': "
                              f"the id is already used in {_display(problems[problem.id].source, root)}")
            else:
                problems[problem.id] = problem
    set_errors: list[str] = []
    sets = _load_sets(root / "sets", root, {**problems, **dict.fromkeys(unavailable)},
                      set_errors)
    for line in set_errors:
        match = re.search(r"no problem with id '([^']+)'", line)
        if match:
            unavailable.setdefault(match.group(1), line)
    errors.extend(set_errors)
    return Bank(problems=problems, sets=sets, unavailable=unavailable, errors=tuple(errors))


def _ids_named(path: Path) -> list[str]:
    """The problem ids a file names, read as plainly as possible (empty when it is not YAML)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError, OSError):
        return []
    raws = data.get("problems") if isinstance(data, Mapping) and "id" not in data else [data]
    if not isinstance(raws, list):
        return []
    return [str(r["id"]) for r in raws if isinstance(r, Mapping) and "id" in r]


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
        if all(item.problem_id in problems for item in problem_set.items):
            problem_set = _with_policies(problem_set, problems)
        sets[problem_set.id] = problem_set
    return sets


# ---------------------------------------------------------------------------------------------
# From the validated model to a compiled problem


class _Findings:
    """Collects the findings of one problem, so that every part is checked even after one fails."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def attempt(self, build: Any, *args: Any) -> Any:
        try:
            return build(*args)
        except ProblemSpecError as exc:
            self.errors.append(str(exc))
            return None


def build_problem(model: ProblemModel, path: Path, prefix: str) -> Problem:
    """Compile expressions and templates of a validated problem (semantic checks).

    Raises
    ------
    BankError
        With every finding of the problem (parameters first: the rest depends on their names).
    """
    params = _build_params(model, prefix)
    names = [p.name for p in params]
    found = _Findings()
    where = found.attempt(lambda: tuple(compile_expr(w, f"{prefix}: field 'where.{i}'", names)
                                        for i, w in enumerate(model.where)))
    roles = found.attempt(_build_roles, model, prefix, names) or ()
    found.attempt(_check_answer_fields, model, prefix)
    parts = _compiled_parts(model, prefix, names, roles, found)
    if found.errors:
        raise BankError(found.errors)
    return Problem(
        id=model.id, title=model.title, topic=model.topic, answer_type=model.answer_type,
        source=path, params=params,
        checks=_checks_after(params, where), where=where, roles=roles,
        rules=GradingRules(**model.grading.model_dump()),
        statements=_build_statements(model), practice=model.practice and not model.draft,
        attempt_spec=_policy_spec(model.attempt_policy), draft=model.draft,
        tests=_build_tests(model, prefix, names), **parts,
    )


def _build_tests(model: ProblemModel, prefix: str, names: list[str]) -> tuple[AuthorTest, ...]:
    """The author's tests; a test naming a parameter the problem lacks is a finding."""
    tests = []
    for i, test in enumerate(model.tests):
        unknown = [name for name in test.params if name not in names]
        if unknown:
            raise BankError([f"{prefix}: field 'tests.{i}.params': no parameter "
                             f"{unknown[0]!r} (parameters: {', '.join(names) or 'none'})"])
        tests.append(AuthorTest(dict(test.params), str(test.answer), test.score, test.mistake))
    return tuple(tests)


def _compiled_parts(model: ProblemModel, prefix: str, names: list[str],
                    roles: tuple[tuple[str, Expr], ...], found: _Findings) -> dict[str, Any]:
    """The answer, prompt, mistakes, families, options and figures, over the names in scope:
    the parameters and roles only (no hidden defaults: an answer that uses an undeclared `s` is
    an error, not a silent stride of 1)."""
    scope = set(names) | {r for r, _ in roles}
    if "n" in names:
        scope |= {"n_h", "n_w"}
    return {
        "answer": found.attempt(lambda: compile_expr(model.answer, f"{prefix}: field 'answer'",
                                                     scope) if model.answer is not None else None),
        "prompt_template": found.attempt(compile_template, model.prompt,
                                         f"{prefix}: field 'prompt'",
                                         set(names) | ({"statement"} if model.statements else set())),
        "mistakes": found.attempt(_build_mistakes, model, prefix, scope),
        # The built-in families fill in the standard names themselves (s = 1, p = 0, ...).
        "families": found.attempt(_build_families, model, prefix,
                                  frozenset(scope | set(STANDARD_DEFAULTS))),
        "options": found.attempt(_build_options, model, prefix, scope),
        "figures": found.attempt(_build_figures, model, prefix, scope, names),
        "solution_template": found.attempt(
            lambda: compile_template(model.solution, f"{prefix}: field 'solution'")
            if model.solution is not None else None),
    }


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
    roles, known = [], set(names) | {"n_h", "n_w"}
    for role, source in model.roles.items():
        roles.append((role, compile_expr(source, f"{prefix}: field 'roles.{role}'", known)))
        known.add(role)
    return tuple(roles)


def _check_answer_fields(model: ProblemModel, prefix: str) -> None:
    kind, answer_type = model.answer_type, lookup(model.answer_type)
    if model.statements is not None and not answer_type.takes_statements:
        raise ProblemSpecError(f"{prefix}: field 'statements': only truefalse problems take "
                               f"statements, this one is {kind!r}")
    if answer_type.takes_options:
        if model.options is None:
            raise ProblemSpecError(f"{prefix}: field 'options': a {kind} problem needs options")
        if model.options.computed is not None and model.answer is None:
            raise ProblemSpecError(f"{prefix}: field 'answer': computed options need an answer")
        if model.options.computed is not None and answer_type.multiple:
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
    single = not lookup(model.answer_type).multiple
    if single and right > 1 and model.options.pick is None:
        raise ProblemSpecError(f"{prefix}: field 'options.static': a choice problem needs "
                               f"exactly one correct option, got {right}")
    pick = model.options.pick
    if pick is None:
        return
    wrong_needed = pick - 1 if single else 0
    if (pick > len(options) or wrong_needed > len(options) - right):
        raise ProblemSpecError(f"{prefix}: field 'options.pick': cannot show {pick} options "
                               f"with {right} correct and {len(options) - right} wrong")


def _build_mistakes(model: ProblemModel, prefix: str, scope: set[str]
                    ) -> tuple[MistakeSpec, ...]:
    specs, seen = [], {}
    for i, m in enumerate(model.mistakes):
        # A tag may name several values of one misconception (an index off by one either way),
        # always with the same feedback.
        if seen.setdefault(m.tag, m.message) != m.message:
            raise ProblemSpecError(f"{prefix}: field 'mistakes.{i}.tag': {m.tag!r} repeats "
                                   "with another message (a tag has one message)")
        expr = compile_expr(m.expr, f"{prefix}: field 'mistakes.{i}.expr'", scope)
        specs.append(MistakeSpec(m.tag, expr, m.message))
    return tuple(specs)


def _build_families(model: ProblemModel, prefix: str, scope: frozenset[str]
                    ) -> tuple[Family, ...]:
    if model.families is False:
        return ()
    exclude = frozenset(model.families.exclude) if isinstance(model.families,
                                                              FamiliesModel) else frozenset()
    unknown = sorted(exclude - FAMILY_TAGS)
    if unknown:
        raise ProblemSpecError(f"{prefix}: field 'families.exclude': unknown tag(s) {unknown}; "
                               f"known: {sorted(FAMILY_TAGS)}")
    own = {m.tag for m in model.mistakes}
    found = families_for(model.topic, model.answer_type, scope, exclude)
    return tuple(f for f in found if f.tag not in own)


def _build_options(model: ProblemModel, prefix: str, scope: set[str]) -> Options | None:
    spec = model.options
    if spec is None:
        return None
    where = f"{prefix}: field 'options'"
    if spec.static is not None:
        static = tuple(
            OptionSpec(compile_template(o.text, f"{where}.static.{i}.text", scope), o.correct,
                       o.message, o.tag or f"option-{i + 1}")
            for i, o in enumerate(spec.static))
        return Options(where, static=static, pick=spec.pick, shuffle=spec.shuffle)
    computed = spec.computed
    distractors = tuple(compile_expr(d, f"{where}.computed.distractors.{i}", scope)
                        for i, d in enumerate(computed.distractors))
    return Options(where, template=compile_template(computed.template, f"{where}.computed",
                                                    scope | {"value"}),
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
