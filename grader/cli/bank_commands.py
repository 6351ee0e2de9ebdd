"""Problem-bank commands of the `grader` CLI: list, schema, lint, preview, answer, practice.

Exit codes: 0 on success (a wrong or unreadable answer is still a success of `grader answer`),
1 when the bank does not load or `lint` finds anything, 2 for bad arguments or an unknown id.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import click
import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from grader.answers import answer_hint
from grader.bank import (
    DEFAULT_PROBLEMS_DIR,
    TOPICS,
    Bank,
    BankError,
    Problem,
    load_bank,
    load_problem_file,
    schema_text,
)
from grader.cli.terminal import make_console, print_options, print_preview, to_terminal
from grader.errors import FormatError, ProblemSpecError
from grader.grading import describe_answer, grade_raw
from grader.lint import LintReport, lint_problems
from grader.variants import Variant, generate

DEFAULT_LINT_VARIANTS = 500

bank_option = click.option(
    "--bank", "bank_dir", type=click.Path(file_okay=False, path_type=Path),
    default=None, show_default="./problems when the current folder has one, else the bank "
    "installed with Stride", help="The problem bank folder.",
)


def find_bank(bank_dir: Path | None) -> Path:
    """``--bank``, else ``problems/`` of the current folder when it has one, else the bundled."""
    if bank_dir is not None:
        return Path(bank_dir)
    here = Path.cwd() / "problems"
    return here if here.is_dir() and any(here.rglob("*.y*ml")) else DEFAULT_PROBLEMS_DIR


_LOADED: dict[tuple, Bank] = {}


def _fingerprint(root: Path) -> tuple:
    files = sorted(root.rglob("*.y*ml")) if root.is_dir() else []
    return (str(root.resolve()), tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size)
                                       for p in files))


def _load(bank_dir: Path | None, quiet: bool = False) -> Bank:
    """The bank, loaded once per process while its files are unchanged; says which (stderr)
    unless ``quiet`` (JSON output)."""
    bank_dir = find_bank(bank_dir)
    if not quiet:
        click.echo(f"bank: {bank_dir}", err=True)
    key = _fingerprint(Path(bank_dir))
    if key in _LOADED:
        return _LOADED[key]
    try:
        bank = _LOADED[key] = load_bank(bank_dir)
        return bank
    except BankError as exc:
        for line in exc.errors:
            click.echo(line, err=True)
        raise SystemExit(1) from exc


def _problem(bank: Bank, problem_id: str) -> Problem:
    problem = bank.problems.get(problem_id)
    if problem is None:
        near = [p for p in bank.problems if problem_id in p or p in problem_id][:5]
        hint = f" Did you mean: {', '.join(near)}?" if near else " See `grader list`."
        raise click.UsageError(f"no problem with id {problem_id!r}.{hint}")
    return problem


def _parse_set(values: tuple[str, ...]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for item in values:
        name, sep, text = item.partition("=")
        if not sep or not name.strip() or not text.strip():
            raise click.BadParameter(f"expected name=value, got {item!r}", param_hint="--set")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text.strip()
        overrides[name.strip()] = value
    return overrides


def _variant(problem: Problem, seed: int, overrides: Mapping[str, Any]) -> Variant:
    try:
        return generate(problem, seed, overrides)
    except ProblemSpecError as exc:
        raise click.UsageError(str(exc)) from exc


set_option = click.option("--set", "set_values", multiple=True, metavar="NAME=VALUE",
                          help="Fix a parameter (repeatable), e.g. --set n=63 --set x=[1,2,3].")
seed_option = click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
                           help="The variant's seed.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


# ---------------------------------------------------------------------------------------------
# list, schema


@click.command("list")
@click.option("--topic", type=click.Choice(TOPICS), help="Only problems of this topic.")
@json_option
@bank_option
def list_command(topic: str | None, as_json: bool, bank_dir: Path) -> None:
    """List the problems: id, title, topic and answer type."""
    bank = _load(bank_dir, quiet=as_json)
    rows = [p for p in bank.problems.values() if topic is None or p.topic == topic]
    rows.sort(key=lambda p: (TOPICS.index(p.topic), p.id))
    if as_json:
        click.echo(json.dumps([{"id": p.id, "title": p.title, "topic": p.topic,
                                "answer_type": p.answer_type} for p in rows], indent=2))
        return
    table = Table("id", "title", "topic", "answer type", title=f"{len(rows)} problems")
    for p in rows:
        table.add_row(p.id, escape(p.title), p.topic, p.answer_type)
    make_console().print(table)


@click.command("schema")
@click.option("--kind", type=click.Choice(["problem", "set"]), default=None,
              help="Only problem files or only set files (default: either).")
def schema_command(kind: str | None) -> None:
    """Print the JSON Schema of problem and problem-set files (for editors; the shipped copies
    are problems/schema/problem.schema.json and set.schema.json)."""
    click.echo(schema_text(kind), nl=False)


# ---------------------------------------------------------------------------------------------
# preview, answer


@click.command("preview")
@click.argument("problem_id")
@seed_option
@set_option
@json_option
@bank_option
def preview_command(problem_id: str, seed: int, set_values: tuple[str, ...], as_json: bool,
                    bank_dir: Path) -> None:
    """Show one variant: the prompt, the parameters and the expected answer."""
    overrides = _parse_set(set_values)
    problem = _problem(_load(bank_dir, quiet=as_json), problem_id)
    variant = _variant(problem, seed, overrides)
    if as_json:
        click.echo(json.dumps({"id": variant.problem_id, "seed": variant.seed,
                               "params": variant.params, "prompt": variant.prompt,
                               "answer": variant.answer, "answer_type": variant.answer_type},
                              indent=2))
        return
    print_preview(variant)


@click.command("answer")
@click.argument("problem_id")
@click.argument("answer")
@seed_option
@set_option
@json_option
@bank_option
def answer_command(problem_id: str, answer: str, seed: int, set_values: tuple[str, ...],
                   as_json: bool, bank_dir: Path) -> None:
    """Grade one answer to a variant (a format error is reported, not graded)."""
    overrides = _parse_set(set_values)
    variant = _variant(_problem(_load(bank_dir, quiet=as_json), problem_id), seed, overrides)
    try:
        result = grade_raw(variant, answer)
    except FormatError as exc:
        click.echo(json.dumps({"format_error": str(exc)}) if as_json
                   else f"Could not read that answer: {exc}")
        return
    if as_json:
        click.echo(json.dumps({"correct": result.correct, "score": result.score,
                               "feedback": result.feedback, "mistake": result.mistake,
                               "read_as": result.read_as}))
        return
    verdict = "correct" if result.correct else f"score {result.score:g}"
    click.echo(f"Read as {result.read_as}: {verdict}. {result.feedback}")
    if result.mistake:
        click.echo(f"(mistake: {result.mistake})")


# ---------------------------------------------------------------------------------------------
# lint


@click.command("lint")
@click.argument("path", required=False, type=click.Path(exists=True, path_type=Path))
@click.option("--variants", "count", type=click.IntRange(min=1), default=DEFAULT_LINT_VARIANTS,
              show_default=True, help="Variants generated per template.")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Worker processes (default: the number of CPUs, at most 4).")
def lint_command(path: Path | None, count: int, jobs: int | None) -> None:
    """Load the bank and check many variants of every template; exit 1 on any finding."""
    console = make_console()
    root = path or find_bank(None)
    click.echo(f"bank: {root}", err=True)
    try:
        bank = _load_for_lint(root)
    except BankError as exc:
        console.print(f"[bold red]The bank does not load[/] ({len(exc.errors)} finding(s)):")
        for line in exc.errors:
            console.print(f"  [red]x[/] {escape(line)}")
        raise SystemExit(1) from exc
    ordered = sorted(bank.problems.values(), key=lambda p: (TOPICS.index(p.topic), p.id))
    jobs = jobs or min(4, os.cpu_count() or 1)
    reports = lint_problems({p.id: p for p in ordered}, count, jobs,
                            root if root.is_dir() else None)
    table = Table("problem", "topic", "seeds", "distinct", "mistake tags", "result",
                  title=f"lint: {len(bank.problems)} problems, {count} variants each")
    failures = _print_findings(console, table, ordered, reports)
    console.print(table)
    missing = [t for t in TOPICS if not bank.by_topic(t)]
    if missing:
        console.print(f"[yellow]topics without a problem:[/] {', '.join(missing)}")
    console.print(f"{len(bank.sets)} problem set(s): {', '.join(sorted(bank.sets)) or '-'}")
    if failures:
        console.print(f"[bold red]{failures} problem(s) with findings[/]")
        raise SystemExit(1)
    console.print(f"[bold green]All {len(bank.problems)} problems pass.[/]")


def _print_findings(console: Console, table: Table, ordered: list[Problem],
                    reports: Mapping[str, LintReport]) -> int:
    """Print each finding and add a row per problem; the number of problems with findings."""
    failures = 0
    for problem in ordered:
        report = reports[problem.id]
        failures += bool(report.findings)
        status = "[green]ok[/]" if not report.findings else f"[red]{len(report.findings)}[/]"
        table.add_row(problem.id, problem.topic, str(report.variants), str(report.distinct),
                      str(len(report.tags)), status)
        for finding in report.findings:
            console.print(f"[red]x[/] {escape(str(problem.source.name))}: problem "
                          f"{problem.id!r}: {escape(finding)}")
    return failures


def _load_for_lint(root: Path) -> Bank:
    """The whole bank under a folder, or the problems of one file (without sets)."""
    if root.is_dir():
        return load_bank(root)
    problems, errors = load_problem_file(root, root.parent)
    if errors:
        raise BankError(errors)
    return Bank(problems={p.id: p for p in problems}, sets={})


# ---------------------------------------------------------------------------------------------
# practice


def _read_line(prompt: str) -> str | None:
    click.echo(prompt, nl=False)
    line = sys.stdin.readline()
    if not line:
        return None
    return line.rstrip("\n")


@click.command("practice")
@click.option("--topic", type=click.Choice(TOPICS), help="Only problems of this topic.")
@click.option("--seed", type=click.IntRange(min=0), default=None,
              help="Start from this seed (for a repeatable session).")
@click.option("--attempts", type=click.IntRange(min=1), default=3, show_default=True)
@bank_option
def practice_command(topic: str | None, seed: int | None, attempts: int, bank_dir: Path) -> None:
    """An interactive quiz with fresh variants; type q (or end the input) to stop."""
    bank = _load(bank_dir)
    pool = sorted((p for p in bank.problems.values() if topic is None or p.topic == topic),
                  key=lambda p: p.id)
    rng = np.random.default_rng(seed)
    console = make_console()
    console.print("[bold]Practice[/]: answer each question; type [bold]q[/] to stop.")
    solved = asked = 0
    while True:
        problem = pool[int(rng.integers(len(pool)))]
        variant = generate(problem, int(rng.integers(2**31)))
        outcome, stop = _ask(console, variant, attempts, _read_line)
        if outcome is not None:
            asked += 1
            solved += outcome
        if stop:
            break
    console.print(f"You solved {solved} of {asked} question(s). See you next time!")


def _ask(console: Console, variant: Variant, attempts: int,
         read: Callable[[str], str | None]) -> tuple[bool | None, bool]:
    """Ask one variant: (solved, or None if never answered; whether the student quit)."""
    console.rule(escape(variant.title))
    console.print(escape(to_terminal(variant.prompt)))
    print_options(console, variant)
    console.print(f"[dim]{escape(answer_hint(variant.answer_type))}[/]")
    used = 0
    while used < attempts:
        raw = read(f"answer ({attempts - used} left)> ")
        if raw is None or raw.strip().lower() in ("q", "quit", "exit"):
            console.print()
            return (False if used else None), True
        try:
            result = grade_raw(variant, raw)
        except FormatError as exc:
            console.print(f"[yellow]I couldn't read that:[/] {escape(str(exc))}")
            continue
        used += 1
        colour = "green" if result.correct else "red"
        console.print(f"[{colour}]read as {escape(result.read_as)}[/]: {escape(result.feedback)}")
        if result.correct:
            return True, False
    console.print(f"The answer was: [bold]{escape(describe_answer(variant))}[/]")
    return False, False


COMMANDS: list = [list_command, schema_command, lint_command, preview_command, answer_command,
                  practice_command]
