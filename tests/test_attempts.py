"""Attempt policies (grader.attempts) and how the bank resolves them from set and problem files."""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grader.attempts import (
    AttemptPolicy,
    PolicySpec,
    format_points,
    next_attempt_note,
    resolve,
)
from grader.bank import BankError, load_bank

# --- the arithmetic ------------------------------------------------------------------------------


def test_points_per_attempt_decrease_and_the_last_repeats():
    policy = resolve("integer", PolicySpec.from_points([3, 2, 1]))
    assert policy.attempts == 3
    assert [round(policy.value(n) * 3, 9) for n in (1, 2, 3, 4, 5)] == [3, 2, 1, 1, 1]
    assert policy.decreasing


def test_penalty_per_wrong_try_stops_at_zero():
    policy = AttemptPolicy(attempts=6, penalty=0.25)
    assert [policy.value(n) for n in range(1, 7)] == [1.0, 0.75, 0.5, 0.25, 0.0, 0.0]


def test_credit_is_score_times_worth_and_best_is_over_attempts():
    policy = resolve("integer", PolicySpec.from_points([4, 2]))
    assert policy.credit(1, 0.5) == 0.5
    assert policy.credit(2, 1.0) == 0.5
    # a half-right first try and a right second try: the better of 0.5 and 0.5
    assert policy.best([(1, 0.25), (2, 1.0)]) == 0.5
    assert policy.best([]) == 0.0


def test_guessable_types_default_to_one_attempt_unless_said():
    assert resolve("truefalse").attempts == 1
    assert resolve("choice").attempts == 1
    assert resolve("multiselect").attempts == 3
    assert resolve("integer").attempts == 3
    assert resolve("truefalse", None, PolicySpec(attempts=2)).attempts == 2


def test_the_most_specific_statement_of_each_field_wins():
    item = PolicySpec(attempts=5)
    course_set = PolicySpec(penalty=0.1)
    problem = PolicySpec(attempts=2, worth=(1.0, 0.5))
    policy = resolve("integer", item, course_set, problem)
    assert policy == AttemptPolicy(attempts=5, penalty=0.1)
    # points listed on the item give as many attempts as they have entries
    assert resolve("integer", PolicySpec.from_points([2, 1]), PolicySpec(attempts=9)).attempts == 2


def test_extra_attempts_continue_the_scheme():
    policy = AttemptPolicy(attempts=2, penalty=0.5).with_extra(1)
    assert policy.attempts == 3 and policy.value(3) == 0.0
    assert AttemptPolicy(2).with_extra(-4).attempts == 2


def test_a_spec_gives_one_scheme_and_policies_check_their_ranges():
    with pytest.raises(ValueError, match="not both"):
        PolicySpec(worth=(1.0,), penalty=0.5)
    with pytest.raises(ValueError, match="at least one attempt"):
        AttemptPolicy(attempts=0)
    with pytest.raises(ValueError, match="between 0 and 1"):
        AttemptPolicy(penalty=1.5)
    with pytest.raises(ValueError, match="count from 1"):
        AttemptPolicy().value(0)


def test_the_page_note_says_what_the_next_attempt_is_worth():
    policy = resolve("integer", PolicySpec.from_points([3, 2, 1]))
    assert next_attempt_note(policy, 1, 3.0) == "Attempt 2 can earn 2 of 3 points."
    assert next_attempt_note(policy, 3, 3.0) == ""
    assert next_attempt_note(AttemptPolicy(3), 0, 1.0) == ""  # nothing decreases: nothing to say
    assert next_attempt_note(AttemptPolicy(3, penalty=1 / 3), 1, 1.0) == (
        "Attempt 2 can earn 0.67 of 1 point.")
    assert format_points(0.0) == "0" and format_points(2.5) == "2.5"


scores = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
penalties = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
worths = st.lists(st.floats(min_value=0.0, max_value=1.0, allow_nan=False), min_size=1,
                  max_size=6).map(lambda w: tuple(sorted(w, reverse=True)))


@given(penalties, worths, st.integers(1, 10), st.integers(1, 12), scores)
def test_credit_stays_in_range_and_never_grows_with_later_attempts(penalty, worth, attempts,
                                                                     attempt, score):
    for policy in (AttemptPolicy(attempts, penalty=penalty), AttemptPolicy(attempts, worth=worth)):
        credit = policy.credit(attempt, score)
        assert 0.0 <= credit <= score
        assert policy.value(attempt + 1) <= policy.value(attempt)


@given(st.lists(st.tuples(st.integers(1, 8), scores), max_size=8), penalties)
def test_best_is_the_maximum_credit_and_order_does_not_matter(answers, penalty):
    policy = AttemptPolicy(8, penalty=penalty)
    best = policy.best(answers)
    assert best == policy.best(list(reversed(answers)))
    assert all(policy.credit(a, s) <= best for a, s in answers)


# --- the bank: set and problem files -------------------------------------------------------------

TF = """\
id: tf
title: A fact
topic: pooling-facts
answer_type: truefalse
prompt: "Pooling has no weights."
answer: true
"""
INT = """\
id: num
title: A number
topic: conv-params
answer_type: integer
prompt: "How many?"
answer: 3
solution: "Count them: {{ answer }}."
attempt_policy: {penalty: 0.5}
"""


def _bank(tmp_path, set_text: str):
    (tmp_path / "sets").mkdir()
    (tmp_path / "tf.yaml").write_text(TF)
    (tmp_path / "num.yaml").write_text(INT)
    (tmp_path / "sets" / "s.yaml").write_text(textwrap.dedent(set_text))
    return load_bank(tmp_path)


def test_the_loader_resolves_each_items_policy(tmp_path):
    bank = _bank(tmp_path, """\
        id: s
        title: S
        problems:
          - {problem: tf}
          - {problem: num, points: 2}
          - {problem: num, points: [3, 2, 1]}
          - {problem: tf, attempts: 2}
        """)
    tf, num, listed, tf_two = bank.sets["s"].items
    assert (tf.attempts, tf.policy) == (1, AttemptPolicy(1))
    assert num.policy == AttemptPolicy(3, penalty=0.5) and num.points == 2
    assert listed.points == 3 and listed.attempts == 3 and round(listed.policy.value(2), 3) == 0.667
    assert tf_two.attempts == 2
    assert bank.problems["num"].solution_template is not None


def test_a_set_default_policy_applies_to_its_items(tmp_path):
    bank = _bank(tmp_path, """\
        id: s
        title: S
        attempt_policy: {attempts: 2, worth: [1, 0.5]}
        problems:
          - {problem: tf}
          - {problem: num}
        """)
    tf, num = bank.sets["s"].items
    assert tf.policy == AttemptPolicy(2, worth=(1.0, 0.5))
    assert num.policy == AttemptPolicy(2, worth=(1.0, 0.5))  # the set's scheme over the problem's


@pytest.mark.parametrize(("item", "message"), [
    ("{problem: num, points: [1, 2]}", "cannot earn more points"),
    ("{problem: num, points: [2, 1], penalty: 0.5}", "not both"),
    ("{problem: num, penalty: 2}", "less than or equal to 1"),
])
def test_bad_policies_are_findings_that_name_the_field(tmp_path, item, message):
    with pytest.raises(BankError, match=message):
        _bank(tmp_path, f"""\
            id: s
            title: S
            problems:
              - {item}
            """)
