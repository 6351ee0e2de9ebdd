"""Choice, multiselect and true/false answers: the one home of picking among options.

An option is named by its text (case, spacing, quotes and a trailing period ignored), by its
letter (``b``, ``(b)``, ``b.``) or, when no option is itself a number, by its 1-based number.
Multiselect answers score right minus wrong by default (``grading.multiselect_scoring``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from grader.answers.base import (
    AnswerType,
    GradingRules,
    Parsed,
    Tolerance,
    as_sequence,
    join,
    shown,
)
from grader.answers.numbers import read_scalar
from grader.errors import FormatError

MAX_OPTION_PIECES = 60
LETTERS = "abcdefghijklmnopqrstuvwxyz"

_LETTER = re.compile(r"\(?([a-zA-Z])[).:]?")
_LETTER_AND_TEXT = re.compile(r"\(?([a-zA-Z])[).:]\s*(.+)", re.DOTALL)
_TRUTH = {
    "true": True, "t": True, "yes": True, "y": True, "1": True,
    "false": False, "f": False, "no": False, "n": False, "0": False,
}


def option_key(text: str) -> str:
    """Option text as compared: case, spacing, quotes and a trailing period ignored."""
    folded = " ".join(text.casefold().split()).strip("\"'`")
    return folded[:-1].rstrip() if folded.endswith(".") else folded


def option_number(text: str) -> Fraction | None:
    """The number an option's text spells ("7,600" -> 7600), or None."""
    try:
        return read_scalar(text, grouped=True)
    except FormatError:
        return None


def _format_option(text: str, options: Sequence[str] | None) -> str:
    if options:
        for i, option in enumerate(options[: len(LETTERS)]):
            if option_key(option) == option_key(text):
                return f"({LETTERS[i]}) {option}"
    return text


def _resolve_option(text: str, options: Sequence[str]) -> int | None:
    """The index of the option ``text`` names, or None."""
    wanted = option_key(text)
    if not wanted:
        return None
    for i, option in enumerate(options):
        if option_key(option) == wanted:
            return i
    letter = _LETTER.fullmatch(wanted)
    if letter and LETTERS.index(letter[1].lower()) < min(len(options), len(LETTERS)):
        return LETTERS.index(letter[1].lower())
    labelled = _LETTER_AND_TEXT.fullmatch(wanted)
    if labelled:
        i = LETTERS.index(labelled[1].lower())
        if i < len(options) and option_key(options[i]) == option_key(labelled[2]):
            return i
    return _resolve_by_number(wanted, options)


def _resolve_by_number(wanted: str, options: Sequence[str]) -> int | None:
    if len(wanted) > 60:
        return None
    numeric = [option_number(option) for option in options]
    if re.fullmatch(r"[0-9]{1,3}", wanted) and all(n is None for n in numeric):
        i = int(wanted) - 1
        return i if 0 <= i < len(options) else None
    value = option_number(wanted)
    hits = [i for i, n in enumerate(numeric) if value is not None and n == value]
    return hits[0] if len(hits) == 1 else None


def _resolve_by_words(text: str, options: Sequence[str]) -> int | None:
    """The one option whose text holds ``text`` as whole words ("trapezoid" for "a trapezoid
    (rising ramp, flat top, falling ramp)"), or None (none, or several: "vertical edges")."""
    wanted = option_key(text)
    if len(wanted) < 4 or len(wanted) > 200 or not re.search(r"[a-z]", wanted):
        return None
    pattern = re.compile(rf"(?<!\w){re.escape(wanted)}(?!\w)")
    hits = [i for i, option in enumerate(options) if pattern.search(option_key(option))]
    return hits[0] if len(hits) == 1 else None


def _resolve_by_array(text: str, options: Sequence[str]) -> int | None:
    """The one option that is the matrix or vector ``text`` spells, whatever the notation
    ("[[-3, 1], [-1, 1]]" for an option written in LaTeX), or None."""
    from grader.answers.arrays import MATRIX  # arrays do not import options: no cycle

    def read(piece: str) -> tuple | None:
        try:
            return MATRIX.parse(piece.strip().strip("$").strip(), None).value
        except FormatError:
            return None

    if len(text) > 400 or not re.search(r"[0-9]", text):
        return None
    wanted = read(text)
    if wanted is None or (len(wanted) == 1 and len(wanted[0]) == 1):
        return None  # one number: options that are numbers are matched by value already
    hits = [i for i, option in enumerate(options) if read(option) == wanted]
    return hits[0] if len(hits) == 1 else None


def _options_listing(options: Sequence[str]) -> str:
    listed = [f"({LETTERS[i]}) {option}" for i, option in enumerate(options[: len(LETTERS)])]
    return "; ".join(listed)


def _option_set(value: Any) -> frozenset[str]:
    items = value if isinstance(value, (list, tuple)) else (value,)
    return frozenset(option_key(str(item)) for item in items)


# ---------------------------------------------------------------------------------------------
# One option


class ChoiceType(AnswerType):
    name = "choice"
    expected = "Expected one of the options, by its text or its letter, e.g. b."
    hint = "One option: its text or its letter, e.g. b"
    takes_options = True
    multiple = False  # the answer is one option

    def parse(self, text: str, options: Sequence[str] | None) -> Parsed:
        if not options:
            return Parsed(text, text)
        i = _resolve_option(text, options)
        if i is None:
            i = _resolve_by_words(text, options)
        if i is None:
            i = _resolve_by_array(text, options)
        if i is None:
            raise FormatError(
                f"{shown(text)} is not one of the options. Choose one of: "
                f"{_options_listing(options)}. Type the option's text or its letter, e.g. b."
            )
        return Parsed(options[i], _format_option(options[i], options))

    def format(self, value: Any, options: Sequence[str] | None) -> str:
        return _format_option(str(value), options)

    def valid(self, value: Any) -> bool:
        return isinstance(value, str)

    def same(self, given: Any, expected: Any, tolerance: Tolerance) -> bool:
        if isinstance(given, bool) or isinstance(expected, bool):
            return given == expected
        if isinstance(given, (list, tuple)) or isinstance(expected, (list, tuple)):
            return False
        if option_key(str(given)) == option_key(str(expected)):
            return True
        a, b = option_number(str(given)), option_number(str(expected))
        return a is not None and a == b

    def feedback(self, given: Any, expected: Any, tolerance: Tolerance, score: float) -> str:
        return "That is not the right option. Reread the question and try again."

    def answer_of(self, right: list[str]) -> Any:
        """The answer among static option texts, given the correct ones."""
        return right[0]

    def mistake_of(self, text: str, correct: bool, texts: list[str], right: list[str]) -> Any:
        """The wrong answer an option's message is for (None: the option has no mistake)."""
        return None if correct else text


# ---------------------------------------------------------------------------------------------
# Several options


class MultiselectType(AnswerType):
    name = "multiselect"
    expected = "Expected the options that apply, one per line or by letters, e.g. a, c."
    hint = "Every option that applies: one per line, or by letters, e.g. a, c"
    takes_options = True
    multiple = True  # the answer is a set of options

    def parse(self, text: str, options: Sequence[str] | None) -> Parsed:
        if not options:
            parts = text.split("\n") if "\n" in text else re.split(r"[,;]", text)
            chosen = tuple(dict.fromkeys(p.strip() for p in parts if p.strip()))
            if not chosen:
                raise self.fail("Choose at least one option.")
            return Parsed(chosen, "; ".join(chosen))
        indices = sorted(set(_multiselect_indices(text, options)))
        if not indices:
            raise self.fail("Choose at least one option.")
        chosen = tuple(options[i] for i in indices)
        return Parsed(chosen, self.format(chosen, options))

    def format(self, value: Any, options: Sequence[str] | None) -> str:
        return "; ".join(_format_option(str(v), options) for v in as_sequence(value))

    def valid(self, value: Any) -> bool:
        return isinstance(value, list) and len(value) > 0

    def same(self, given: Any, expected: Any, tolerance: Tolerance) -> bool:
        return _option_set(given) == _option_set(expected)

    def score(self, given: Any, expected: Any, tolerance: Tolerance,
              rules: GradingRules) -> float:
        chosen, correct = _option_set(given), _option_set(expected)
        if chosen == correct:
            return 1.0
        if rules.multiselect_scoring == "all_or_nothing" or not correct:
            return 0.0
        right, wrong = len(chosen & correct), len(chosen - correct)
        return max(0.0, (right - wrong) / len(correct))

    def feedback(self, given: Any, expected: Any, tolerance: Tolerance, score: float) -> str:
        chosen, correct = _option_set(given), _option_set(expected)
        right, wrong = len(chosen & correct), len(chosen - correct)
        missed = len(correct - chosen)
        parts = []
        if right:
            parts.append(f"{right} of your choices {'is' if right == 1 else 'are'} right")
        if wrong:
            parts.append(f"{wrong} {'is' if wrong == 1 else 'are'} not")
        if missed:
            parts.append(f"you missed {missed} that {'applies' if missed == 1 else 'apply'}")
        summary = join(parts) if parts else "not quite"
        return f"Not all right: {summary}."

    def answer_of(self, right: list[str]) -> Any:
        """The answer among static option texts, given the correct ones."""
        return right

    def mistake_of(self, text: str, correct: bool, texts: list[str], right: list[str]) -> Any:
        """The selection of a student who gets this one option wrong (None: no such selection)."""
        value = [t for t in texts if (t in right) != (t == text)]
        return value or None


def _segment(text: str, options: Sequence[str]) -> list[int] | None:
    """Option indices for comma- or semicolon-separated text, keeping together the pieces of an
    option that itself holds a comma (e.g. "stride 2, padding 1")."""
    spans = [match.span() for match in re.finditer(r"[^,;]+|(?<=[,;])(?=[,;]|$)|^(?=[,;])", text)]
    best: list[list[int] | None] = [None] * (len(spans) + 1)
    best[0] = []
    for end in range(1, len(spans) + 1):
        if not text[spans[end - 1][0]:spans[end - 1][1]].strip():
            best[end] = best[end - 1]  # an empty piece, as in "a,,b" or a trailing comma
            continue
        for start in range(end):
            if best[start] is None:
                continue
            i = _resolve_option(text[spans[start][0]:spans[end - 1][1]], options)
            if i is not None:
                best[end] = [*best[start], i]
                break
    return best[-1]


def _by_lines(text: str, options: Sequence[str]) -> list[int]:
    lines = [line for line in text.split("\n") if line.strip()]
    found = [_resolve_option(line, options) for line in lines]
    missing = [line for line, i in zip(lines, found, strict=True) if i is None]
    if missing:
        raise _unknown_options(missing, options)
    return [i for i in found if i is not None]


def _multiselect_indices(text: str, options: Sequence[str]) -> list[int]:
    if "\n" in text:
        return _by_lines(text, options)
    whole = _resolve_option(text, options)
    if whole is not None:
        return [whole]
    pieces = re.split(r"[,;]", text)
    if len(pieces) > MAX_OPTION_PIECES:
        raise _unknown_options([text], options)
    found_indices = _segment(text, options)
    if found_indices is None:
        words = [w for w in re.split(r"[\s,;]+|\band\b", text) if w.strip()]
        found_letters = [_resolve_option(w, options) if _LETTER.fullmatch(w) else None
                         for w in words]
        if words and all(i is not None for i in found_letters):
            return [i for i in found_letters if i is not None]
        run = _run_of_letters(text, options)
        if run is not None:
            return run
        unknown = [p.strip() for p in pieces if _resolve_option(p, options) is None]
        raise _unknown_options(unknown or [text], options)
    return found_indices


def _run_of_letters(text: str, options: Sequence[str]) -> list[int] | None:
    """Letters typed together, "abd" or "AC": each a different option's letter, or None."""
    letters = text.strip().casefold()
    if not re.fullmatch(r"[a-z]{2,26}", letters) or len(set(letters)) != len(letters):
        return None
    indices = [LETTERS.index(letter) for letter in letters]
    return indices if max(indices) < min(len(options), len(LETTERS)) else None


def _unknown_options(unknown: list[str], options: Sequence[str]) -> FormatError:
    quoted = ", ".join(shown(u) for u in unknown[:3])
    return FormatError(
        f"Could not match {quoted} to an option. The options are: {_options_listing(options)}. "
        "Give the options that apply one per line or by their letters, e.g. a, c."
    )


# ---------------------------------------------------------------------------------------------
# True or false


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return {"true": True, "false": False}.get(value.strip().casefold())
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    return None


class TrueFalseType(AnswerType):
    name = "truefalse"
    expected = "Expected true or false (T/F and yes/no work too)."
    hint = "true or false (T/F and yes/no work too)"
    takes_statements = True

    def parse(self, text: str, options: Sequence[str] | None) -> Parsed:
        value = _TRUTH.get(text.strip().casefold())
        if value is None:
            raise self.fail(f"Could not read {shown(text)} as true or false.")
        return Parsed(value, "true" if value else "false")

    def format(self, value: Any, options: Sequence[str] | None) -> str:
        if isinstance(value, str):
            return "true" if _TRUTH.get(value.strip().casefold(), False) else "false"
        return "true" if value else "false"

    def normalize(self, value: Any) -> Any:
        if isinstance(value, (int, float)) and value in (0, 1):
            return bool(value)
        return value

    def valid(self, value: Any) -> bool:
        return isinstance(value, bool)

    def same(self, given: Any, expected: Any, tolerance: Tolerance) -> bool:
        return _as_bool(given) is not None and _as_bool(given) == _as_bool(expected)


CHOICE, MULTISELECT, TRUEFALSE = ChoiceType(), MultiselectType(), TrueFalseType()
