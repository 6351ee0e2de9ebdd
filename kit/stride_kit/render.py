"""The report as text (terminal; colour when rich is installed) and as HTML (notebooks)."""

from __future__ import annotations

import html
import sys

from ._core.report import CodeReport, FunctionStatus, TestReport


def _details(test: TestReport) -> list[str]:
    lines = [] if test.passed and not test.name.startswith("speed") else test.message.splitlines()
    if test.diagnosis:
        lines.append(f"Hint: {test.diagnosis}")
    return lines


def text(report: CodeReport, title: str) -> str:
    """Warnings, then each function and its tests, then the score, as plain text."""
    out = [f"warning: {w}" for w in report.warnings] + [title]
    for function in report.functions:
        head = f"{function.name}  {function.status}"
        if function.status != FunctionStatus.NOT_ATTEMPTED:
            head += f"  {function.score:g} / {function.max_score:g}"
        out.append(head)
        if function.status == FunctionStatus.NOT_ATTEMPTED:
            continue
        for test in function.tests:
            out.append(f"  {'ok' if test.passed else 'x '} {test.name}  {test.verdict}")
            out.extend(f"      {line}" for line in _details(test))
    out.append(f"Score: {report.score:g} / {report.max_score:g}")
    return "\n".join(out)


def print_report(report: CodeReport, title: str) -> None:
    """Print the report, in colour through rich when it is installed and this is a terminal."""
    if not sys.stdout.isatty():
        print(text(report, title))
        return
    try:
        from rich.console import Console
        from rich.text import Text
    except ImportError:
        print(text(report, title))
        return
    console = Console()
    for line in text(report, title).splitlines():
        style = ("green" if line.lstrip().startswith("ok ") else
                 "red" if line.lstrip().startswith("x ") else None)
        console.print(Text(line, style=style or ""))


def to_html(report: CodeReport, title: str) -> str:
    """A table for Jupyter: one row per test; every text escaped."""
    rows = []
    for function in report.functions:
        if function.status == FunctionStatus.NOT_ATTEMPTED or not function.tests:
            rows.append(f"<tr><td>{html.escape(function.name)}</td><td></td>"
                        f"<td>{html.escape(str(function.status))}</td><td></td></tr>")
            continue
        for test in function.tests:
            colour = "#1a7f37" if test.passed else "#cf222e"
            details = "<br>".join(html.escape(line) for line in _details(test))
            rows.append(f"<tr><td>{html.escape(function.name)}</td>"
                        f"<td>{html.escape(test.name)}</td>"
                        f"<td style='color:{colour}'>{html.escape(str(test.verdict))}</td>"
                        f"<td style='text-align:left'>{details}</td></tr>")
    notes = "".join(f"<p><em>{html.escape(w)}</em></p>" for w in report.warnings)
    return (f"<div><strong>{html.escape(title)}</strong>{notes}<table><thead><tr>"
            "<th>function</th><th>test</th><th>verdict</th><th>details</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
            f"<p>Score: {report.score:g} / {report.max_score:g}</p></div>")


class Result:
    """What :func:`check` returns: shows as a table in Jupyter and as text elsewhere."""

    def __init__(self, report: CodeReport, title: str) -> None:
        self.report, self.title = report, title

    @property
    def passed(self) -> bool:
        return self.report.all_attempted_pass

    def _repr_html_(self) -> str:
        return to_html(self.report, self.title)

    def __repr__(self) -> str:
        return text(self.report, self.title)
