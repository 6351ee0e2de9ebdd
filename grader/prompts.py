"""Prompt templates: the one home of Jinja2 (sandboxed, strict) and its filters for math.

Prompts are Markdown-light text with LaTeX math in ``$...$`` (inline) or ``$$...$$`` (display).
Filters available in templates:

- ``{{ A | latex }}``: a matrix as ``\\begin{bmatrix}...\\end{bmatrix}``, a vector as
  ``[1, 2, 3]``, a number as itself;
- ``{{ s | shape }}``: ``29 \\times 29 \\times 32``;
- ``{{ n | num }}``: a number with thousands separators, ``27,000,100``.

:func:`grader.cli.terminal.to_terminal` turns the LaTeX into something readable in a terminal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import jinja2
import jinja2.meta
import numpy as np
from jinja2.sandbox import SandboxedEnvironment

from grader.errors import ProblemSpecError
from grader.expressions import _safe_mul, _safe_pow, to_jsonable


def format_number(x: Any) -> str:
    """A number as people write it: ints plain, floats without trailing zeros."""
    x = to_jsonable(x)
    if isinstance(x, bool):
        return str(x).lower()
    if isinstance(x, float):
        if x.is_integer() and abs(x) < 1e15:
            return str(int(x))
        return f"{x:.6g}"
    return str(x)


def latex(value: Any) -> str:
    """LaTeX for a number, a vector (``[1, 2]``) or a matrix (``bmatrix``)."""
    value = to_jsonable(value)
    if isinstance(value, list) and value and isinstance(value[0], list):
        rows = [" & ".join(format_number(v) for v in row) for row in value]
        return r"\begin{bmatrix} " + r" \\ ".join(rows) + r" \end{bmatrix}"
    if isinstance(value, list):
        return "[" + ", ".join(format_number(v) for v in value) + "]"
    return format_number(value)


def shape(value: Any) -> str:
    """A shape as ``29 \\times 29 \\times 32``."""
    return r" \times ".join(format_number(v) for v in to_jsonable(value))


def num(value: Any) -> str:
    """A number with thousands separators: 27,000,100."""
    value = to_jsonable(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return format_number(value)


def article(value: Any, capital: bool = False) -> str:
    """"a" or "an" for a whole number as it is read aloud: an 8, an 11, an 18, an 80, a 10.

    Use it before a size in a prompt: ``{{ n | article(True) }} ${{ n }} \\times {{ n }}$ image``.
    """
    digits = str(abs(int(to_jsonable(value))))
    group = len(digits) % 3 or 3  # "eleven thousand", "eighteen million"
    lead = digits[:group]
    vowel = lead.startswith("8") or lead in ("11", "18")
    word = "an" if vowel else "a"
    return word.capitalize() if capital else word


class _PromptEnvironment(SandboxedEnvironment):
    """The sandbox, plus the same guard on ``**`` as expressions have (no template can hang)."""

    intercepted_binops = frozenset({"**", "*"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            return _safe_pow(left, right)
        if operator == "*":
            return _safe_mul(left, right)
        return super().call_binop(context, operator, left, right)


def _make_environment() -> SandboxedEnvironment:
    env = _PromptEnvironment(undefined=jinja2.StrictUndefined, autoescape=False,
                             keep_trailing_newline=False)
    env.filters.update(latex=latex, shape=shape, num=num, fmt=format_number, article=article)
    return env


ENVIRONMENT = _make_environment()


def compile_template(text: Any, where: str, names: Iterable[str] | None = None
                     ) -> jinja2.Template:
    """Compile a prompt template; a syntax error names the file, problem and field. With
    ``names`` (what the template will be given), a name it uses that is not among them is an
    error here, at load, rather than when a student opens the problem."""
    if not isinstance(text, str):
        raise ProblemSpecError(f"{where}: expected text, got {text!r}")
    try:
        template = ENVIRONMENT.from_string(text)
        if names is not None:
            _check_names(text, where, set(names))
        return template
    except jinja2.TemplateSyntaxError as exc:
        raise ProblemSpecError(f"{where}: template error on line {exc.lineno}: {exc.message}") from exc


def _check_names(text: str, where: str, names: set[str]) -> None:
    used = jinja2.meta.find_undeclared_variables(ENVIRONMENT.parse(text))
    unknown = sorted(used - names - set(ENVIRONMENT.globals))
    if unknown:
        known = ", ".join(sorted(names)) or "none"
        raise ProblemSpecError(f"{where}: the template uses {unknown[0]!r}, which is not defined "
                               f"(it can use: {known})")


def render(template: jinja2.Template, context: Mapping[str, Any], where: str) -> str:
    """Render with plain values (arrays as nested lists); undefined names are errors."""
    values = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in context.items()}
    try:
        return template.render(values).strip()
    except Exception as exc:  # any failure inside an author's template is a spec error
        raise ProblemSpecError(f"{where}: {type(exc).__name__}: {exc}") from exc
