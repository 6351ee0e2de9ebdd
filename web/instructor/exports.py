"""Score exports as CSV text, the one home of every CSV Stride writes: a gradebook, a Canvas-compatible gradebook, every submission.

Cells a spreadsheet would run as a formula (a student's raw answer "=HYPERLINK(...)") are
prefixed with an apostrophe; plain numbers such as "-3" are left alone.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy.orm import Session

from web.instructor.gradebook import GradebookRow, gradebook_rows
from web.instructor.queries import all_submissions, usernames

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


def scores_csv(rows: Sequence[GradebookRow], sets: Sequence) -> str:
    """One row per student: username, name, points earned per problem set (by id), total."""
    header = ["username", "name", *(s.id for s in sets), "total"]
    body = ([r.user.username, r.user.name, *(r.earned[s.id] for s in sets), r.total]
            for r in rows)
    return _write([header, *body])


def canvas_csv(rows: Sequence[GradebookRow], sets: Sequence, section: str = "") -> str:
    """Canvas's gradebook import layout: fixed columns, then one "Title (id)" column per set.

    The second row is Canvas's "Points Possible" row. Canvas matches students on SIS Login ID,
    which is the Stride username here; the Canvas ID column is left blank.
    """
    header = [*CANVAS_FIXED, *(f"{s.title} ({s.id})" for s in sets)]
    possible = ["Points Possible", "", "", "", "", *(_possible(s) for s in sets)]
    body = ([r.user.name, "", r.user.username, r.user.username, section,
             *(r.earned[s.id] for s in sets)] for r in rows)
    return _write([header, possible, *body])


def submissions_csv(submissions: Iterable, usernames: Mapping[int, str],
                    points: Mapping[tuple[str, str], float]) -> str:
    """One row per graded submission; `points[(set_id, problem_id)]` is the item's worth."""
    def row(s):
        worth = points.get((s.set_id, s.problem_id))
        earned = None if worth is None else worth * s.score
        return [s.id, usernames.get(s.user_id, str(s.user_id)), s.set_id, s.problem_id,
                s.attempt, s.seed, s.raw, s.read_as, bool(s.correct), float(s.score), worth,
                earned, s.mistake or "", _iso(s.created_at), _iso(s.regraded_at)]

    return _write([SUBMISSION_COLUMNS, *(row(s) for s in submissions)])


def export(session: Session, sets: Sequence, kind: str, course_ids: Sequence[int],
           section: str = "") -> str:
    """The CSV text of one export kind ("scores", "canvas" or "submissions").

    Only the students enrolled in `course_ids` are exported; `section` fills the Canvas
    layout's Section column (the course's name when one course is exported).
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    sets = sorted(sets, key=lambda s: s.id)
    if kind == "submissions":
        points = {(s.id, i.problem_id): float(i.points) for s in sets for i in s.items}
        return submissions_csv(all_submissions(session, course_ids),
                               usernames(session, course_ids), points)
    rows = gradebook_rows(session, sets, course_ids)
    if kind == "scores":
        return scores_csv(rows, sets)
    return canvas_csv(rows, sets, section=section)


def _possible(problem_set) -> float:
    return float(sum(item.points for item in problem_set.items))


def _iso(moment) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else ""
