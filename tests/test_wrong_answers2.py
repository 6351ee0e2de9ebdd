"""Answers students type, pass 2 (tests/data/wrong_answers2.yaml, written from the prompts and
the course checklist's misconceptions, not from Stride's mistake lists): a right answer in another
notation is accepted, an unreadable one is refused with a hint that says what to type, and a wrong
one is read, never accepted, and named by its misconception (a slip by none)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from test_wrong_answers import SLIP, _bank, _corpus, _variant

from grader.errors import FormatError
from grader.grading import grade_raw

CORPUS = Path(__file__).parent / "data" / "wrong_answers2.yaml"


def _tags(entry: dict) -> set[str]:
    named = entry["misconception"]
    return set(named) if isinstance(named, list) else {named}


def _id(entry: dict) -> str:
    return f"{entry['template']}-{entry['seed']}-{entry['expect']}-{entry['typed'][:24]}"


ENTRIES = _corpus(CORPUS)


def _param(entry: dict):
    if "gap" in entry:
        return pytest.param(entry, marks=pytest.mark.xfail(strict=True, reason=entry["gap"]))
    return entry


def test_the_corpus_covers_every_template_with_all_three_verdicts():
    per_template = Counter(entry["template"] for entry in ENTRIES)
    assert set(per_template) == set(_bank().problems)
    assert min(per_template.values()) >= 2
    verdicts = Counter(entry["expect"] for entry in ENTRIES)
    assert set(verdicts) == {"right", "format", "wrong"} and len(ENTRIES) >= 200
    slips = sum(entry.get("misconception") == SLIP for entry in ENTRIES)
    assert 0 < slips < verdicts["wrong"] / 4


@pytest.mark.parametrize("entry", [_param(e) for e in ENTRIES if e["expect"] == "right"], ids=_id)
def test_a_right_answer_in_another_notation_is_accepted(entry):
    result = grade_raw(_variant(entry), entry["typed"])  # a FormatError: a right answer refused
    assert result.correct and result.score == 1, f"{entry['note']}: {result.feedback}"


@pytest.mark.parametrize("entry", [_param(e) for e in ENTRIES if e["expect"] == "format"], ids=_id)
def test_an_unreadable_answer_is_refused_with_a_hint(entry):
    with pytest.raises(FormatError) as refused:
        grade_raw(_variant(entry), entry["typed"])
    message = str(refused.value).lower()
    assert any(word.lower() in message for word in entry["hint"]), message


@pytest.mark.parametrize("entry", [_param(e) for e in ENTRIES if e["expect"] == "wrong"], ids=_id)
def test_a_wrong_answer_is_read_never_accepted_and_named_right(entry):
    result = grade_raw(_variant(entry), entry["typed"])  # a FormatError: a readable form not read
    assert not result.correct and result.score < 1
    if entry["misconception"] == SLIP:
        assert result.mistake is None, f"a slip named as {result.mistake!r}: {result.feedback}"
    else:
        assert result.mistake in _tags(entry), (
            f"{entry['note']}: named {result.mistake!r}: {result.feedback}")
