"""Wrong answers real students of this course give (tests/data/wrong_answers.yaml, written from the
prompts and the course's list of misconceptions), graded as the platform grades them: none is
accepted, every readable form is read, a misconception is named by its tag and a slip is named as
no misconception at all."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
import yaml

from grader.bank import load_bank
from grader.grading import grade_raw
from grader.variants import Variant, generate

CORPUS = Path(__file__).parent / "data" / "wrong_answers.yaml"
SLIP = "slip"


@functools.lru_cache(maxsize=1)
def _bank():
    return load_bank()


def _corpus(path: Path = CORPUS) -> list[dict]:
    """A corpus of typed answers (also read by tests/test_wrong_answers2.py)."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _variant(entry: dict) -> Variant:
    """The variant the answer was written for: the template with the entry's seed and parameters
    (set, so a change of a template's ranges does not change the question)."""
    return generate(_bank().problems[entry["template"]], entry["seed"], overrides=entry["params"])


def _accepted_tags(entry: dict) -> set[str]:
    named = entry["misconception"]
    return set(named) if isinstance(named, list) else {named}


def _id(entry: dict) -> str:
    return f"{entry['template']}-{entry['seed']}-{entry['typed'][:24]}"


ENTRIES = _corpus()


def test_the_corpus_covers_every_template_three_times_with_misconceptions_and_slips():
    per_template: dict[str, int] = {}
    for entry in ENTRIES:
        per_template[entry["template"]] = per_template.get(entry["template"], 0) + 1
    assert set(per_template) == set(_bank().problems)
    assert min(per_template.values()) >= 3
    slips = sum(entry["misconception"] == SLIP for entry in ENTRIES)
    assert 0 < slips < len(ENTRIES) / 2


@pytest.mark.parametrize("entry", [
    pytest.param(e, marks=pytest.mark.xfail(strict=True, reason=e["gap"])) if "gap" in e else e
    for e in ENTRIES
], ids=_id)
def test_a_real_wrong_answer_is_read_never_accepted_and_named_right(entry):
    variant = _variant(entry)
    result = grade_raw(variant, entry["typed"])  # a FormatError here: a readable form not read
    assert not result.correct and result.score < 1
    if entry["misconception"] == SLIP:
        assert result.mistake is None, f"a slip named as {result.mistake!r}: {result.feedback}"
    else:
        assert result.mistake in _accepted_tags(entry), (
            f"{entry['note']}: named {result.mistake!r}: {result.feedback}")
