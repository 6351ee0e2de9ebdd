"""The answer form: the one home of drawing the input for each answer type, reading a posted
form (and its idempotency token) and turning it into a graded result.

Shared by the graded problem pages and practice mode. Grader errors stop here: a FormatError
becomes a message on the page, never a stored attempt.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass

from werkzeug.datastructures import MultiDict

from grader.answers import answer_hint
from grader.errors import FormatError, ProblemSpecError
from grader.grading import grade, read_answer
from grader.solutions import render_solution
from web.bank import get_bank
from web.render import render_prompt

TEXTAREA_TYPES = {"matrix"}
RADIO_TYPES = {"choice", "truefalse"}
MAX_ANSWER_CHARS = 5000
# The answer form's idempotency token: made when the page is drawn, stored with the answer, so the
# same form posted twice (a double click, a retry after a network error) is one attempt.
REQUEST_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")


def new_request_token() -> str:
    """A fresh idempotency token for an answer form."""
    return secrets.token_urlsafe(24)


def request_token(form: MultiDict) -> str | None:
    """The posted idempotency token, or None when it is missing or malformed."""
    token = form.get("request_token", "")
    return token if REQUEST_TOKEN_RE.fullmatch(token) else None


@dataclass(frozen=True)
class AnswerForm:
    """What the template needs to draw the input for one variant."""

    widget: str  # "text" | "textarea" | "radio" | "checkbox"
    options: tuple[str, ...]
    hint: str


def answer_form(variant) -> AnswerForm:
    """The widget, options and hint for a variant's answer type."""
    kind = variant.answer_type
    if kind == "truefalse":
        return AnswerForm("radio", tuple(variant.options or ("True", "False")), "")
    if kind == "choice":
        return AnswerForm("radio", tuple(variant.options or ()), "")
    if kind == "multiselect":
        return AnswerForm("checkbox", tuple(variant.options or ()), "Tick every option that applies.")
    widget = "textarea" if kind in TEXTAREA_TYPES else "text"
    return AnswerForm(widget, (), answer_hint(kind))


def raw_answer(form: MultiDict, variant) -> str:
    """The raw answer text: checkbox choices joined by newlines, as the parser expects."""
    if variant.answer_type == "multiselect":
        return "\n".join(v for v in form.getlist("answer") if v)
    return form.get("answer", "")


def check(variant, raw: str, points: float = 1.0):
    """(parsed, result) for a raw answer; raises grader.errors.FormatError when unreadable.
    ``points``: what the item is worth, for the partial credit stated in the feedback."""
    if len(raw) > MAX_ANSWER_CHARS:
        raise FormatError(f"That answer is {len(raw)} characters long; answers here are at most "
                          f"{MAX_ANSWER_CHARS}. Please shorten it.")
    if not raw.strip() and variant.answer_type != "multiselect":
        raise FormatError("Please enter an answer before submitting.")
    parsed = read_answer(variant, raw)
    return parsed, grade(variant, parsed, points)


def solution_html(variant):
    """The variant's worked solution as HTML (MathML for the math), or None when its problem has
    none (or no longer exists, or its template fails: the page still shows the answer)."""
    problem = get_bank().problems.get(variant.problem_id)
    if problem is None:
        return None
    try:
        text = render_solution(problem, variant)
    except ProblemSpecError:
        return None
    return render_prompt(text) if text else None


def to_json_text(value) -> str:
    """JSON of a parsed value (tuples become lists; anything exotic becomes its str)."""
    return json.dumps(value, default=_jsonable)


def _jsonable(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    return str(value)
