"""Tolerance per dtype: float32 and float16 answers are held to their precision, integers are
exact, and a failure message states the tolerance it missed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from grader import reference
from grader.code import Verdict, build_inputs, grade_source, load_spec
from grader.code.spec import DTYPE_TOLERANCES, Case
from grader.sandbox import SandboxLimits, SandboxPool

SUBMISSIONS = Path(__file__).resolve().parent / "submissions"
LIMITS = SandboxLimits(wall_s=3.0, cpu_s=20.0, memory_mb=512, import_wall_s=3.0)
CASE = Case("c", True, 1.0, 1e-5, 1e-8, 3.0, {})


@pytest.fixture(scope="module")
def pool():
    pool = SandboxPool(1)
    yield pool
    pool.shutdown()


def _failures(report):
    return [(f.name, t.name, t.message) for f in report.functions for t in f.tests
            if not t.passed]


def test_a_correct_float32_solution_gets_full_marks(pool):
    source = (SUBMISSIONS / "float32_vectorized.py").read_text()
    report = grade_source(source, limits=LIMITS, pool=pool, own_code=True)
    assert _failures(report) == []
    assert report.score == report.max_score > 20


def test_float32_error_of_the_issue_passes_under_its_tolerance():
    # max abs error 4.04e-06 on outputs reaching 17.1 (relative 2.36e-07): float32 rounding.
    tol = CASE.tolerance(np.float32, scale=17.1)
    assert tol.dtype == "float32"
    assert 4.04e-06 <= tol.atol
    assert tol.rtol == DTYPE_TOLERANCES["float32"][0]


@pytest.mark.parametrize(("dtype", "exact"), [(np.int64, True), (np.int32, True),
                                               (np.bool_, True), (np.float64, False)])
def test_integers_are_exact_and_float64_keeps_the_case_tolerance(dtype, exact):
    tol = CASE.tolerance(dtype, scale=50.0)
    assert tol.exact is exact
    if not exact:
        assert (tol.rtol, tol.atol) == (1e-5, 1e-8)


def test_float16_is_looser_than_float32_and_float32_than_float64():
    tols = [CASE.tolerance(d, 1.0) for d in (np.float16, np.float32, np.float64)]
    assert tols[0].rtol > tols[1].rtol > tols[2].rtol
    assert tols[0].atol > tols[1].atol > tols[2].atol


def test_a_looser_case_tolerance_is_never_tightened_for_float32():
    loose = Case("c", True, 1.0, 0.5, 0.25, 3.0, {})
    tol = loose.tolerance(np.float32, 1.0)
    assert (tol.rtol, tol.atol) == (0.5, 0.25)


def test_a_float32_failure_states_the_tolerance_it_missed(pool):
    source = ("import numpy as np\n"
              "def distribute_value(dz, shape):\n"
              "    return np.full(shape, dz / (shape[0] * shape[1]) + 0.01, dtype=np.float32)\n")
    report = grade_source(source, limits=LIMITS, pool=pool, own_code=True,
                          functions=["distribute_value"], include_hidden=False)
    test = report.functions[0].tests[0]
    assert not test.passed
    assert test.verdict == Verdict.WRONG_VALUES
    assert "the float32 tolerance is |got - expected| <= 1e-05 + 0.0001 * |expected|" in (
        test.message)
    assert "off by 0.01, more than the 6e-05 allowed there" in test.message


def test_integer_output_that_is_exactly_right_passes_and_one_off_fails(pool):
    right = ("import numpy as np\n"
             "def distribute_value(dz, shape):\n"
             "    return np.full(shape, int(dz) // (shape[0] * shape[1]) + {})\n")
    spec = load_spec("conv_step_by_step").function("distribute_value")
    assert spec.cases[0].params["dz"] / 4 == 0.5  # not an integer: int output is truncated
    report = grade_source(right.format(0), limits=LIMITS, pool=pool, own_code=True,
                          functions=["distribute_value"], include_hidden=False)
    test = report.functions[0].tests[0]
    assert test.verdict == Verdict.WRONG_DTYPE
    assert "integer dtype int64, so values are truncated" in test.message
    assert "int64 values must be exact" in test.message


def test_float32_output_outside_the_float64_rule_is_a_plain_pass(pool):
    source = (SUBMISSIONS / "float32_vectorized.py").read_text()
    namespace: dict = {}
    exec(compile(source, "float32_vectorized.py", "exec"), namespace)  # our own test file
    spec = load_spec("conv_step_by_step").function("conv_forward")
    case = spec.cases[0]
    args, _ = build_inputs("conv_forward", case)
    got = namespace["conv_forward"](*args)[0]
    expected = reference.conv_forward(*args)[0]
    # Under the float64 rule this correct float32 answer would be judged wrong ...
    assert not np.allclose(got, expected, rtol=case.rtol, atol=case.atol)
    report = grade_source(source, limits=LIMITS, pool=pool, own_code=True,
                          functions=["conv_forward"], include_hidden=False)
    first = report.functions[0].tests[0]
    # ... and here it is a pass, whose message says nothing of an error.
    assert (first.name, first.passed, first.message) == (case.name, True, "Correct.")


def test_a_hidden_failure_keeps_its_tolerance_and_values_for_staff_only(pool):
    source = ("import numpy as np\n"
              "def distribute_value(dz, shape):\n"
              "    return np.full(shape, dz / (shape[0] * shape[1]) + 0.01, dtype=np.float32)\n")
    report = grade_source(source, limits=LIMITS, pool=pool, own_code=True,
                          functions=["distribute_value"])
    hidden = [t for t in report.functions[0].tests if t.hidden]
    assert hidden and not any(t.passed for t in hidden)
    for test in hidden:
        assert "float32 tolerance" in test.staff_message
        student = test.redacted()
        assert "tolerance" not in student.message and "-0.5" not in student.message
        assert student.staff_message is None


def test_float32_rounding_returned_as_float64_is_explained(pool):
    source = ("import numpy as np\n"
              "def distribute_value(dz, shape):\n"
              "    value = np.float32(dz) / np.float32(3.0) * np.float32(3.0)\n"
              "    return np.full(shape, float(value / (shape[0] * shape[1])) + 2e-6)\n")
    report = grade_source(source, limits=LIMITS, pool=pool, own_code=True,
                          functions=["distribute_value"], include_hidden=False)
    test = report.functions[0].tests[0]
    assert test.verdict == Verdict.WRONG_VALUES
    assert "the float64 tolerance is |got - expected| <= 1e-08 + 1e-06 * |expected|" in (
        test.message)
    assert "Every difference is the size of float32 rounding" in test.message


def test_a_real_error_gets_no_rounding_note(pool):
    source = ("import numpy as np\n"
              "def distribute_value(dz, shape):\n"
              "    return np.full(shape, dz / shape[0])\n")
    report = grade_source(source, limits=LIMITS, pool=pool, own_code=True,
                          functions=["distribute_value"], include_hidden=False)
    test = report.functions[0].tests[0]
    assert test.verdict == Verdict.WRONG_VALUES
    assert "float32 rounding" not in test.message
