"""Terminal rendering of prompts and variants for the `grader` command: the one home of how a
problem looks in a terminal.

:func:`to_terminal` turns a prompt's LaTeX into readable text (``×``, ``⌊ ⌋``, matrices drawn as
aligned rows); :func:`print_preview` shows a whole variant with rich, figures as grey grids.
"""

from __future__ import annotations

import json
import re
import sys

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from grader.grading import describe_answer
from grader.prompts import format_number
from grader.variants import Figure, Variant

_SYMBOLS = {
    r"\times": "×", r"\cdot": "·", r"\lfloor": "⌊", r"\rfloor": "⌋", r"\lceil": "⌈",
    r"\rceil": "⌉", r"\le": "≤", r"\leq": "≤", r"\ge": "≥", r"\geq": "≥", r"\ne": "≠",
    r"\neq": "≠", r"\to": "→", r"\rightarrow": "→", r"\infty": "∞", r"\int": "∫", r"\sum": "Σ",
    r"\ast": "*", r"\star": "⋆", r"\approx": "≈", r"\in": "∈", r"\quad": "  ", r"\qquad": "    ",
    r"\ldots": "...", r"\dots": "...", r"\cdots": "...", r"\pm": "±", r"\tau": "τ",
    r"\log": "log", r"\max": "max", r"\min": "min", r"\exp": "exp", r"\sigma": "σ",
    r"\{": "{", r"\}": "}", r"\%": "%", r"\circledast": "⊛", r"\otimes": "⊗",
}
_SYMBOL_RE = re.compile("|".join(re.escape(k) + r"(?![a-zA-Z])" for k in
                                 sorted(_SYMBOLS, key=len, reverse=True)))
_MATRIX_RE = re.compile(r"\\begin\{[bp]?matrix\}(.*?)\\end\{[bp]?matrix\}", re.S)
_MATH_RE = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$", re.S)


def _matrix_rows(body: str) -> list[list[str]]:
    return [[cell.strip() for cell in row.split("&")] for row in body.split(r"\\") if row.strip()]


def _draw_matrix(rows: list[list[str]]) -> str:
    width = max((len(c) for row in rows for c in row), default=1)
    lines = ["[ " + " ".join(c.rjust(width) for c in row) + " ]" for row in rows]
    return "\n" + "\n".join("    " + line for line in lines) + "\n"


def _math_to_text(math: str, display: bool) -> str:
    def matrix(match: re.Match[str]) -> str:
        rows = _matrix_rows(match.group(1))
        if display or len(rows) > 1:
            return _draw_matrix(rows)
        return "[" + ", ".join(rows[0]) + "]"

    text = _MATRIX_RE.sub(matrix, math)
    text = re.sub(r"\\frac\{([^{}]*)\}\{([^{}]*)\}", r"(\1)/(\2)", text)
    text = re.sub(r"\\(?:text|mathrm|mathbf|operatorname)\{([^{}]*)\}", r"\1", text)
    text = re.sub(r"\\(?:left|right|big|Big)\b", "", text)
    text = _SYMBOL_RE.sub(lambda m: _SYMBOLS[m.group(0)], text)
    text = re.sub(r"\^\{([^{}]*)\}", r"^\1", text)
    text = re.sub(r"_\{([^{}]*)\}", r"_\1", text)
    text = text.replace(r"\,", " ").replace(r"\;", " ").replace("{,}", ",")
    return text.replace("{", "").replace("}", "").strip() if "\n" not in text else text


def to_terminal(text: str) -> str:
    """Prompt text with its LaTeX math made readable in a terminal."""

    def replace(match: re.Match[str]) -> str:
        display = match.group(1) is not None
        return _math_to_text(match.group(1) if display else match.group(2), display)

    return _MATH_RE.sub(replace, text)


def make_console() -> Console:
    """A console on stdout that wraps softly and does not colour numbers by itself."""
    return Console(file=sys.stdout, highlight=False, soft_wrap=True)


def print_preview(variant: Variant) -> None:
    """A variant as an instructor previews it: prompt, options, parameters, answer, mistakes."""
    console = make_console()
    console.rule(f"[bold]{escape(variant.title)}[/] ({variant.problem_id}, seed {variant.seed})")
    console.print(escape(to_terminal(variant.prompt)))
    print_options(console, variant)
    console.print()
    params = Table("parameter", "value", box=None)
    for name, value in variant.params.items():
        params.add_row(name, escape(json.dumps(value)))
    console.print(params)
    console.print(f"[bold]answer[/] ({variant.answer_type}): {escape(describe_answer(variant))}")
    for m in variant.mistakes:
        console.print(f"  mistake [cyan]{m.tag}[/]: {escape(json.dumps(m.value))}")
    for fig in variant.figures:
        console.print(f"figure [bold]{escape(fig.name)}[/] ({len(fig.matrix)} x "
                      f"{len(fig.matrix[0])}):")
        console.print(figure_table(fig))


def figure_table(fig: Figure) -> Table:
    """A matrix as a grid of grey cells, dark for the smallest value and light for the largest,
    the way the course draws images and filters."""
    values = [v for row in fig.matrix for v in row]
    low, high = min(values), max(values)
    table = Table(show_header=False, box=None, padding=(0, 1), pad_edge=False)
    for _ in fig.matrix[0]:
        table.add_column(justify="right")
    for row in fig.matrix:
        cells = []
        for v in row:
            grey = 40 + int(200 * (v - low) / (high - low)) if high > low else 140
            ink = "black" if grey > 130 else "white"
            cells.append(Text(format_number(v), style=f"{ink} on rgb({grey},{grey},{grey})"))
        table.add_row(*cells)
    return table


def print_options(console: Console, variant: Variant) -> None:
    """The options of a choice problem, lettered (a), (b), ..."""
    for i, option in enumerate(variant.options or ()):
        console.print(f"  ({chr(ord('a') + i)}) {escape(to_terminal(option))}")
