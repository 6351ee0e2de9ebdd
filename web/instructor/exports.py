"""Score exports as CSV text, the one home of every CSV Stride writes: a gradebook, a Canvas-compatible gradebook, every submission.

Cells a spreadsheet would run as a formula (a student's raw answer "=HYPERLINK(...)") are
prefixed with an apostrophe; plain numbers such as "-3" are left alone.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.attempts import AttemptPolicy
from web.bank import exercise_title
from web.bank import exercises as all_exercises
from web.instructor.gradebook import GradebookRow, gradebook_rows
from web.instructor.queries import all_submissions, usernames
from web.models import CanvasAssignment

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
CANVAS_FIXED = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
KINDS = ("scores", "canvas", "submissions")
SUBMISSION_COLUMNS = ("submission_id", "username", "set_id", "problem_id", "attempt", "seed",
                      "raw_answer", "read_as", "correct", "score", "points_possible",
                      "points_earned", "mistake", "submitted_at", "regraded_at")


def safe_cell(value) -> str:
    """A CSV cell that spreadsheets show as text, never run as a formula."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else _number(value)
    if text.startswith(_FORMULA_START) and not _NUMBER.match(text):
        return "'" + text
    return text


def _number(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".") if not value.is_integer() else str(int(value))
    return str(value)


def _write(rows: Iterable[Sequence]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return out.getvalue()


def code_column(exercise: str) -> str:
    """The scores CSV's column of a code exercise."""
    return f"code:{exercise}"


def scores_csv(rows: Sequence[GradebookRow], sets: Sequence, exercises: Sequence[str] = ()
               ) -> str:
    """One row per student: username, name, points earned per problem set (by id), the best
    graded score per code exercise ("code:<exercise>", blank when none), and the sets' total."""
    header = ["username", "name", *(s.id for s in sets), *map(code_column, exercises), "total"]
    body = ([r.user.username, r.user.name, *(r.earned[s.id] for s in sets),
             *(_code_points(r, e) for e in exercises), r.total] for r in rows)
    return _write([header, *body])


def canvas_csv(rows: Sequence[GradebookRow], sets: Sequence, section: str = "",
               exercises: Sequence[str] = (), assignment_ids: Mapping[str, str] | None = None
               ) -> str:
    """Canvas's gradebook import layout: its five fixed columns, then one column per problem set
    and per code exercise, headed "Title (assignment id)".

    Canvas fills the existing assignment whose id is in the parentheses; `assignment_ids` maps
    "set:<id>" and "code:<exercise>" to a course's Canvas assignment ids (from its settings).
    An item without one is headed "Title (stride id)", which Canvas imports as a new assignment.
    The second row is Canvas's "Points Possible" row. Canvas matches students on SIS Login ID,
    which is the Stride username here; the Canvas ID column is left blank.
    """
    ids = assignment_ids or {}
    header = [*CANVAS_FIXED, *(_canvas_title(s.title, ids.get(f"set:{s.id}") or s.id)
                               for s in sets),
              *(_canvas_title(exercise_title(e), ids.get(f"code:{e}") or e) for e in exercises)]
    possible = ["Points Possible", "", "", "", "", *(_possible(s) for s in sets),
                *(_code_possible(rows, e) for e in exercises)]
    body = ([r.user.name, "", r.user.username, r.user.username, section,
             *(r.earned[s.id] for s in sets), *(_code_points(r, e) for e in exercises)]
            for r in rows)
    return _write([header, possible, *body])


def _canvas_title(title: str, ident: str) -> str:
    return f"{title} ({ident})"


def _code_points(row: GradebookRow, exercise: str) -> float | None:
    best = row.code.get(exercise)
    return None if best is None else best.score


def _code_possible(rows: Sequence[GradebookRow], exercise: str) -> float | None:
    worth = [r.code[exercise].max_score for r in rows if exercise in r.code]
    return max(worth) if worth else None


def submissions_csv(submissions: Iterable, usernames: Mapping[int, str],
                    points: Mapping[tuple[str, str], float],
                    policies: Mapping[tuple[str, str], AttemptPolicy] | None = None) -> str:
    """One row per graded submission; `points[(set_id, problem_id)]` is the item's worth and
    `policies` its attempt policy (what the attempt earned: score times the attempt's worth)."""
    policies = policies or {}

    def row(s):
        worth = points.get((s.set_id, s.problem_id))
        policy = policies.get((s.set_id, s.problem_id), AttemptPolicy())
        earned = None if worth is None else worth * policy.credit(s.attempt, s.score)
        return [s.id, usernames.get(s.user_id, str(s.user_id)), s.set_id, s.problem_id,
                s.attempt, s.seed, s.raw, s.read_as, bool(s.correct), float(s.score), worth,
                earned, s.mistake or "", _iso(s.created_at), _iso(s.regraded_at)]

    return _write([SUBMISSION_COLUMNS, *(row(s) for s in submissions)])


def canvas_assignment_ids(session: Session, course_id: int | None) -> dict[str, str]:
    """A course's Canvas assignment ids by item ("set:<id>", "code:<exercise>"); none for an
    export of several courses (`course_id` None: each has its own Canvas course)."""
    if course_id is None:
        return {}
    rows = session.execute(select(CanvasAssignment.item, CanvasAssignment.assignment_id)
                           .where(CanvasAssignment.course_id == course_id))
    return dict(rows.all())


def export(session: Session, sets: Sequence, kind: str, course_ids: Sequence[int],
           section: str = "", exercises: Sequence[str] | None = None) -> str:
    """The CSV text of one export kind ("scores", "canvas" or "submissions").

    Only the students enrolled in `course_ids` are exported; `section` fills the Canvas
    layout's Section column (the course's name when one course is exported). `exercises` are the
    code exercises to include (default: every one of the course).
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    sets = sorted(sets, key=lambda s: s.id)
    exercises = tuple(all_exercises() if exercises is None else exercises)
    if kind == "submissions":
        points = {(s.id, i.problem_id): float(i.points) for s in sets for i in s.items}
        policies = {(s.id, i.problem_id): i.policy for s in sets for i in s.items}
        return submissions_csv(all_submissions(session, course_ids),
                               usernames(session, course_ids), points, policies)
    rows = gradebook_rows(session, sets, course_ids, exercises)
    if kind == "scores":
        return scores_csv(rows, sets, exercises)
    return canvas_csv(rows, sets, section=section, exercises=exercises,
                      assignment_ids=canvas_assignment_ids(
                          session, course_ids[0] if len(course_ids) == 1 else None))


def _possible(problem_set) -> float:
    return float(sum(item.points for item in problem_set.items))


def _iso(moment) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else ""
