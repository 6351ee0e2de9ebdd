"""The web side of what can be asked: the one home of the app's loaded problem bank (loaded
once per app), looking up its sets and problems (404 with a sentence when absent), due dates,
and the list of code exercises."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

from flask import abort, current_app

from grader.bank import load_bank
from grader.code import EXERCISES

_lock = threading.Lock()


def get_bank():
    """The app's loaded bank (grader.bank.Bank), loaded on first use."""
    bank = current_app.extensions.get("stride_bank")
    if bank is None:
        with _lock:
            bank = current_app.extensions.get("stride_bank")
            if bank is None:
                bank = reload_bank()
    return bank


def reload_bank():
    """Load the bank from PROBLEMS_DIR again (raises grader.bank.BankError; keeps the old one)."""
    bank = load_bank(Path(current_app.config["PROBLEMS_DIR"]))
    current_app.extensions["stride_bank"] = bank
    return bank


def as_utc(moment: datetime | None) -> datetime | None:
    """`moment` as aware UTC (a naive one is taken to be UTC already)."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def is_past_due(problem_set, now: datetime | None = None) -> bool:
    """Whether the set's due date (if any) has passed at `now` (default: the time now)."""
    due = as_utc(problem_set.due)
    return due is not None and (now or datetime.now(UTC)) > due


def find_set(set_id: str):
    problem_set = get_bank().sets.get(set_id)
    if problem_set is None:
        abort(404, description=f"There is no problem set called {set_id!r}.")
    return problem_set


def find_item(problem_set, problem_id: str):
    for item in problem_set.items:
        if item.problem_id == problem_id:
            return item
    abort(404, description=f"The problem set {problem_set.title!r} has no problem {problem_id!r}.")


def find_problem(problem_id: str):
    problem = get_bank().problems.get(problem_id)
    if problem is None:
        abort(404, description=f"There is no problem called {problem_id!r}.")
    return problem


def exercises() -> tuple[str, ...]:
    """The code exercises' names, in the course's order."""
    return tuple(EXERCISES)


def exercise_title(name: str) -> str:
    """An exercise's name as a title: `conv_forward` -> "Conv forward"."""
    return name.replace("_", " ").capitalize()
