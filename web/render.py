"""Server-side rendering, the one home of turning values into HTML: prompts (LaTeX to MathML),
arrays as matrices, figures as shaded grids, and the Jinja filters and globals every template
shares (`init_app`).

Everything that is not math is HTML-escaped; nothing here needs a CDN, a font or a script.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from xml.etree import ElementTree

from flask import Flask, current_app
from flask_login import current_user
from latex2mathml.converter import convert
from markupsafe import Markup, escape

from web.bank import as_utc
from web.code.backend import unsafe_grading
from web.db import get_session
from web.scope import is_staff

_MATH = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$", re.DOTALL)
# A nested numeric list written in prose, e.g. [[1, 2], [3, 4]]: shown as a matrix.
_NESTED_LIST = re.compile(r"\[\s*\[[-+0-9.,\s\[\]eE]*\]\s*\]")
_INLINE = re.compile(r"`([^`]+)`|\*\*([^*]+)\*\*")
SHADES = 10
_MATHML_NS = "{http://www.w3.org/1998/Math/MathML}"
_MATHML_TAGS = frozenset(
    "math mrow mi mn mo ms mtext mspace msub msup msubsup mfrac msqrt mroot mtable mtr mtd "
    "mlabeledtr mover munder munderover mstyle mpadded mphantom menclose semantics annotation "
    "merror mfenced maction".split())


def math_to_mathml(latex: str, display: bool = False) -> Markup:
    """MathML for one LaTeX snippet; on a conversion failure, the escaped source in <code>."""
    try:
        mathml = convert(latex.strip(), display="block" if display else "inline")
    except Exception:  # latex2mathml raises a variety of errors on odd input
        mathml = None
    if mathml is None or not _is_plain_mathml(mathml):
        return Markup("<code>") + escape(latex) + Markup("</code>")
    return Markup(_stretch_matrix_brackets(_signed_numbers(mathml)))


# A minus with nothing to subtract from (first in a row, a cell or a bracket, after a comma, an
# equals sign or another operator) belongs to the number: `[3, −2]`, not `[3, − 2]`.
_UNARY_MINUS = re.compile(
    r"(<mrow>|<mtd[^>]*>|<mo[^>]*>(?:&#x0002C;|&#x0005B;|&#x00028;|&#x0003D;|&#x0002B;"
    r"|&#x022C5;|&#x000B7;|&#x000D7;|[\[(,=+])</mo>)<mo>&#x02212;</mo><mn>([^<]+)</mn>")


def _signed_numbers(mathml: str) -> str:
    """Join a unary minus to its number (`<mn>−2</mn>`), so it is spaced as a sign."""
    return _UNARY_MINUS.sub(r"\1<mn>&#x02212;\2</mn>", mathml)


def _stretch_matrix_brackets(mathml: str) -> str:
    """Draw a matrix's brackets with CSS borders on its table.

    Stretching a MathML bracket to the matrix's height needs a font with a MATH table, which an
    offline page cannot count on; a bordered table looks right with any font.
    """
    for opening, closing, kind in (("&#x0005B;", "&#x0005D;", "b"), ("&#x00028;", "&#x00029;", "p")):
        mathml = re.sub(
            rf"<mo>{opening}</mo><mtable>(.*?)</mtable><mo>{closing}</mo>",
            rf'<mtable class="matrix matrix-{kind}">\1</mtable>', mathml, flags=re.DOTALL)
    return mathml


def _is_plain_mathml(mathml: str) -> bool:
    """True when every element is MathML and no attribute could run code or load anything.

    latex2mathml copies \\text{...} through unescaped, so its output is checked, not trusted.
    """
    try:
        root = ElementTree.fromstring(mathml)
    except ElementTree.ParseError:
        return False
    for element in root.iter():
        tag = element.tag.rpartition("}")[2]
        if tag not in _MATHML_TAGS or not element.tag.startswith(_MATHML_NS):
            return False
        if any(name.lower().startswith("on") or "href" in name.lower() or "src" in name.lower()
               for name in element.attrib):
            return False
    return True


def _format_number(value) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def matrix_latex(rows: Sequence[Sequence]) -> str:
    body = r" \\ ".join(" & ".join(_format_number(v) for v in row) for row in rows)
    return r"\begin{bmatrix}" + body + r"\end{bmatrix}"


def value_to_html(value) -> Markup:
    """A value as students should read it: 2D lists as a matrix, other lists as a row vector."""
    if isinstance(value, (list, tuple)) and value and all(
            isinstance(r, (list, tuple)) for r in value):
        return math_to_mathml(matrix_latex(value))
    if isinstance(value, (list, tuple)):
        return escape("[" + ", ".join(_format_number(v) for v in value) + "]")
    return escape(_format_number(value))


def _prose(text: str) -> Markup:
    """Escape prose, turning nested numeric lists into matrices and `code`/**bold** into tags."""
    out, last = [], 0
    for match in _NESTED_LIST.finditer(text):
        out.append(_inline(text[last:match.start()]))
        try:
            rows = ast.literal_eval(match.group(0))
            out.append(math_to_mathml(matrix_latex(rows)))
        except (ValueError, SyntaxError, TypeError):
            out.append(_inline(match.group(0)))
        last = match.end()
    out.append(_inline(text[last:]))
    return Markup("").join(out)


def _inline(text: str) -> Markup:
    out, last = [], 0
    for match in _INLINE.finditer(text):
        out.append(escape(text[last:match.start()]))
        if match.group(1) is not None:
            out.append(Markup("<code>") + escape(match.group(1)) + Markup("</code>"))
        else:
            out.append(Markup("<strong>") + escape(match.group(2)) + Markup("</strong>"))
        last = match.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


def render_text(text: str) -> Markup:
    """Inline rendering: `$...$` as MathML, the rest escaped prose."""
    out, last = [], 0
    for match in _MATH.finditer(text):
        out.append(_prose(text[last:match.start()]))
        if match.group(1) is not None:
            out.append(math_to_mathml(match.group(1), display=True))
        else:
            out.append(math_to_mathml(match.group(2)))
        last = match.end()
    out.append(_prose(text[last:]))
    return Markup("").join(out)


def render_prompt(text: str) -> Markup:
    """A prompt as paragraphs: blank lines separate them, single newlines are spaces (Markdown)."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text or "") if p.strip()]
    html = []
    for paragraph in paragraphs:
        joined = " ".join(line.strip() for line in paragraph.splitlines())
        html.append(Markup("<p>") + render_text(joined) + Markup("</p>"))
    return Markup("\n").join(html)


@dataclass(frozen=True)
class GridCell:
    text: str
    shade: int  # 0 (darkest) .. SHADES (lightest), a CSS class, since CSP forbids inline styles


def grid_cells(matrix: Sequence[Sequence[float]],
               bounds: tuple[float, float] | None = None) -> list[list[GridCell]]:
    """Cells of a shaded grid: the lowest value darkest, the highest lightest (like an image).

    ``bounds`` (low, high) shades several grids on one scale, so equal values look equal.
    """
    values = [float(v) for row in matrix for v in row if math.isfinite(float(v))]
    low, high = bounds or ((min(values), max(values)) if values else (0.0, 0.0))
    span = high - low
    grid = []
    for row in matrix:
        cells = []
        for v in row:
            v = float(v)
            level = SHADES // 2 if span == 0 or not math.isfinite(v) else round(
                (min(max(v, low), high) - low) / span * SHADES)
            cells.append(GridCell(_format_number(v), int(level)))
        grid.append(cells)
    return grid


def picture_figures(picture: Mapping) -> list[tuple[str, list[list[GridCell]]]]:
    """A wrong output's picture (a report's ``picture``) as three grids for ``_figures.html``.

    The expected and the student's grids share one shading scale; the third marks the cells
    that differ (dark, with a cross) among the right ones (light).
    """
    expected, got = picture.get("expected") or [], picture.get("got") or []
    values = [float(v) for grid in (expected, got) for row in grid for v in row
              if math.isfinite(float(v))]
    bounds = (min(values), max(values)) if values else None
    differ = [[GridCell("\u2717" if bad else "", 0 if bad else SHADES) for bad in row]
              for row in picture.get("wrong") or []]
    return [("expected", grid_cells(expected, bounds)), ("yours", grid_cells(got, bounds)),
            ("where they differ", differ)]


# --- Jinja filters and globals shared by every template ---------------------------------------

def format_points(value: float | None) -> str:
    """Points as a short number: 2, 1.5, 0.33."""
    if value is None:
        return ""
    return f"{value:g}" if float(value).is_integer() else f"{value:.2f}".rstrip("0")


def format_when(moment: datetime | None) -> str:
    """A timestamp for tables: 2025-01-31 14:05 (UTC)."""
    moment = as_utc(moment)
    return moment.strftime("%Y-%m-%d %H:%M") if moment else ""


def format_due(moment: datetime | None) -> str:
    """A due date for sentences: Fri 31 Jan 2025, 14:05 UTC."""
    moment = as_utc(moment)
    return moment.strftime("%a %d %b %Y, %H:%M UTC") if moment else ""


def has_endpoint(name: str) -> bool:
    """Lets the base template link to pages that a later blueprint may or may not provide."""
    return name in current_app.view_functions


def unsafe_sandbox_warning() -> dict:
    """`sandbox_warning` (and `sandbox_unsafe`, a `web.code.backend.UnsafeGrading`) for staff
    when student code is graded without isolation (the explicit
    `STRIDE_SANDBOX=unsafe-no-isolation` opt-out), by this server or by any live RQ worker of
    its queue; else None.
    """
    unsafe = unsafe_grading(current_app)
    if unsafe is None or not staff_link()["show_instructor_link"]:  # instructors, admins, TAs
        return {"sandbox_warning": None, "sandbox_unsafe": None}
    return {"sandbox_warning": unsafe.warning, "sandbox_unsafe": unsafe}


def staff_link() -> dict:
    """`show_instructor_link`: instructor and admin accounts, and TAs (staff of a course through
    their enrollment, whatever their account's role)."""
    if not current_user.is_authenticated:
        return {"show_instructor_link": False}
    if current_user.role in ("instructor", "admin"):
        return {"show_instructor_link": True}
    return {"show_instructor_link": is_staff(get_session(), current_user)}


def init_app(app: Flask) -> None:
    """Register the filters, globals and the sandbox warning shared by every template."""
    app.jinja_env.filters.update(math=render_text, value=value_to_html, points=format_points,
                                 when=format_when, due=format_due)
    app.jinja_env.globals.update(has_endpoint=has_endpoint, picture_figures=picture_figures)
    app.context_processor(unsafe_sandbox_warning)
    app.context_processor(staff_link)
