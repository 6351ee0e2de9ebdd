"""Checks the linter runs before a bank is published: the one home of "may this template reach
students", with findings that name the file, the line and the seed.

:func:`publish_check` runs :func:`grader.lint.lint_problem` on the problems of the changed
files (``PUBLISH_SEEDS`` seeds each, while one file takes well under a second) and turns every
failure (a variant that fails to generate, render or grade, an author's test that fails) into a
:class:`Finding` that keeps the bank from being published. Degenerate draws and gaps in the
feedback's coverage are findings too, but warnings: they are said when the bank is published,
and are no reason to keep a template that works from the students. Results are remembered per
(file text, problem, seeds), so an unchanged template is never linted twice in one process.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from grader.bank.lines import problem_line
from grader.bank.problem import Problem
from grader.lint import LintReport, lint_problem

PUBLISH_SEEDS = 60  # seeds linted per changed template before it is published
_SEED = re.compile(r"^seed (\d+): ")
_FIELD = re.compile(r"field '([\w.]+)'")
_CACHE: dict[tuple[str, str, int], LintReport] = {}


@dataclass(frozen=True)
class Finding:
    """One reason a template may not be published."""

    file: str
    line: int | None
    problem_id: str
    seed: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        seed = f"seed {self.seed}: " if self.seed is not None else ""
        return f"{where}: problem {self.problem_id!r}: {seed}{self.message}"


def _report(problem: Problem, text: str, count: int) -> LintReport:
    key = (hashlib.sha256(text.encode("utf-8")).hexdigest(), problem.id, count)
    if key not in _CACHE:
        try:
            _CACHE[key] = lint_problem(problem, count)
        except Exception as exc:  # noqa: BLE001 - whatever breaks a template is a finding
            return LintReport(problem.id, count, (f"the template fails: {exc!r}",), frozenset())
    return _CACHE[key]


def _field_of(message: str) -> str | None:
    match = _FIELD.search(message)
    if match:
        return match.group(1)
    for field in ("options", "answer", "mistakes"):
        if field.rstrip("s") in message:
            return field
    return None


def finding_of(problem: Problem, text: str, shown: str, line: str) -> Finding:
    """A lint finding (``"seed 7: ..."``) of ``problem`` as a Finding with its file and line."""
    match = _SEED.match(line)
    seed = int(match.group(1)) if match else None
    message = line[match.end():] if match else line
    field = _field_of(message)
    number = (problem_line(text, problem.id, field) if field else None) or problem_line(
        text, problem.id)
    return Finding(shown, number, problem.id, seed, message)


# Findings about the feedback's coverage (grader.lint_feedback): `grader lint` fails on them, but
# they are no reason to keep a template that works from the students.
_FEEDBACK = ("all seeds: only ", "has no explanation", "gives the answer away")


def blocks(line: str, report: LintReport) -> bool:
    """Whether a lint finding keeps its template from being published: a variant that fails to
    generate, render or grade, or a failing author's test (not a degenerate draw, nor a gap in
    the feedback's coverage)."""
    return line not in report.degenerate and not any(mark in line for mark in _FEEDBACK)


@dataclass(frozen=True)
class PublishCheck:
    """What linting the changed templates found: ``failures`` keep the bank from being
    published; ``warnings`` (degenerate draws, feedback gaps) are said when it is."""

    failures: tuple[Finding, ...] = ()
    warnings: tuple[Finding, ...] = ()


def publish_check(problems: Iterable[Problem], root: Path,
                  count: int = PUBLISH_SEEDS) -> PublishCheck:
    """Every finding over ``count`` seeds of each of ``problems`` (their files under ``root``)."""
    failures: list[Finding] = []
    warnings: list[Finding] = []
    for problem in problems:
        text = Path(problem.source).read_text(encoding="utf-8")
        try:
            shown = str(Path(problem.source).relative_to(Path(root).parent))
        except ValueError:
            shown = str(problem.source)
        report = _report(problem, text, count)
        for line in report.findings:
            found = finding_of(problem, text, shown, line)
            (failures if blocks(line, report) else warnings).append(found)
    return PublishCheck(tuple(failures), tuple(warnings))
