"""The mask's tie rule: like the course's ``x == np.max(x)``, every tied maximum is marked, and
max pooling's backward pass sends each window's gradient to every one of them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from grader import reference
from grader.code import Verdict, build_inputs, grade_source, load_spec
from grader.sandbox import SandboxLimits, SandboxPool

SUBMISSIONS = Path(__file__).resolve().parent / "submissions"
LIMITS = SandboxLimits(wall_s=3.0, cpu_s=20.0, memory_mb=512, import_wall_s=3.0)
SPEC = load_spec("conv_step_by_step")
# A mask that marks only the first maximum, as np.argmax would.
FIRST_MAX_MASK = '''
def create_mask_from_window(x):
    mask = np.zeros(x.shape, dtype=bool)
    mask[np.unravel_index(np.argmax(x), x.shape)] = True
    return mask
'''


@pytest.fixture(scope="module")
def pool():
    pool = SandboxPool(1)
    yield pool
    pool.shutdown()


def _tie_cases(func: str):
    cases = [c for c in SPEC.function(func).cases if "tied" in c.name or "equal" in c.name]
    assert cases, f"{func} has no tie case"
    return cases


def _windows_with_ties(A: np.ndarray, f: int, stride: int) -> int:
    windows = np.lib.stride_tricks.sliding_window_view(A, (f, f), axis=(1, 2))
    windows = windows[:, ::stride, ::stride]
    maxima = windows == windows.max(axis=(4, 5), keepdims=True)
    return int(np.sum(maxima.sum(axis=(4, 5)) > 1))


def test_the_reference_marks_every_tied_maximum():
    mask = reference.create_mask_from_window(np.array([[1.0, 3.0], [3.0, 2.0]]))
    assert mask.tolist() == [[False, True], [True, False]]


def test_the_mask_tie_cases_are_public_and_hold_ties():
    for case in _tie_cases("create_mask_from_window"):
        assert case.public
        (window,), _ = build_inputs("create_mask_from_window", case)
        assert np.sum(window == window.max()) >= 2


def test_the_pool_backward_tie_cases_hold_many_tied_windows():
    for case in _tie_cases("pool_backward"):
        assert case.public and case.params["mode"] == "max"
        (_, (A_prev, hp)), _ = build_inputs("pool_backward", case)
        assert _windows_with_ties(A_prev, hp["f"], hp["stride"]) >= 5


def test_tied_maxima_each_receive_the_whole_gradient_in_pool_backward():
    A_prev = np.array([[1.0, 1.0], [0.0, 1.0]]).reshape(1, 2, 2, 1)
    _, cache = reference.pool_forward(A_prev, {"f": 2, "stride": 2})
    dA_prev = reference.pool_backward(np.full((1, 1, 1, 1), 2.0), cache, mode="max")
    assert dA_prev[0, :, :, 0].tolist() == [[2.0, 2.0], [0.0, 2.0]]


def test_the_course_rule_passes_the_tie_cases(pool):
    source = (SUBMISSIONS / "correct_loops.py").read_text()
    report = grade_source(source, limits=LIMITS, pool=pool, own_code=True,
                          functions=["create_mask_from_window", "pool_backward"],
                          include_hidden=False)
    assert [t.name for f in report.functions for t in f.tests if not t.passed] == []


def test_marking_only_the_first_maximum_fails_exactly_the_tie_cases(pool):
    source = (SUBMISSIONS / "correct_loops.py").read_text() + FIRST_MAX_MASK
    report = grade_source(source, limits=LIMITS, pool=pool, own_code=True,
                          functions=["create_mask_from_window", "pool_backward"],
                          include_hidden=False)
    failed = {(f.name, t.name) for f in report.functions for t in f.tests if not t.passed}
    ties = {(func, c.name) for func in ("create_mask_from_window", "pool_backward")
            for c in _tie_cases(func)}
    # Every tie case catches it, and no case without ties blames it.
    assert failed == ties
    tests = {t.name: t for f in report.functions for t in f.tests}
    assert tests["every value equal"].verdict == Verdict.WRONG_VALUES
    assert "first mismatch at index (0, 1)" in tests["every value equal"].message
