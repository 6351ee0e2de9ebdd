"""Feedback that names the mistake: mistakes before format errors, answers of the wrong size,
the partial credit stated, every option explained, no message giving the answer away, and the
statistics that group wrong answers by the mistake named."""

from __future__ import annotations

import functools

import pytest

from grader.answers import GradingRules, format_value
from grader.bank import load_bank
from grader.errors import FormatError
from grader.grading import grade_raw, read_answer
from grader.lint_feedback import (
    MIN_MISTAKES,
    leaked_text,
    template_findings,
    variant_findings,
)
from grader.variants import Mistake, Variant, generate
from web.instructor import stats

SEEDS = range(40)


@functools.lru_cache(maxsize=1)
def _bank():
    return load_bank()


def _variant(problem_id: str, want=lambda v: True) -> Variant:
    problem = _bank().problems[problem_id]
    for seed in range(200):
        v = generate(problem, seed)
        if want(v):
            return v
    raise AssertionError(f"no variant of {problem_id} fits")


def _mistake(v: Variant, tag: str) -> Mistake:
    return next(m for m in v.mistakes if m.tag == tag)


def synthetic(answer_type, answer, *, mistakes=(), grading=None) -> Variant:
    return Variant(problem_id="t", seed=0, title="T", topic="conv2d", answer_type=answer_type,
                   params={}, prompt="?", answer=answer,
                   mistakes=tuple(Mistake(*m) for m in mistakes),
                   rules=GradingRules.from_json(grading))


# --- mistakes before format errors -----------------------------------------------------------

def test_a_size_before_the_floor_is_named_not_refused():
    v = _variant("strided-floor-size",
                 lambda v: any(m.tag == "floor-not-taken" for m in v.mistakes))
    unfloored = _mistake(v, "floor-not-taken").value
    assert unfloored != int(unfloored)
    result = grade_raw(v, f"{unfloored:.2f}")
    assert (result.mistake, result.correct, result.score) == ("floor-not-taken", False, 0.0)
    assert "take the floor" in result.feedback
    with pytest.raises(FormatError, match="is not a whole number"):
        read_answer(v, f"{unfloored + 0.31:.2f}")  # a non-integer no mistake explains


def test_half_the_filter_for_same_padding_is_named():
    v = _variant("same-padding-p", lambda v: v.params["f"] >= 3)
    result = grade_raw(v, str(v.params["f"] / 2))
    assert result.mistake == "same-padding-half-filter" and not result.correct


def test_a_matrix_typed_for_a_sum_is_named_and_another_matrix_refused():
    v = _variant("conv2d-sum")
    matrix = _mistake(v, "sum-not-taken").value
    typed = "; ".join(" ".join(str(x) for x in row) for row in matrix)
    result = grade_raw(v, typed)
    assert (result.mistake, result.correct) == ("sum-not-taken", False)
    assert "add up all its entries" in result.feedback
    with pytest.raises(FormatError, match="Could not read"):
        read_answer(v, "; ".join(" ".join(str(x + 1) for x in row) for row in matrix))


def test_the_whole_matrix_for_one_entry_is_named():
    v = _variant("conv2d-entry")
    typed = format_value("matrix", _mistake(v, "whole-matrix-given").value)
    assert grade_raw(v, typed).mistake == "whole-matrix-given"


# --- answers of another size than the question states ----------------------------------------

def test_a_shape_with_too_few_dimensions_is_a_format_error_with_the_asked_form():
    v = _variant("conv-output-volume")
    h, w, _ = v.answer
    with pytest.raises(FormatError) as error:
        read_answer(v, f"{h} {w}")
    assert str(error.value).startswith(
        "This question asks for 3 dimensions (height x width x depth); you gave 2 dimensions")
    assert "no attempt was used" in str(error.value)


def test_a_vector_of_a_stated_length_is_checked_before_grading():
    v = _variant("adaptive-avg-vector")
    with pytest.raises(FormatError, match=rf"asks for {len(v.answer)} entries; you gave"):
        read_answer(v, " ".join(["1"] * (len(v.answer) + 1)))


def test_when_the_size_is_asked_a_wrong_size_is_graded_and_a_known_one_named():
    v = _variant("conv1d-valid")
    full = _mistake(v, "full-instead-of-valid").value
    result = grade_raw(v, format_value("vector", full))
    assert (result.mistake, result.correct) == ("full-instead-of-valid", False)
    other = grade_raw(v, " ".join(["1"] * (len(v.answer) + 3)))
    assert not other.correct and other.mistake is None
    assert other.feedback.startswith(f"Not right: expected {len(v.answer)} entries")


def test_the_size_flag_overrides_the_inference():
    stated = synthetic("vector", [1, 2, 3], grading={"size_given": True},
                       mistakes=[("longer", [1, 2, 3, 4], "Too long.")])
    assert grade_raw(stated, "1 2 3 4").mistake == "longer"  # a known mistake is still named
    with pytest.raises(FormatError, match="asks for 3 entries"):
        read_answer(stated, "1 5")
    asked = synthetic("matrix", [[1, 2], [3, 4]], grading={"size_given": False})
    assert grade_raw(asked, "1 2 3").feedback.startswith("Not right: expected a 2 x 2 matrix")
    with pytest.raises(FormatError, match="asks for a 2 x 2 matrix; you gave a 1 x 3 matrix"):
        read_answer(synthetic("matrix", [[1, 2], [3, 4]]), "1 2 3")


def test_a_general_detector_lets_a_wrong_size_through_to_be_named():
    v = synthetic("vector", [4, 5, 6, 7])
    assert grade_raw(v, "4 5 6").mistake == "one-position-missing"


# --- the partial credit earned --------------------------------------------------------------

def test_the_verdict_states_the_partial_credit_earned():
    answer = [[i + 4 * j for i in range(4)] for j in range(4)]
    v = synthetic("matrix", answer, grading={"partial_credit": True})
    typed = "; ".join(" ".join(str(x) for x in row) for row in answer)
    result = grade_raw(v, typed[:-2] + "99")
    assert result.score == pytest.approx(15 / 16)
    assert result.feedback.endswith("15 of 16 entries right: 0.94 of 1 point.")
    assert grade_raw(v, typed[:-2] + "99", points=2).feedback.endswith(
        "15 of 16 entries right: 1.88 of 2 points.")
    assert "point" not in grade_raw(v, typed).feedback


# --- coverage over the shipped bank ----------------------------------------------------------

def _bank_variants():
    return [generate(p, seed) for p in _bank().problems.values() for seed in SEEDS]


def test_every_wrong_option_explains_itself_and_no_message_gives_the_answer_away():
    checked = 0
    for v in _bank_variants():
        assert variant_findings(v) == [], (v.problem_id, v.seed)
        checked += 1
    assert checked == len(_bank().problems) * len(SEEDS)


def test_every_computed_template_has_at_least_two_mistakes():
    tags: dict[str, set[str]] = {}
    for v in _bank_variants():
        tags.setdefault(v.problem_id, set()).update(m.tag for m in v.mistakes)
    for pid, found in tags.items():
        problem = _bank().problems[pid]
        assert template_findings(problem.answer_type, found) == [], pid
    numeric = [pid for pid, p in _bank().problems.items()
               if p.answer_type in ("integer", "number", "shape", "vector", "matrix")]
    assert min(len(tags[pid]) for pid in numeric) >= MIN_MISTAKES


def test_the_coverage_rules_find_what_they_are_for():
    leak = synthetic("integer", 5, mistakes=[("count", 7, "Pooling is grouped, so it has 5.")])
    assert leaked_text(leak, leak.mistakes[0].message) == "5"
    assert leaked_text(leak, "Count the layers with weights (+ 1 for the output).") is None
    shape = synthetic("shape", [29, 29, 32])
    assert leaked_text(shape, "It is 29 x 29 x 32.") == "29 x 29 x 32"
    multi = Variant("t", 0, "T", "why-convolutions", "multiselect", {}, "?",
                    ["parameter sharing", "sparsity"], options=("parameter sharing", "sparsity",
                                                                "transfer learning"),
                    mistakes=(Mistake("m", ["sparsity"], "You missed parameter sharing."),))
    findings = variant_findings(multi)
    assert any("gives the answer away" in f and "parameter sharing" in f for f in findings)
    assert any("'transfer learning' has no explanation" in f for f in findings)
    assert template_findings("integer", {"one"}) and not template_findings("choice", set())


# --- statistics by mistake --------------------------------------------------------------------

def _attempt(uid, attempt, correct, mistake=None):
    return stats.Attempt(uid, attempt, 1.0 if correct else 0.0, correct, "x", mistake)


def test_statistics_group_wrong_answers_by_mistake_per_problem_and_topic():
    conv = [_attempt(1, 1, False, "channels-first"), _attempt(1, 2, False, "channels-first"),
            _attempt(2, 1, False, "channels-first"), _attempt(2, 2, False, "floor-not-taken"),
            _attempt(3, 1, False), _attempt(3, 2, True)]
    pool = [_attempt(1, 1, False, "floor-not-taken"), _attempt(2, 1, False, "floor-not-taken")]
    a, b = stats.problem_stats(conv, {}), stats.problem_stats(pool, {})
    assert a.mistakes == (stats.MistakeCount("channels-first", 3, 2),
                          stats.MistakeCount("floor-not-taken", 1, 1))
    assert (a.unnamed, b.unnamed) == (1, 0)

    class P:
        def __init__(self, topic):
            self.topic = topic

    cards = [{"problem": P("conv-output-volume"), "stats": a},
             {"problem": P("pool-output-volume"), "stats": b},
             {"problem": P("conv-output-volume"), "stats": b},
             {"problem": None, "stats": stats.problem_stats([], {})}]
    topics = dict(stats.topic_mistakes(cards))
    assert topics["conv-output-volume"] == (stats.MistakeCount("channels-first", 3, 2),
                                            stats.MistakeCount("floor-not-taken", 3, 3))
    assert topics["pool-output-volume"] == (stats.MistakeCount("floor-not-taken", 2, 2),)
    assert topics["(problem no longer in the bank)"] == ()
