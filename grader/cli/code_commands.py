"""Code-exercise commands of the `grader` CLI: check, grade, batch.

``check`` is for students (public tests, their own code: without bubblewrap it runs with
resource limits only and says so once), ``grade`` and ``batch`` for instructors (public and
hidden tests, someone else's code: they refuse to run without isolation). All give the same
verdicts as the web app because all call :func:`grader.code.grade_source`.

Exit codes: 0 when every attempted test passes, 1 when some test fails (or nothing was
attempted), 2 for bad arguments, an unreadable file, or missing isolation.

Everything printed through rich that a student wrote or a message quotes is escaped, so
``[...]`` in code or messages shows as typed and never acts as markup.
"""

from __future__ import annotations

import ast
import contextlib
import csv
import json
import logging
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.markup import escape
from rich.padding import Padding
from rich.text import Text

from grader.code import (
    EXERCISES,
    CodeReport,
    FunctionReport,
    FunctionStatus,
    TestReport,
    Verdict,
    grade_source,
    load_spec,
)
from grader.code.source import decode_submission, parse_python, read_submission
from grader.errors import GraderError, NotText, StudentCodeError
from grader.sandbox.policy import IsolationUnavailable, require_isolation

if TYPE_CHECKING:  # the runner (and NumPy) load only for the commands that grade
    from grader.sandbox.runner import SandboxPool

VERDICT_STYLES = {Verdict.PASS: "green", Verdict.NOT_ATTEMPTED: "dim", Verdict.TIMEOUT: "yellow",
                  Verdict.MEMORY_LIMIT: "yellow"}
TEXT_PICTURE_MAX_SIDE = 8  # rows and columns of the largest grid printed as text
STATUS_STYLES = {FunctionStatus.PASSED: "green", FunctionStatus.NOT_ATTEMPTED: "dim"}


class IsolationRefused(click.ClickException):
    """Grading someone else's code without isolation was refused (exit code 2)."""

    exit_code = 2


def _read_decoded(path: Path) -> tuple[str, tuple[str, ...]]:
    """The program text of a ``.py`` file, an nbconvert export or a notebook's code cells, and
    the note saying how it was read when it was not UTF-8."""
    try:
        decoded = decode_submission(path.read_bytes())
        return read_submission(decoded.text, path.name), decoded.notes()
    except OSError as err:
        raise click.UsageError(f"cannot read {path}: {err.strerror}") from None
    except NotText:
        raise click.UsageError(f"{path} is not UTF-8 text: is it a Python file or a "
                               "notebook?") from None
    except StudentCodeError as err:
        raise click.UsageError(f"{path.name}: {err}") from None


def guess_exercise(source: str) -> str:
    """The exercise whose function names the file defines most (conv_step_by_step on a tie)."""
    try:
        names = {n.name for n in parse_python(source).body if isinstance(n, ast.FunctionDef)}
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        names = set()
    counts = {e: len(names & {f.name for f in load_spec(e).functions}) for e in EXERCISES}
    return max(EXERCISES, key=lambda e: (counts[e], e == "conv_step_by_step"))


def _run_with_progress(console: Console, source: str, **kwargs) -> CodeReport:
    """``grade_source`` under a transient progress bar, on a terminal only: in a pipe or a file
    rich draws no bar, so there the bar's machinery is not even imported (start-up time)."""
    if not console.is_terminal:
        return grade_source(source, **kwargs)
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("preparing tests", total=3)

        def step(phase: str) -> None:
            progress.update(task, description=f"{phase} tests", advance=1)

        report = grade_source(source, progress=step, **kwargs)
        progress.update(task, completed=3)
    return report


def render_report(console: Console, report: CodeReport, title: str,
                  audience: str = "student") -> None:
    """Warnings (one line each), then each function and its tests, then the score.

    One line per test; a failing test's message, hint and picture follow on their own
    indented lines, so they get the terminal's whole width rather than a squeezed column.
    Everything is printed as plain :class:`~rich.text.Text`: student text is never markup.
    ``audience="staff"`` adds each hidden test's case name and its full message.
    """
    for warning in report.warnings:
        # soft_wrap: one line, however narrow the terminal (it wraps it, we don't break it).
        console.print(f"[yellow]warning:[/] {escape(warning)}", soft_wrap=True)
    console.print(Text(title, style="bold underline"))
    for function in report.functions:
        _render_function(console, function, audience)
    console.print(f"Score: [bold]{report.score:g} / {report.max_score:g}[/]")


def _render_function(console: Console, function: FunctionReport, audience: str) -> None:
    heading = Text.assemble((function.name, "bold"), "  ",
                            (str(function.status), STATUS_STYLES.get(function.status, "red")))
    if function.status != FunctionStatus.NOT_ATTEMPTED:
        heading.append(f"  {function.score:g} / {function.max_score:g}")
    console.print(heading)
    if function.status == FunctionStatus.NOT_ATTEMPTED:
        return
    for test in function.tests:
        name, details = _shown(test, audience)
        style = VERDICT_STYLES.get(test.verdict, "red")
        mark = "ok" if test.passed else "x "
        console.print(Padding(Text.assemble((mark, style), " ", name, "  ",
                                            (str(test.verdict), style)), (0, 0, 0, 2)))
        lines = Text(details) if details else Text()
        if test.diagnosis:
            lines.append("\n" if details else "").append("Hint: ", "bold").append(
                test.diagnosis)
        if lines.plain:
            console.print(Padding(lines, (0, 0, 0, 6)))
        if _fits(test, console.width):
            console.print(Padding(Text(picture_text(test)), (0, 0, 0, 6)))


def _fits(test: TestReport, width: int) -> bool:
    """Only small pictures are printed, and only when a row fits the terminal unwrapped."""
    picture = test.picture
    if picture is None or len(picture.expected) > TEXT_PICTURE_MAX_SIDE:
        return False
    return 10 + 8 * len(picture.expected[0]) <= width


def picture_text(test: TestReport) -> str:
    """The test's picture of a wrong output as text: expected, yours, * where they differ."""
    picture = test.picture
    def rows(grid) -> list[str]:
        return [" ".join(f"{v:7.3g}" for v in row) for row in grid]

    marks = [" ".join(f"{'*' if bad else '.':>7}" for bad in row) for row in picture.wrong]
    blocks = [("expected", rows(picture.expected)), ("yours", rows(picture.got)),
              ("where they differ (*)", marks)]
    lines = [f"{picture.title}:"]
    for label, body in blocks:
        lines.append(f"  {label}")
        lines.extend("    " + line for line in body)
    return "\n".join(lines)


def _shown(test: TestReport, audience: str) -> tuple[str, str]:
    """The test's name and details, as plain text (never markup), for ``audience``."""
    name, message = test.name, test.message
    if audience == "staff" and test.hidden and test.staff_case is not None:
        name, message = f"{test.name} ({test.staff_case})", test.staff_message or message
    quiet = test.passed and not name.startswith("speed")
    return name, "" if quiet else message


def _exit_code(report: CodeReport) -> int:
    return 0 if report.all_attempted_pass else 1


@contextlib.contextmanager
def _sandbox_log_quiet():
    """The report carries the sandbox's warnings: don't let its log say them a second time."""
    logger = logging.getLogger("grader.sandbox")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _grade_file(file: Path, exercise: str | None, include_hidden: bool,
                functions: tuple[str, ...], as_json: bool, own_code: bool,
                audience: str = "student") -> None:
    source, decoding = _read_decoded(file)
    exercise = exercise or guess_exercise(source)
    kwargs = {"exercise": exercise, "include_hidden": include_hidden,
              "functions": list(functions) or None, "own_code": own_code}
    try:
        with _sandbox_log_quiet():
            if as_json:
                report = grade_source(source, **kwargs)
            else:
                console = Console()
                report = _run_with_progress(console, source, **kwargs)
    except IsolationUnavailable as err:
        raise IsolationRefused(str(err)) from None
    except (StudentCodeError, ValueError) as err:
        raise click.UsageError(str(err)) from None
    except GraderError as err:
        raise click.ClickException(str(err)) from None
    report = replace(report, warnings=decoding + report.warnings)
    if as_json:
        click.echo(json.dumps(report.to_json(audience=audience), indent=2))
    else:
        scope = "public and hidden tests" if include_hidden else "public tests"
        render_report(console, report, f"{file.name}: {exercise} ({scope})", audience)
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
    """Run the public tests on your exercise FILE, in the sandbox.

    Without bubblewrap your own code runs with resource limits only, and the report says so.
    """
    _grade_file(file, exercise, False, functions, as_json, own_code=True)


@click.command("grade")
@FILE
@EXERCISE
@AS_JSON
@click.option("--student-view", is_flag=True,
              help="Show the report as the student sees it (hidden tests' details left out).")
def grade_command(file: Path, exercise: str | None, as_json: bool, student_view: bool) -> None:
    """Grade FILE with the public and hidden tests (for instructors and the server).

    Refuses to run (exit code 2) unless bubblewrap isolates the code.
    """
    _grade_file(file, exercise, True, (), as_json, own_code=False,
                audience="student" if student_view else "staff")


def _batch_row(file: Path, exercise: str | None, pool: SandboxPool) -> dict[str, object]:
    """One CSV row; whatever one file does, it ends up in the row's ``error`` column."""
    row: dict[str, object] = {"file": file.name}
    try:
        source = read_submission(decode_submission(file.read_bytes()).text, file.name)
        chosen = exercise or guess_exercise(source)
        report = grade_source(source, exercise=chosen, pool=pool)
    except IsolationUnavailable:
        raise  # never grade the rest without isolation either
    except NotText as err:
        return {**row, "score": 0, "error": f"not UTF-8 text (byte {err.start} cannot be "
                                            "read): is it a Python file?"}
    except (OSError, StudentCodeError) as err:
        return {**row, "score": 0, "error": str(err)[:200]}
    except Exception as err:  # noqa: BLE001 - one file must never stop the batch
        return {**row, "score": 0, "error": f"the grader failed on this file "
                f"({type(err).__name__}: {str(err)[:120]}); grade it alone with `grader grade`"}
    row.update(exercise=chosen, score=report.score, max_score=report.max_score,
               error=_graded_note(source, report))
    for function in report.functions:
        row[function.name] = function.score
    return row


def _graded_note(source: str, report: CodeReport) -> str:
    """Why a graded file scored as it did, when the file itself is the reason; else ""."""
    try:
        parse_python(source)
    except SyntaxError as err:
        return f"not valid Python: {err.msg} (line {err.lineno})"[:200]
    except (ValueError, RecursionError, MemoryError) as err:
        return f"not valid Python: {type(err).__name__} while parsing (nested too deeply?)"
    for test in (t for f in report.functions for t in f.tests):
        message = test.staff_message or test.message
        if "while loading your file" in message:
            return message.splitlines()[0][:200]
    if all(f.status == FunctionStatus.NOT_ATTEMPTED for f in report.functions):
        return "nothing attempted: the file defines none of the exercise's functions"
    return ""


@click.command("batch")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="CSV file to write, one row per submission.")
@click.option("--jobs", type=click.IntRange(1, 64), default=2, show_default=True,
              help="Submissions graded in parallel.")
@EXERCISE
def batch_command(directory: Path, out: Path, jobs: int, exercise: str | None) -> None:
    """Grade every .py and .ipynb file in DIRECTORY (public and hidden tests) into a CSV of scores.

    Refuses to run (exit code 2) unless bubblewrap isolates the code. A file that cannot be
    graded gets a row that says why in its ``error`` column; the others are graded anyway.
    """
    files = sorted([*directory.glob("*.py"), *directory.glob("*.ipynb")])
    if not files:
        raise click.UsageError(f"no .py or .ipynb files in {directory}")
    try:
        require_isolation()
        rows = _grade_all(files, exercise, jobs)
    except IsolationUnavailable as err:
        raise IsolationRefused(str(err)) from None
    _write_csv(out, sorted(rows, key=lambda r: str(r["file"])))
    click.echo(f"graded {len(rows)} files -> {out}")


def _grade_all(files: list[Path], exercise: str | None, jobs: int) -> list[dict[str, object]]:
    from concurrent.futures import ThreadPoolExecutor, as_completed

    from grader.sandbox.runner import SandboxPool

    pool = SandboxPool(jobs)
    rows = []
    try:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

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
    return rows


def _write_csv(out: Path, rows: list[dict[str, object]]) -> None:
    fixed = ["file", "exercise", "score", "max_score"]
    extra = sorted({k for r in rows for k in r} - set(fixed) - {"error"})
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=[*fixed, *extra, "error"], restval="")
        writer.writeheader()
        writer.writerows(rows)


COMMANDS: list = [check_command, grade_command, batch_command]
