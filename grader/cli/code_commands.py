"""Code-exercise commands of the `grader` CLI: check, grade, batch.

``check`` is for students (public tests), ``grade`` for instructors and the server (public and
hidden tests); both give the same verdicts as the web app because both call
:func:`grader.codegrade.grade_source`. Exit codes: 0 when every attempted test passes, 1 when
some test fails (or nothing was attempted), 2 for bad arguments or an unreadable file.
"""

from __future__ import annotations

import ast
import csv
import json
import sys
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from grader.codegrade import EXERCISES, CodeReport, grade_source, load_spec
from grader.errors import GraderError, StudentCodeError
from grader.sandbox import SandboxPool

VERDICT_STYLES = {"pass": "green", "not attempted": "dim", "timeout": "yellow",
                  "memory limit": "yellow"}


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except OSError as err:
        raise click.UsageError(f"cannot read {path}: {err.strerror}") from None
    except UnicodeDecodeError:
        raise click.UsageError(f"{path} is not UTF-8 text: is it a Python file?") from None


def guess_exercise(source: str) -> str:
    """The exercise whose function names the file defines most (conv_step_by_step on a tie)."""
    try:
        names = {n.name for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)}
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        names = set()
    counts = {e: len(names & {f.name for f in load_spec(e).functions}) for e in EXERCISES}
    return max(EXERCISES, key=lambda e: (counts[e], e == "conv_step_by_step"))


def _run_with_progress(console: Console, source: str, **kwargs) -> CodeReport:
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("preparing tests", total=3)

        def step(phase: str) -> None:
            progress.update(task, description=f"{phase} tests", advance=1)

        report = grade_source(source, progress=step, **kwargs)
        progress.update(task, completed=3)
    return report


def render_report(console: Console, report: CodeReport, title: str) -> None:
    """A table of functions x tests with verdicts, messages and diagnoses."""
    table = Table(title=title, show_lines=False, expand=True)
    table.add_column("Function", style="bold", no_wrap=True)
    table.add_column("Test")
    table.add_column("Verdict", no_wrap=True)
    table.add_column("Details", ratio=3)
    for function in report.functions:
        if function.status == "not attempted":
            table.add_row(function.name, "", "[dim]not attempted[/]", "")
            continue
        for i, test in enumerate(function.tests):
            style = VERDICT_STYLES.get(test.verdict, "red")
            details = "" if test.passed and not test.name.startswith("speed") else test.message
            if test.diagnosis:
                details += f"\n[bold]Hint:[/] {test.diagnosis}"
            table.add_row(function.name if i == 0 else "", test.name,
                          f"[{style}]{test.verdict}[/]", details, end_section=(
                              i == len(function.tests) - 1))
    console.print(table)
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    console.print(f"Score: [bold]{report.score:g} / {report.max_score:g}[/]")


def _exit_code(report: CodeReport) -> int:
    return 0 if report.all_attempted_pass else 1


def _grade_file(file: Path, exercise: str | None, include_hidden: bool,
                functions: tuple[str, ...], as_json: bool) -> None:
    source = _read(file)
    exercise = exercise or guess_exercise(source)
    kwargs = {"exercise": exercise, "include_hidden": include_hidden,
              "functions": list(functions) or None}
    try:
        if as_json:
            report = grade_source(source, **kwargs)
        else:
            console = Console()
            report = _run_with_progress(console, source, **kwargs)
    except (StudentCodeError, ValueError) as err:
        raise click.UsageError(str(err)) from None
    except GraderError as err:
        raise click.ClickException(str(err)) from None
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        scope = "public and hidden tests" if include_hidden else "public tests"
        render_report(console, report, f"{file.name}: {exercise} ({scope})")
    sys.exit(_exit_code(report))


FILE = click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
EXERCISE = click.option("--exercise", type=click.Choice(EXERCISES), default=None,
                        help="Which exercise the file solves (default: guessed from its "
                             "function names).")
AS_JSON = click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")


@click.command("check")
@FILE
@click.option("--function", "functions", multiple=True, metavar="NAME",
              help="Check only this function (repeat for several).")
@EXERCISE
@AS_JSON
def check_command(file: Path, functions: tuple[str, ...], exercise: str | None,
                  as_json: bool) -> None:
    """Run the public tests on your exercise FILE, in the sandbox."""
    _grade_file(file, exercise, False, functions, as_json)


@click.command("grade")
@FILE
@EXERCISE
@AS_JSON
def grade_command(file: Path, exercise: str | None, as_json: bool) -> None:
    """Grade FILE with the public and hidden tests (for instructors and the server)."""
    _grade_file(file, exercise, True, (), as_json)


def _batch_row(file: Path, exercise: str | None, pool: SandboxPool) -> dict[str, object]:
    row: dict[str, object] = {"file": file.name}
    try:
        source = file.read_bytes().decode("utf-8")
        chosen = exercise or guess_exercise(source)
        report = grade_source(source, exercise=chosen, pool=pool)
    except (OSError, UnicodeDecodeError, StudentCodeError) as err:
        row.update(score=0, max_score="", error=str(err)[:200])
        return row
    row.update(exercise=chosen, score=report.score, max_score=report.max_score, error="")
    for function in report.functions:
        row[function.name] = function.score
    return row


@click.command("batch")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="CSV file to write, one row per submission.")
@click.option("--jobs", type=click.IntRange(1, 64), default=2, show_default=True,
              help="Submissions graded in parallel.")
@EXERCISE
def batch_command(directory: Path, out: Path, jobs: int, exercise: str | None) -> None:
    """Grade every .py file in DIRECTORY (public and hidden tests) into a CSV of scores."""
    files = sorted(directory.glob("*.py"))
    if not files:
        raise click.UsageError(f"no .py files in {directory}")
    pool = SandboxPool(jobs)
    rows = []
    try:
        with Progress(TextColumn("grading"), BarColumn(), TextColumn("{task.completed}/"
                      "{task.total}"), TimeElapsedColumn(), console=Console(stderr=True)) as bar:
            task = bar.add_task("grading", total=len(files))
            with ThreadPoolExecutor(max_workers=jobs) as executor:
                futures = [executor.submit(_batch_row, f, exercise, pool) for f in files]
                for future in as_completed(futures):
                    rows.append(future.result())
                    bar.advance(task)
    finally:
        pool.shutdown()
    _write_csv(out, sorted(rows, key=lambda r: str(r["file"])))
    click.echo(f"graded {len(rows)} files -> {out}")


def _write_csv(out: Path, rows: list[dict[str, object]]) -> None:
    fixed = ["file", "exercise", "score", "max_score"]
    extra = sorted({k for r in rows for k in r} - set(fixed) - {"error"})
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=[*fixed, *extra, "error"], restval="")
        writer.writeheader()
        writer.writerows(rows)


COMMANDS: list = [check_command, grade_command, batch_command]
