"""The general mistake detectors, table-driven over every template of their answer type.

For each detector and every shipped template it applies to, over many seeds: it names the wrong
answer its misconception produces, never the right answer, and never an unrelated wrong answer
(an arithmetic slip gets no misconception name).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pytest

from grader.answers import Parsed, format_value, lookup
from grader.answers import detectors as d
from grader.bank import load_bank
from grader.expressions import same_value
from grader.grading import grade, grade_raw
from grader.variants import Variant, generate

SEEDS = range(30)


@functools.lru_cache(maxsize=1)
def _variants() -> tuple[Variant, ...]:
    bank = load_bank()
    return tuple(generate(p, seed) for p in bank.problems.values() for seed in SEEDS)


def _of_type(*types: str) -> list[Variant]:
    return [v for v in _variants() if v.answer_type in types]


def _other_mistake(v: Variant, value: Any) -> bool:
    """Whether ``value`` is (or equals) the right answer or an expected mistake of ``v``."""
    return same_value(value, v.answer) or any(same_value(value, m.value) for m in v.mistakes)


def _slip(v: Variant) -> Any:
    """An unrelated wrong answer: the right one with one entry off by 7 (no misconception)."""
    answer = v.answer
    if v.answer_type in ("integer", "number"):
        return answer + 7
    if v.answer_type == "matrix":
        rows = [list(r) for r in answer]
        rows[0][0] += 7
        return rows
    return [answer[0] + 7, *answer[1:]]


# --- structural detectors: (detector, answer types, the wrong answer it names or None) -----------

def _channels_first(a):
    return [*a[:-3], a[-1], a[-3], a[-2]] if len(a) >= 3 else None


def _hw_swapped(a):
    return [*a[:-3], a[-2], a[-3], a[-1]] if len(a) >= 3 and a[-3] != a[-2] else None


def _transposed(m):
    return [list(c) for c in zip(*m, strict=True)]


STRUCTURAL: list[tuple[d.Detector, tuple[str, ...], Callable[[Any], Any]]] = [
    (d.CHANNELS_FIRST, ("shape",), _channels_first),
    (d.HEIGHT_WIDTH_SWAPPED, ("shape",), _hw_swapped),
    (d.REVERSED, ("vector",), lambda a: a[::-1]),
    (d.POSITION_MISSING, ("vector",), lambda a: a[:-1] if len(a) > 1 else None),
    (d.POSITION_EXTRA, ("vector",), lambda a: [*a, a[-1] + 7]),
    (d.TRANSPOSED, ("matrix",), _transposed),
    (d.ROWS_REVERSED, ("matrix",), lambda m: m[::-1]),
    (d.COLUMNS_REVERSED, ("matrix",), lambda m: [r[::-1] for r in m]),
    (d.ROTATED, ("matrix",), lambda m: [r[::-1] for r in m[::-1]]),
    (d.POSITION_MISSING, ("matrix",), lambda m: m[:-1] if len(m) > 1 else None),
    (d.POSITION_EXTRA, ("matrix",), lambda m: [list(r) + [r[-1] + 7] for r in m]),
]


def _first_detector_for(v: Variant, value: Any) -> d.Detector | None:
    """The structural detector that should name ``value``: when two constructions coincide (a
    symmetric matrix's flips, a shape whose height equals its depth) only the layout is named."""
    found = [detector for detector, types, make in STRUCTURAL
             if v.answer_type in types and make(v.answer) is not None
             and same_value(make(v.answer), value)]
    if len(found) > 1:
        return d.DIMENSIONS_REORDERED if v.answer_type == "shape" else d.REARRANGED
    return found[0] if found else None


@pytest.mark.parametrize("detector, types, make", STRUCTURAL,
                         ids=[f"{t[0]}-{det.tag}" for det, t, _ in STRUCTURAL])
def test_structural_detector_names_its_mistake_over_every_template(detector, types, make):
    fired = templates = 0
    seen = set()
    for v in _of_type(*types):
        seen.add(v.problem_id)
        right = grade(v, Parsed(v.answer, "right"))
        assert right.correct and right.mistake is None
        wrong = make(v.answer)
        slip = grade(v, Parsed(_slip(v), "slip"))
        assert slip.mistake != detector.tag, (v.problem_id, v.seed)
        if wrong is None or _other_mistake(v, wrong):
            continue
        expected = _first_detector_for(v, wrong)
        if expected is not detector:
            assert grade(v, Parsed(wrong, "wrong")).mistake == expected.tag, (v.problem_id, wrong)
            continue
        result = grade(v, Parsed(wrong, "wrong"))
        assert (result.mistake, result.kind, result.correct) == (
            detector.tag, detector.kind, False), (v.problem_id, v.seed, wrong)
        assert result.feedback.startswith(detector.message)
        fired += 1
    templates = len(seen)
    assert templates > 0 and fired > 0, (detector.tag, templates, fired)


def test_every_shape_template_names_channels_first_and_swapped_axes():
    """Channels first on every shape template; height and width swapped wherever a variant is
    rectangular (typed, so the size check lets it through)."""
    problems_fired: dict[str, set[str]] = {}
    for v in _of_type("shape"):
        for detector, make in ((d.CHANNELS_FIRST, _channels_first),
                               (d.HEIGHT_WIDTH_SWAPPED, _hw_swapped)):
            wrong = make(v.answer)
            if wrong is None or _other_mistake(v, wrong) or sorted(set(v.answer)) == [
                    v.answer[0]]:
                continue
            result = grade_raw(v, format_value("shape", wrong))
            if result.mistake == detector.tag:
                problems_fired.setdefault(detector.tag, set()).add(v.problem_id)
            else:
                assert result.mistake in {m.tag for m in v.mistakes} | d.DETECTOR_TAGS, (
                    v.problem_id, v.seed, wrong, result)
    shapes = {v.problem_id for v in _of_type("shape")}
    assert problems_fired[d.CHANNELS_FIRST.tag] == shapes
    assert {"conv-output-rectangular", "pool-output-rectangular", "strided-floor-shape"} <= (
        problems_fired[d.HEIGHT_WIDTH_SWAPPED.tag])


# --- expression detectors --------------------------------------------------------------------

EXPRESSION = [d.FLOOR_NOT_TAKEN, d.LOG_NOT_TAKEN, d.SUM_NOT_TAKEN, d.WHOLE_MATRIX,
              d.BIASES_LEFT_OUT, d.FULL_INSTEAD_OF_VALID, d.VALID_INSTEAD_OF_FULL,
              d.PADDING_LEFT_OUT, d.STRIDE_ONE, d.CHANNELS_MISSING, d.CHANNELS_EXTRA]


def _typed(v: Variant, value: Any) -> str:
    """A value as a student types it: in the asked form, or (a non-integer, a matrix) in its
    own."""
    for name in (v.answer_type, "number", "vector", "matrix"):
        if lookup(name).valid(value):
            return format_value(name, value, v.options if name == v.answer_type else None)
    raise AssertionError(f"{v.problem_id}: {value!r} cannot be typed")


@pytest.mark.parametrize("detector", EXPRESSION, ids=[det.tag for det in EXPRESSION])
def test_expression_detector_names_its_mistake_typed_over_every_template(detector):
    fired: set[str] = set()
    for v in _variants():
        mine = [m for m in v.mistakes if m.tag == detector.tag and m.message == detector.message]
        if not mine:
            continue
        assert not grade(v, Parsed(v.answer, "right")).mistake
        result = grade_raw(v, _typed(v, mine[0].value))
        assert (result.mistake, result.correct) == (detector.tag, False), (v.problem_id, v.seed)
        assert result.feedback.startswith(detector.message)
        if v.answer_type in ("integer", "number", "vector", "matrix"):
            assert grade(v, Parsed(_slip(v), "slip")).mistake != detector.tag
        fired.add(v.problem_id)
    assert fired, detector.tag


def test_expression_detectors_reach_the_templates_the_course_names():
    by_tag: dict[str, set[str]] = {}
    for v in _variants():
        for m in v.mistakes:
            if m.tag in d.DETECTOR_TAGS:
                by_tag.setdefault(m.tag, set()).add(v.problem_id)
    assert {"strided-floor-size", "pool-output-size"} <= by_tag["floor-not-taken"]
    assert "fc-connections-log10" in by_tag["log-not-taken"]
    assert "conv2d-sum" in by_tag["sum-not-taken"]
    assert {"conv2d-entry", "conv1d-entry"} <= by_tag["whole-matrix-given"]
    assert {"conv1d-valid", "conv2d-valid-matrix"} <= by_tag["full-instead-of-valid"]
    assert "conv1d-full" in by_tag["valid-instead-of-full"]
    assert "conv1d-flipped-filter" in by_tag["padding-left-out"]
    assert "max-pool-matrix" in by_tag["stride-one-used"]
    assert "lenet-total-params" in by_tag["bias-forgotten"]


# --- units ----------------------------------------------------------------------------------

def test_shape_order_detectors_need_every_dimension_right():
    assert d.detect_shape([32, 29, 29], [29, 29, 32]) is d.CHANNELS_FIRST
    assert d.detect_shape([62, 34, 24], [34, 62, 24]) is d.HEIGHT_WIDTH_SWAPPED
    assert d.detect_shape([29, 32, 29], [29, 29, 32]) is d.DIMENSIONS_REORDERED
    assert d.detect_shape([10, 5], [5, 10]) is d.HEIGHT_WIDTH_SWAPPED
    for wrong in ([32, 29, 28], [29, 29, 32], [29, 29], [29, 29, 32, 1]):
        assert d.detect_shape(wrong, [29, 29, 32]) is None


def test_matrix_detectors_need_the_values_right():
    def close(a, b):
        return a == b

    m = [[1, 2, 3], [4, 5, 6]]
    assert d.detect_matrix([[1, 4], [2, 5], [3, 6]], m, close) is d.TRANSPOSED
    assert d.detect_matrix([[4, 5, 6], [1, 2, 3]], m, close) is d.ROWS_REVERSED
    assert d.detect_matrix([[3, 2, 1], [6, 5, 4]], m, close) is d.COLUMNS_REVERSED
    assert d.detect_matrix([[6, 5, 4], [3, 2, 1]], m, close) is d.ROTATED
    assert d.detect_matrix([[2, 1], [1, 2]], [[1, 2], [2, 1]], close) is d.REARRANGED
    assert d.detect_shape([8, 16, 8], [16, 8, 8]) is d.DIMENSIONS_REORDERED
    assert d.detect_matrix([[1, 2], [4, 5]], m, close) is d.POSITION_MISSING
    assert d.detect_matrix([[1, 2, 3]], m, close) is d.POSITION_MISSING
    assert d.detect_matrix([[1, 2, 3, 9], [4, 5, 6, 9]], m, close) is d.POSITION_EXTRA
    for wrong in ([[1, 2, 3], [4, 5, 7]], [[1, 4], [2, 5], [3, 7]], [[9, 9], [9, 9]], m):
        assert d.detect_matrix(wrong, m, close) is None
