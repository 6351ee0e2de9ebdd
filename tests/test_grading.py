"""Grading: scores, tolerances, partial credit, named mistakes, feedback that never reveals."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from grader.answers import GradingRules, Parsed, format_value, lookup, parse
from grader.errors import FormatError, ProblemSpecError
from grader.grading import CORRECT_FEEDBACK, Result, describe_answer, grade, grade_raw
from grader.variants import Mistake, Variant

WHY_OPTIONS = (
    "parameter sharing",
    "sparsity of connections",
    "gradient descent sets most weights to zero",
    "transfer learning",
)


def variant(answer_type, answer, *, mistakes=(), grading=None, options=None) -> Variant:
    return Variant(
        problem_id="test-problem", seed=7, title="A test problem", topic="conv-params",
        answer_type=answer_type, params={}, prompt="What is it?", answer=answer,
        options=tuple(options) if options is not None else None,
        mistakes=tuple(Mistake(tag, value, message) for tag, value, message in mistakes),
        rules=GradingRules.from_json(grading),
    )


CONV_PARAMS = variant("integer", 280, mistakes=[
    ("no-bias", 270, "Each filter also has a bias: add one per filter."),
    ("no-input-channels", 100, "A 3x3 filter on an RGB input has 3x3x3 weights, not 3x3."),
])
OUTPUT_VOLUME = variant("shape", [29, 29, 32], mistakes=[
    ("no-plus-one", [28, 28, 32], "Remember the +1 in floor((n + 2p - f)/s) + 1."),
    ("input-channels", [29, 29, 16], "The output depth is the number of filters."),
])
CONV2D = variant("matrix", [[4, 4], [4, 3]], mistakes=[
    ("flipped-kernel", [[4.5, 4], [4, 3]], "Deep-learning convolution does not flip the filter."),
])


# ---------------------------------------------------------------------------------------------
# Correct answers in every form


@pytest.mark.parametrize("v, raw", [
    (CONV_PARAMS, "280"), (CONV_PARAMS, "280."), (CONV_PARAMS, "2.8e2"),
    (variant("integer", 27000100), "27,000,100"), (variant("integer", 10**12), "10^12"),
    (variant("integer", 10**12), "1e12"), (variant("integer", 27_000_000), "2.7e7"),
    (OUTPUT_VOLUME, "29x29x32"), (OUTPUT_VOLUME, "(29, 29, 32)"), (OUTPUT_VOLUME, "29×29×32"),
    (variant("vector", [2, 5, 8, 3]), "2 5 8 3"), (variant("vector", [2, 5, 8, 3]), "[2,5,8,3]"),
    (CONV2D, "4 4; 4 3"), (CONV2D, "[[4,4],[4,3]]"), (CONV2D, "4 4\n4 3"),
    (variant("number", 3.75), "3.75"), (variant("number", 0.75), "3/4"),
    (variant("truefalse", False), "F"), (variant("truefalse", True), "yes"),
    (variant("choice", "sparsity of connections", options=WHY_OPTIONS), "b"),
    (variant("choice", "sparsity of connections", options=WHY_OPTIONS), "Sparsity of connections"),
    (variant("multiselect", ["parameter sharing", "sparsity of connections"], options=WHY_OPTIONS),
     "sparsity of connections\nparameter sharing"),
    (variant("multiselect", ["parameter sharing", "sparsity of connections"], options=WHY_OPTIONS),
     "a, b"),
])
def test_correct_answers_score_one_with_warm_feedback(v, raw):
    result = grade_raw(v, raw)
    assert result == Result(1.0, True, CORRECT_FEEDBACK, None, result.read_as)
    assert result.read_as == describe_answer(v)


def test_grade_takes_a_parsed_answer():
    result = grade(OUTPUT_VOLUME, Parsed((29, 29, 32), "29 x 29 x 32"))
    assert result.correct and result.read_as == "29 x 29 x 32"


def test_format_errors_are_never_graded():
    with pytest.raises(FormatError, match=r"Expected a shape such as 29x29x32"):
        grade_raw(OUTPUT_VOLUME, "twenty-nine")
    with pytest.raises(FormatError, match=r"not a whole number"):
        grade_raw(CONV_PARAMS, "280.5")


# ---------------------------------------------------------------------------------------------
# Named mistakes


@pytest.mark.parametrize("v, raw, tag", [
    (CONV_PARAMS, "270", "no-bias"),
    (CONV_PARAMS, "1e2", "no-input-channels"),
    (OUTPUT_VOLUME, "28 x 28 x 32", "no-plus-one"),
    (OUTPUT_VOLUME, "[29, 29, 16]", "input-channels"),
    (CONV2D, "4.5 4; 4 3", "flipped-kernel"),
])
def test_a_wrong_answer_equal_to_a_mistake_gets_its_message_and_tag(v, raw, tag):
    result = grade_raw(v, raw)
    mistake = next(m for m in v.mistakes if m.tag == tag)
    assert (result.score, result.correct) == (0.0, False)
    assert (result.feedback, result.mistake) == (mistake.message, tag)


def test_mistakes_of_every_answer_type_are_named():
    cases = [
        (variant("number", 3.75, mistakes=[("sum-not-mean", 15.0, "That is the sum.")]), "15"),
        (variant("vector", [2, 5, 8, 3], mistakes=[("flip", [3, 8, 5, 2], "Flipped.")]),
         "3 8 5 2"),
        (variant("truefalse", False, mistakes=[("backprop", True, "Pooling takes part.")]), "T"),
        (variant("choice", "parameter sharing", options=WHY_OPTIONS,
                 mistakes=[("transfer", "transfer learning", "Sharing is not transfer.")]), "d"),
        (variant("multiselect", ["parameter sharing", "sparsity of connections"],
                 options=WHY_OPTIONS,
                 mistakes=[("only-sharing", ["parameter sharing"], "There is a second reason.")]),
         "a"),
    ]
    for v, raw in cases:
        result = grade_raw(v, raw)
        assert not result.correct
        assert result.feedback.startswith(v.mistakes[0].message)
        assert result.mistake == v.mistakes[0].tag


def test_mistake_numbers_are_compared_with_the_answer_tolerance():
    v = variant("number", 1.0, mistakes=[("third", 1 / 3, "That is a third.")],
                grading={"rtol": 1e-3})
    assert grade_raw(v, "0.3333").mistake == "third"
    assert grade_raw(v, "0.33").mistake is None


def test_mistakes_from_a_stored_variant_are_named():
    stored = Variant.from_json(CONV2D.to_json())
    assert grade_raw(stored, "[[4.5, 4], [4, 3]]").mistake == "flipped-kernel"


# ---------------------------------------------------------------------------------------------
# Tolerances


@pytest.mark.parametrize("grading, raw, correct", [
    ({}, "3.7500001", True),
    ({}, "3.751", False),
    ({"rtol": 0.01}, "3.77", True),
    ({"rtol": 0, "atol": 0.1}, "3.84", True),
    ({"rtol": 0, "atol": 0.1}, "3.86", False),
])
def test_number_tolerance(grading, raw, correct):
    assert grade_raw(variant("number", 3.75, grading=grading), raw).correct is correct


def test_integers_are_exact_unless_atol_is_given():
    assert not grade_raw(variant("integer", 27000100), "27000101").correct
    assert grade_raw(variant("integer", 27000100, grading={"atol": 1}), "27000101").correct


def test_float_vectors_get_a_relative_tolerance_and_int_vectors_none():
    assert grade_raw(variant("vector", [0.5, 1.25]), "0.5000000001 1.25").correct
    assert not grade_raw(variant("vector", [1, 2]), "1 2.0000001").correct


@pytest.mark.parametrize("grading", [{"atol": -1}, {"rtol": "big"}, {"atol": True}])
def test_malformed_tolerances_are_spec_errors(grading):
    with pytest.raises(ProblemSpecError, match=r"grading\.(atol|rtol) must be a non-negative"):
        grade_raw(variant("number", 1.0, grading=grading), "1")


# ---------------------------------------------------------------------------------------------
# Partial credit


def test_matrix_partial_credit_is_the_fraction_of_right_entries():
    v = variant("matrix", [[4, 4], [4, 3]], grading={"partial_credit": True})
    result = grade_raw(v, "4 4; 4 4")
    assert (result.score, result.correct) == (0.75, False)
    assert result.feedback == ("Not right: 3 of 4 entries are right; check row 2, column 2. "
                               "3 of 4 entries right: 0.75 of 1 point.")
    assert grade(v, parse("matrix", "1 2 3; 4 5 6")).score == 0.0


def test_matrix_without_partial_credit_is_all_or_nothing():
    assert grade_raw(CONV2D, "4 4; 4 4").score == 0.0


def test_vector_partial_credit():
    v = variant("vector", [-3, 2, 2, 2, 1], grading={"partial_credit": True})
    assert grade_raw(v, "-3 2 2 2 0").score == pytest.approx(0.8)
    assert grade(v, parse("vector", "-3 2 2 2")).score == 0.0
    assert grade_raw(v, "-3 2 2 2 1").score == 1.0


def test_a_partially_right_answer_can_still_name_a_mistake():
    v = variant("matrix", [[4, 4], [4, 3]], grading={"partial_credit": True},
                mistakes=[("flipped-kernel", [[4.5, 4], [4, 3]], "Do not flip the filter.")])
    result = grade_raw(v, "4.5 4; 4 3")
    assert (result.score, result.mistake) == (0.75, "flipped-kernel")


MULTI = ["parameter sharing", "sparsity of connections"]


@pytest.mark.parametrize("raw, score", [
    ("a\nb", 1.0),
    ("a", 0.5),
    ("a\nc", 0.0),
    ("a\nb\nc", 0.5),
    ("c\nd", 0.0),
    ("a\nb\nc\nd", 0.0),
])
def test_multiselect_right_minus_wrong(raw, score):
    v = variant("multiselect", MULTI, options=WHY_OPTIONS)
    result = grade_raw(v, raw)
    assert result.score == score
    assert result.correct is (score == 1.0)


@pytest.mark.parametrize("raw, score", [("a\nb", 1.0), ("a", 0.0), ("a\nb\nc", 0.0)])
def test_multiselect_all_or_nothing(raw, score):
    v = variant("multiselect", MULTI, options=WHY_OPTIONS,
                grading={"multiselect_scoring": "all_or_nothing"})
    assert grade_raw(v, raw).score == score


def test_unknown_multiselect_scoring_is_a_spec_error():
    # Settings are checked once, when a stored variant's settings are decoded, not per grade.
    with pytest.raises(ProblemSpecError, match=r"multiselect_scoring must be one of.*'best_of_three'"):
        variant("multiselect", MULTI, options=WHY_OPTIONS,
                grading={"multiselect_scoring": "best_of_three"})


def test_multiselect_feedback_counts_without_naming():
    v = variant("multiselect", MULTI, options=WHY_OPTIONS)
    result = grade_raw(v, "a\nc")
    assert result.feedback == (
        "Not all right: 1 of your choices is right, 1 is not and you missed 1 that applies."
    )
    assert grade_raw(v, "a").feedback == (
        "Not all right: 1 of your choices is right and you missed 1 that applies. "
        "Partial credit: 0.50 of 1 point."
    )


# ---------------------------------------------------------------------------------------------
# Generic feedback


@pytest.mark.parametrize("given, expected, feedback", [
    ((29, 29, 16), [29, 29, 32],
     "Not right: the height and width are right but the depth is not (your depth is too small)."),
    ((28, 29, 32), [29, 29, 32],
     "Not right: the width and depth are right but the height is not (your height is too small)."),
    ((30, 30, 32), [29, 29, 32], "Not right: the depth is right but the height and width are not "
                                 "(your height is too large; your width is too large)."),
    ((1, 1, 1), [29, 29, 32], "Not right: none of the dimensions is right (your height is too "
                              "small; your width is too small; your depth is too small)."),
    ((29, 29), [29, 29, 32], "Not right: the answer has 3 dimensions, you gave 2."),
])
def test_shape_feedback_says_which_dimensions_are_right(given, expected, feedback):
    result = grade(variant("shape", expected), Parsed(given, "x"))
    assert result.feedback == feedback


@pytest.mark.parametrize("raw, feedback", [
    ("1000", "Not right: your answer is too large by a factor of about 3.5. Check the step that multiplies or divides by a count."),
    ("3000", "Not right: your answer is too large by a factor of about 10. Check the step that multiplies or divides by a count."),
    ("90", "Not right: your answer is too small by a factor of about 3. Check the step that multiplies or divides by a count."),
    ("8", "Not right: your answer is too small by a factor of about 40. Check the step that multiplies or divides by a count."),
    ("1", "Not right: your answer is too small by a factor of about 300. Check the step that multiplies or divides by a count."),
    ("840", "Not right: your answer is too large by a factor of between 2 and 5. Check the step that multiplies or divides by a count."),
    ("1400", "Not right: your answer is too large by a factor of between 5 and 10. Check the step that multiplies or divides by a count."),
    ("28", "Not right: your answer is too small by a factor of between 10 and 100. Check the step that multiplies or divides by a count."),
    ("180", "Not right: your answer is too small by a factor of about 1.5. Check the step that multiplies or divides by a count."),
    ("140", "Not right: your answer is too small by a factor of between 2 and 5. Check the step that multiplies or divides by a count."),
    ("290", "Not right: your answer is a little too large: recheck the small steps (a + 1, a rounding, the biases)."),
    ("250", "Not right: your answer is a little too small: recheck the small steps (a + 1, a rounding, the biases)."),
    ("-280", "Not right: check the sign, and the size, of your answer."),
    ("0", "Not right: your answer is too small."),
    ("280000000", "Not right: your answer is too large by orders of magnitude (a factor of more than 1,000), so a whole step is off: if the question asks for a logarithm, take it, and check that each count is multiplied in only once."),
    ("2800000000", "Not right: your answer is too large by orders of magnitude (a factor of more than 1,000), so a whole step is off: if the question asks for a logarithm, take it, and check that each count is multiplied in only once."),
    ("1234567890", "Not right: your answer is too large by orders of magnitude (a factor of more than 1,000), so a whole step is off: if the question asks for a logarithm, take it, and check that each count is multiplied in only once."),
])
def test_number_feedback_says_how_far_off(raw, feedback):
    assert grade_raw(CONV_PARAMS, raw).feedback == feedback


def test_feedback_for_extreme_ratios():
    assert grade_raw(variant("number", 0.25), "5e-324").feedback == (
        "Not right: your answer is too small by orders of magnitude (a factor of more than 1,000), so a whole step is off: check that every count (channels, filters, units) is multiplied in, and take a logarithm only where the question asks for one."
    )
    assert grade_raw(variant("integer", 3), "10^299").feedback == (
        "Not right: your answer is too large by orders of magnitude (a factor of more than 1,000), so a whole step is off: if the question asks for a logarithm, take it, and check that each count is multiplied in only once."
    )


def test_feedback_when_the_answer_is_zero():
    assert grade_raw(variant("integer", 0), "3").feedback == "Not right: your answer is too large."
    assert grade_raw(variant("integer", 0), "-3").feedback == "Not right: your answer is too small."


def test_matrix_feedback_names_positions_and_sizes():
    assert grade_raw(CONV2D, "4 4; 3 3").feedback == (
        "Not right: 3 of 4 entries are right; check row 2, column 1."
    )
    assert grade(CONV2D, parse("matrix", "1 2 3; 4 5 6; 7 8 9")).feedback == (
        "Not right: expected a 2 x 2 matrix, you gave 3 x 3."
    )
    big = variant("matrix", [[0] * 4 for _ in range(4)])
    assert grade_raw(big, "1 1 1 1; 0 0 0 0; 0 0 0 0; 0 0 0 0").feedback == (
        "Not right: 12 of 16 entries are right; check row 1, column 1, row 1, column 2 and "
        "row 1, column 3 and others."
    )


def test_vector_feedback_names_positions_and_lengths():
    v = variant("vector", [2, 5, 8, 3])
    assert grade_raw(v, "2 5 8 4").feedback == "Not right: 3 of 4 entries are right; check entry 4."
    assert grade(v, parse("vector", "5 8")).feedback == (
        "Not right: expected 4 entries, you gave 2.")
    assert grade_raw(v, "0 0 0 0").feedback == "Not right: none of the 4 entries is right."
    assert grade_raw(v, "2 0 0 0").feedback == (
        "Not right: 1 of 4 entries is right; check entry 2, entry 3 and entry 4."
    )


def test_choice_and_truefalse_feedback_is_plain():
    v = variant("choice", "sparsity of connections", options=WHY_OPTIONS)
    assert grade_raw(v, "a").feedback == (
        "That is not the right option. Reread the question and try again."
    )
    assert grade_raw(variant("truefalse", True), "no").feedback == (
        "Not right. Think it through once more."
    )


# ---------------------------------------------------------------------------------------------
# describe_answer and robustness to stored answers


@pytest.mark.parametrize("v, text", [
    (CONV_PARAMS, "280"),
    (variant("integer", 27000100), "27,000,100"),
    (OUTPUT_VOLUME, "29 x 29 x 32"),
    (variant("vector", [5, 8]), "[5, 8]"),
    (CONV2D, "[[4, 4], [4, 3]]"),
    (variant("number", 3.75), "3.75"),
    (variant("truefalse", False), "false"),
    (variant("choice", "sparsity of connections", options=WHY_OPTIONS),
     "(b) sparsity of connections"),
    (variant("multiselect", MULTI, options=WHY_OPTIONS),
     "(a) parameter sharing; (b) sparsity of connections"),
])
def test_describe_answer_uses_the_read_as_form(v, text):
    assert describe_answer(v) == text


def test_integral_float_answers_grade_as_integers():
    assert grade_raw(variant("integer", 1e12), "10^12").correct
    assert grade_raw(variant("shape", [29.0, 29.0, 32.0]), "29x29x32").correct


def test_numeric_choice_options_compare_by_value():
    v = variant("choice", "7,600", options=("121", "280", "7,600", "27,000,100"))
    assert grade_raw(v, "7600").correct
    assert grade_raw(v, "c").correct


def test_truefalse_answer_stored_as_text():
    assert grade_raw(variant("truefalse", "false"), "no").correct


# ---------------------------------------------------------------------------------------------
# Feedback never reveals the answer


def _assert_not_revealed(v: Variant, raw: str) -> None:
    result = grade(v, parse(v.answer_type, raw, options=v.options))
    if result.correct or result.mistake:
        return
    for text in {describe_answer(v), str(v.answer)}:
        assert text not in result.feedback, (raw, result.feedback)
    if v.answer_type in ("integer", "number"):
        for spelled in {f"{v.answer:,}", f"{v.answer}", f"{v.answer:g}"}:
            assert not re.search(rf"(?<![\d,.]){re.escape(spelled)}(?![\d,.])", result.feedback)


@given(answer=st.integers(101, 10**9), wrong=st.integers(-(10**12), 10**12))
def test_integer_feedback_never_reveals_the_answer(answer, wrong):
    _assert_not_revealed(variant("integer", answer), str(wrong))


@given(answer=st.floats(0.01, 1e6).map(lambda x: round(x, 3)), wrong=st.floats(-1e7, 1e7))
def test_number_feedback_never_reveals_the_answer(answer, wrong):
    if round(answer) == answer or answer in (0.5, 1.5, 2.5):
        return
    _assert_not_revealed(variant("number", answer), repr(wrong))


@given(answer=st.lists(st.integers(11, 300), min_size=1, max_size=4),
       wrong=st.lists(st.integers(1, 400), min_size=1, max_size=4))
def test_shape_feedback_never_reveals_the_answer(answer, wrong):
    v = variant("shape", answer)
    result = grade(v, parse("shape", "x".join(map(str, wrong))))
    for dim in answer:
        assert not re.search(rf"(?<!\d){dim}(?!\d)", result.feedback)


@given(answer=st.lists(st.lists(st.integers(-99, 99), min_size=2, max_size=2), min_size=2,
                       max_size=2),
       wrong=st.lists(st.lists(st.integers(-99, 99), min_size=2, max_size=3), min_size=1,
                      max_size=3).filter(lambda rows: len({len(r) for r in rows}) == 1),
       partial=st.booleans())
def test_matrix_feedback_never_reveals_an_entry(answer, wrong, partial):
    v = variant("matrix", answer, grading={"partial_credit": partial})
    result = grade(v, parse("matrix", "; ".join(" ".join(map(str, row)) for row in wrong)))
    if result.correct:
        return
    assert describe_answer(v) not in result.feedback
    credit = re.search(r" \d+ of \d+ entries right: [\d.]+ of 1 point\.$", result.feedback)
    feedback = result.feedback[:credit.start()] if credit else result.feedback
    # Only counts, positions and sizes (all at most 4 here) may appear, never an entry.
    numbers = {int(n) for n in re.findall(r"-?\d+", feedback)}
    assert numbers <= set(range(0, 5)), result.feedback


@pytest.mark.parametrize("v, wrongs", [
    (CONV_PARAMS, ["281", "279", "2800", "28", "1000000", "-280", "27"]),
    (variant("integer", 7600), ["7500", "760", "76000", "7601", "2533"]),
    (variant("integer", 27000100), ["27000000", "2700010", "270001000", "1"]),
    (OUTPUT_VOLUME, ["29x29x3", "28x28x16", "1x1", "30x30x32x1"]),
    (variant("vector", [-3, 2, 2, 2, 1]), ["-3 2 2 2", "2 2 2", "1 2 2 2 -3", "0 0 0 0 0"]),
    (variant("choice", "sparsity of connections", options=WHY_OPTIONS), ["a", "c", "d"]),
    (variant("multiselect", MULTI, options=WHY_OPTIONS), ["a", "b", "c", "a\nc", "b\nd"]),
])
def test_worked_wrong_answers_never_reveal(v, wrongs):
    for raw in wrongs:
        _assert_not_revealed(v, raw)


# ---------------------------------------------------------------------------------------------
# The real problem bank: what is shown can be typed back, and typed mistakes are named


def _bank_variants(seeds=range(3)):
    from grader.bank import load_bank
    from grader.variants import generate

    bank = load_bank()
    return [generate(problem, seed) for problem in bank.problems.values() for seed in seeds]


def _typed(v: Variant, value) -> str:
    """A mistake's value as a student would type it (a matrix or a non-integer as such)."""
    if lookup(v.answer_type).valid(value):
        return format_value(v.answer_type, value, v.options)
    for name in ("number", "vector", "matrix"):
        if lookup(name).valid(value):
            return format_value(name, value)
    raise AssertionError(f"{v.problem_id}: mistake value {value!r} cannot be typed")


def test_bank_answers_and_mistakes_typed_as_shown_are_graded_as_such():
    typed = 0
    for v in _bank_variants():
        assert grade_raw(v, describe_answer(v)).correct, (v.problem_id, v.seed)
        for mistake in v.mistakes:
            try:
                result = grade_raw(v, _typed(v, mistake.value))
            except FormatError:
                continue  # a value no student can type, e.g. 6.00004 for a whole-number answer
            assert (result.mistake, result.correct) == (mistake.tag, False), (v.problem_id, v.seed)
            typed += 1
    assert typed > 0


def test_bank_feedback_for_unlisted_wrong_answers_never_reveals():
    for v in _bank_variants():
        wrong = _unlisted_wrong(v)
        if wrong is None:
            continue
        result = grade_raw(v, format_value(v.answer_type, wrong, v.options))
        assert not result.correct
        if result.mistake is None:
            shown = re.escape(describe_answer(v))
            assert not re.search(rf"(?<![\w.,]){shown}(?![\w.,])", result.feedback), (
                v.problem_id, result.feedback)


def _unlisted_wrong(v: Variant):
    if v.answer_type == "integer":
        return v.answer * 3 + 7
    if v.answer_type == "number":
        return v.answer * 3 + 0.5
    if v.answer_type in ("shape", "vector"):
        return [x + 1 for x in v.answer]
    if v.answer_type == "matrix":
        return [[x + 1 for x in row] for row in v.answer]
    if v.answer_type == "truefalse":
        return not v.answer
    return None


@given(answer=st.integers(1, 10**7), wrong=st.integers(1, 10**7))
@example(answer=280, wrong=840)
@example(answer=3, wrong=1)
@example(answer=7600, wrong=760)
@example(answer=7, wrong=1)
@example(answer=27000100, wrong=9000033)
def test_a_stated_factor_never_leads_back_to_the_answer(answer, wrong):
    feedback = grade_raw(variant("integer", answer), str(wrong)).feedback
    match = re.search(r"about (10\^)?([\d,.]+)\.$", feedback)
    if match is None:
        return
    factor = 10 ** int(match[2]) if match[1] else float(match[2].replace(",", ""))
    estimate = wrong / factor if "large" in feedback else wrong * factor
    assert round(estimate) != answer, feedback


# ---------------------------------------------------------------------------------------------
# Values restored from JSON, and odd but legal variants


def test_parsed_values_restored_from_json_lists_grade_the_same():
    assert grade(OUTPUT_VOLUME, Parsed([29, 29, 32], "29 x 29 x 32")).correct
    assert grade(CONV2D, Parsed([[4, 4], [4, 3]], "[[4, 4], [4, 3]]")).correct
    assert grade(CONV2D, Parsed([[4.5, 4], [4, 3]], "")).mistake == "flipped-kernel"
    v = variant("multiselect", MULTI, options=WHY_OPTIONS)
    assert grade(v, Parsed(list(reversed(MULTI)), "")).correct


def test_choice_and_multiselect_without_options_compare_texts():
    assert grade_raw(variant("choice", "Max pooling"), "max  pooling.").correct
    assert grade_raw(variant("multiselect", ["a b", "c d"]), "C D\nA B").correct
    assert grade_raw(variant("multiselect", ["a b", "c d"]), "a b").score == 0.5


def test_results_are_frozen():
    result = grade_raw(CONV_PARAMS, "280")
    with pytest.raises(AttributeError):
        result.score = 0.0  # type: ignore[misc]


def test_a_wrong_sized_answer_can_match_a_mistake_of_that_size():
    v = variant("vector", [2, 5, 8, 3], mistakes=[("valid-only", [5, 8], "That is the valid part.")])
    result = grade_raw(v, "[5, 8]")
    assert (result.mistake, result.feedback) == ("valid-only", "That is the valid part.")


def test_describe_answer_of_float_stored_integers():
    assert describe_answer(variant("integer", 1e12)) == "1,000,000,000,000"
    assert describe_answer(variant("number", 2.5e-7)) == "2.5e-7"


@given(correct=st.sets(st.integers(0, 3), min_size=1), chosen=st.sets(st.integers(0, 3), min_size=1),
       scoring=st.sampled_from(["right_minus_wrong", "all_or_nothing"]))
def test_multiselect_scores_stay_in_range(correct, chosen, scoring):
    v = variant("multiselect", [WHY_OPTIONS[i] for i in sorted(correct)], options=WHY_OPTIONS,
                grading={"multiselect_scoring": scoring})
    result = grade_raw(v, "\n".join(WHY_OPTIONS[i] for i in chosen))
    assert 0.0 <= result.score <= 1.0
    assert result.correct is (chosen == correct) is (result.score == 1.0)
    if scoring == "right_minus_wrong" and chosen != correct:
        expected = max(0, len(chosen & correct) - len(chosen - correct)) / len(correct)
        assert result.score == pytest.approx(expected)


@given(rows=st.lists(st.lists(st.integers(-3, 3), min_size=3, max_size=3), min_size=2,
                     max_size=2),
       typed=st.lists(st.lists(st.integers(-3, 3), min_size=3, max_size=3), min_size=2,
                      max_size=2))
def test_matrix_partial_credit_counts_entries(rows, typed):
    v = variant("matrix", rows, grading={"partial_credit": True})
    result = grade_raw(v, str(typed))
    right = sum(a == b for r, t in zip(rows, typed, strict=True) for a, b in zip(r, t, strict=True))
    assert result.score == pytest.approx(right / 6)
    assert result.correct is (right == 6)
