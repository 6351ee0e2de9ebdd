"""Grading exercise files end to end: full marks for correct code, named bugs for buggy code."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from grader import reference
from grader.code import (
    EXERCISES,
    CodeReport,
    build_inputs,
    diagnosis,
    grade_source,
    load_spec,
)
from grader.errors import ProblemSpecError, StudentCodeError
from grader.sandbox import IsolationUnavailable, SandboxLimits, SandboxPool

ROOT = Path(__file__).resolve().parents[1]
SUBMISSIONS = ROOT / "tests" / "submissions"
LIMITS = SandboxLimits(wall_s=3.0, cpu_s=20.0, memory_mb=512, import_wall_s=3.0)


@pytest.fixture(scope="module")
def pool():
    pool = SandboxPool(1)
    yield pool
    pool.shutdown()


def _grade(pool, source, **kwargs) -> CodeReport:
    return grade_source(source, limits=LIMITS, pool=pool, **kwargs)


def _submission(name: str, bug: str | None = None) -> str:
    source = (SUBMISSIONS / name).read_text()
    return source.replace('BUG = "none"', f'BUG = "{bug}"') if bug else source


@pytest.mark.parametrize("name", ["correct_vectorized.py", "correct_loops.py"])
def test_correct_submissions_get_full_marks(pool, name):
    report = _grade(pool, _submission(name))
    failures = [(f.name, t.name, t.message) for f in report.functions for t in f.tests
                if not t.passed]
    assert failures == []
    assert report.score == report.max_score > 20
    assert all(f.status == "passed" for f in report.functions)


def test_correct_convolution_basics_get_full_marks(pool):
    report = _grade(pool, _submission("correct_basics.py"), exercise="convolution_basics")
    assert [f.status for f in report.functions] == ["passed"] * 5
    assert report.score == report.max_score


def test_the_stub_files_are_not_attempted(pool):
    for exercise in EXERCISES:
        source = (ROOT / "exercises" / f"{exercise}.py").read_text()
        report = _grade(pool, source, exercise=exercise, include_hidden=False)
        assert {f.status for f in report.functions} == {"not attempted"}
        assert report.score == 0


def test_json_has_exactly_the_contract_keys(pool):
    report = _grade(pool, _submission("correct_vectorized.py"), functions=["zero_pad"],
                    include_hidden=False)
    data = json.loads(json.dumps(report.to_json()))
    assert set(data) == {"audience", "score", "max_score", "functions", "warnings"}
    assert data["audience"] == "student"
    [function] = data["functions"]
    assert set(function) == {"name", "status", "tests"}
    assert {frozenset(t) for t in function["tests"]} == {frozenset(
        {"name", "passed", "verdict", "message", "diagnosis", "points", "max_points", "hidden"})}
    assert all(not t["name"].startswith("hidden") and not t["hidden"]
               for t in function["tests"])


def test_a_subset_of_functions_reports_the_rest_not_attempted(pool):
    source = _submission("correct_vectorized.py").split("def conv_single_step")[0]
    report = _grade(pool, source, functions=["zero_pad", "conv_single_step"])
    assert [(f.name, f.status) for f in report.functions] == [
        ("zero_pad", "passed"), ("conv_single_step", "not attempted")]
    assert report.all_attempted_pass


@pytest.mark.parametrize("scalar", ["float(np.sum(a * W) + b.item())",
                                    "np.float64(np.sum(a * W)) + b[0, 0, 0]",
                                    "np.array(np.sum(a * W) + b.item())"])
def test_python_floats_numpy_scalars_and_0d_arrays_are_all_fine(pool, scalar):
    source = f"import numpy as np\ndef conv_single_step(a, W, b):\n    return {scalar}\n"
    report = _grade(pool, source, functions=["conv_single_step"])
    assert report.functions[0].status == "passed"


def test_float_of_the_bias_is_named(pool):
    assert pytest.raises(TypeError, float, np.zeros((1, 1, 1)))  # NumPy >= 2.4
    report = _grade(pool, _submission("buggy_float_b.py"), functions=["conv_single_step"])
    test = report.functions[0].tests[0]
    assert test.verdict == "exception"
    assert "TypeError" in test.message and "line 9, in conv_single_step" in test.message
    assert "b.item()" in test.diagnosis and "NumPy 2.4" in test.diagnosis


def test_a_bias_array_instead_of_a_scalar_is_explained(pool):
    source = "import numpy as np\ndef conv_single_step(a, W, b):\n    return np.sum(a * W) + b\n"
    test = _grade(pool, source, functions=["conv_single_step"]).functions[0].tests[0]
    assert test.verdict == "wrong shape"
    assert "b.item()" in test.diagnosis


BUGS = [
    ("buggy_conv_forward.py", "conv_forward", "flip", "wrong values", "kernel flipped"),
    ("buggy_conv_forward.py", "conv_forward", "nobias", "wrong values", "without the bias"),
    ("buggy_conv_forward.py", "conv_forward", "bias_twice", "wrong values", "bias added twice"),
    ("buggy_conv_forward.py", "conv_forward", "stride", "wrong shape", "stride 1"),
    ("buggy_conv_forward.py", "conv_forward", "nopad", "wrong shape", "without padding"),
    ("buggy_conv_forward.py", "conv_forward", "no_plus_one", "wrong shape", "the +1"),
    ("buggy_conv_forward.py", "conv_forward", "ceil", "wrong shape", "rounds up"),
    ("buggy_conv_forward.py", "conv_forward", "nchw", "wrong shape", "NCHW"),
    ("buggy_conv_forward.py", "conv_forward", "no_cache", "wrong type", "forgot to return the cache"),
    ("buggy_conv_forward.py", "conv_forward", "int", "wrong dtype", "truncates"),
    ("buggy_pool.py", "pool_forward", "swap_mode", "wrong values", "pooling, but this test asks"),
    ("buggy_pool.py", "pool_backward", "assign", "wrong values", "+=, not ="),
    ("buggy_pool.py", "zero_pad", "pad_all_axes", "wrong shape", "batch and channel axes"),
    ("buggy_conv_backward.py", "conv_backward", "dw_not_summed", "wrong values",
     "summed over the batch"),
    ("buggy_conv_backward.py", "conv_backward", "db_mean", "wrong values", "db matches the average"),
    ("buggy_conv_backward.py", "conv_backward", "empty_slice", "wrong shape", "X[pad:-pad]"),
]


@pytest.mark.parametrize(("file", "func", "bug", "verdict", "named"), BUGS,
                         ids=[b[2] for b in BUGS])
def test_each_bug_is_named(pool, file, func, bug, verdict, named):
    report = _grade(pool, _submission(file, bug), functions=[func])
    [function] = report.functions
    assert function.status == "failed"
    failed = [t for t in function.tests if not t.passed]
    assert any(t.verdict == verdict and named in (t.diagnosis or "") for t in failed), [
        (t.verdict, t.diagnosis) for t in failed]


@pytest.mark.parametrize("file", ["buggy_conv_forward.py", "buggy_pool.py",
                                  "buggy_conv_backward.py"])
def test_the_buggy_files_are_correct_without_their_bug(pool, file):
    report = _grade(pool, _submission(file))
    attempted = [f for f in report.functions if f.status != "not attempted"]
    assert attempted and all(f.status == "passed" for f in attempted)


def test_wrong_shape_message_shows_the_formula_with_the_test_numbers(pool):
    report = _grade(pool, _submission("buggy_conv_forward.py", "no_plus_one"),
                    functions=["conv_forward"], include_hidden=False)
    message = report.functions[0].tests[0].message
    assert "expected (2, 3, 4, 8)" in message
    assert "n_H = floor((5 + 2*1 - 3) / 2) + 1 = 3" in message


def test_wrong_values_message_gives_error_sizes_and_first_index(pool):
    source = ("import numpy as np\ndef zero_pad(X, pad):\n"
              "    out = np.pad(X, ((0, 0), (pad, pad), (pad, pad), (0, 0)))\n"
              "    out[0, 1, 2, 1] += 0.5\n    return out\n")
    test = _grade(pool, source, functions=["zero_pad"]).functions[0].tests[0]
    assert test.verdict == "wrong values"
    assert re.search(r"max abs error 0\.5, relative error [0-9.e-]+; first mismatch at index "
                     r"\(0, 1, 2, 1\)", test.message)


def test_speed_is_a_separate_test_against_the_reference(pool):
    report = _grade(pool, _submission("correct_loops.py"), functions=["conv_forward"])
    [speed] = [t for t in report.functions[0].tests if t.name.startswith("speed:")]
    assert speed.passed
    assert re.search(r"ms on the case 'larger batch' \(budget 3000 ms\); the reference takes",
                     speed.message)


def test_inputs_are_deterministic_and_checked_on_the_graders_copies(pool):
    spec = load_spec("conv_step_by_step").function("conv_forward")
    first, again = build_inputs("conv_forward", spec.cases[0]), build_inputs(
        "conv_forward", spec.cases[0])
    np.testing.assert_array_equal(first[0][0], again[0][0])
    # A student who mutates the inputs after computing the right answer still passes.
    source = (_submission("correct_vectorized.py") +
              "\n_real = conv_forward\n"
              "def conv_forward(A_prev, W, b, hparameters):\n"
              "    out = _real(A_prev, W, b, hparameters)\n"
              "    out = (out[0].copy(), out[1])\n"
              "    A_prev[...] = 0; W[...] = 0; b[...] = 0\n"
              "    return out\n")
    report = _grade(pool, source, functions=["conv_forward"], include_hidden=False)
    assert report.functions[0].status == "passed"


def test_non_text_input_raises_student_code_error(pool):
    with pytest.raises(StudentCodeError, match="not UTF-8 text"):
        grade_source(b"\xff\xfe\x00bad", limits=LIMITS, pool=pool)
    with pytest.raises(StudentCodeError, match="expected the program text, got int"):
        grade_source(42, limits=LIMITS, pool=pool)


def test_unknown_exercise_and_function_are_value_errors(pool):
    with pytest.raises(ValueError, match="unknown exercise 'nope'"):
        grade_source("", exercise="nope", pool=pool)
    with pytest.raises(ValueError, match="has no function 'conv'"):
        grade_source("", functions=["conv"], pool=pool)


def test_a_broken_spec_names_the_file_and_function(tmp_path):
    (tmp_path / "conv_step_by_step.yaml").write_text(
        "functions:\n  zero_pad:\n    result: banana\n    cases: []\n")
    with pytest.raises(ProblemSpecError, match=r"conv_step_by_step.yaml: zero_pad: result must"):
        load_spec("conv_step_by_step", tmp_path)


def test_grade_source_is_thread_safe():
    pool = SandboxPool(2)
    sources = {i: _submission("correct_vectorized.py") if i % 2 else
               _submission("buggy_conv_forward.py", "flip") for i in range(4)}
    scores: dict[int, float] = {}

    def grade(i: int) -> None:
        report = grade_source(sources[i], functions=["conv_forward"], include_hidden=False,
                              limits=LIMITS, pool=pool)
        scores[i] = report.score

    threads = [threading.Thread(target=grade, args=(i,)) for i in sources]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    pool.shutdown()
    # The flipped kernel only passes the f = 1 case, where flipping changes nothing.
    assert scores[1] == scores[3] == 6.0
    assert scores[0] == scores[2] == 1.0


def test_course_style_empty_slice_at_pad_0_is_named_from_the_exception(pool):
    source = _submission("correct_loops.py").replace(
        "dA_prev[i, :, :, :] = da_prev_pad[pad:pad + n_H_prev, pad:pad + n_W_prev, :]",
        "dA_prev[i, :, :, :] = da_prev_pad[pad:-pad, pad:-pad, :]")
    report = _grade(pool, source, functions=["conv_backward"])
    [pad0] = [t for t in report.functions[0].tests if t.name == "pad 0"]
    assert pad0.verdict == "exception"
    assert "X[pad:-pad]" in pad0.diagnosis
    padded = [t for t in report.functions[0].tests if t.name != "pad 0"]
    assert all(t.passed for t in padded if "f = 1" not in (t.staff_case or t.name))


def test_true_division_in_the_size_formula_is_explained(pool):
    source = _submission("correct_loops.py").replace(
        "n_H = int((n_H_prev + 2 * pad - f) / stride) + 1",
        "n_H = (n_H_prev + 2 * pad - f) / stride + 1")
    report = _grade(pool, source, functions=["conv_forward"], include_hidden=False)
    test = report.functions[0].tests[0]
    assert test.verdict == "exception"
    assert "use //" in test.diagnosis


@pytest.mark.parametrize(("swap", "named"), [
    ("k[::-1]", "cross-correlation (kernel not flipped)"),
    ("k", "mode 'valid'"),
])
def test_convolution_basics_bugs_are_named(pool, swap, named):
    source = _submission("correct_basics.py")
    if swap == "k[::-1]":
        source = source.replace("return _correlate(x, np.asarray(k)[::-1], mode, pad)",
                                "return _correlate(x, k, mode, pad)")
    else:
        source = source.replace("def convolve1d(x, k, mode=\"full\", pad=0):\n",
                                "def convolve1d(x, k, mode=\"full\", pad=0):\n"
                                "    mode = \"valid\"\n")
    report = _grade(pool, source, exercise="convolution_basics", functions=["convolve1d"])
    diagnoses = [t.diagnosis or "" for t in report.functions[0].tests if not t.passed]
    assert any(named in d for d in diagnoses), diagnoses


# ------------------------------------------------- diagnosis in the trusted process (no sandbox)

@st.composite
def conv_cases(draw):
    f = draw(st.integers(2, 3))
    stride = draw(st.integers(1, 2))
    pad = draw(st.integers(0, 2))
    n_H = draw(st.integers(f, 6))
    n_W = draw(st.integers(f, 6))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((draw(st.integers(1, 2)), n_H, n_W, draw(st.integers(1, 3))))
    W = rng.standard_normal((f, f, A.shape[3], draw(st.integers(1, 3))))
    b = rng.standard_normal((1, 1, 1, W.shape[3]))
    return A, W, b, {"stride": stride, "pad": pad}


@given(conv_cases())
def test_a_flipped_kernel_is_always_named(case):
    A, W, b, hp = case
    expected = reference.conv_forward(A, W, b, hp)[0]
    got = reference.conv_forward(A, W[::-1, ::-1], b, hp)[0]
    assume(not np.allclose(got, expected))
    hint = diagnosis.explain_values("conv_forward", case, {}, "Z", got, expected)
    assert hint is not None and "kernel flipped" in hint


@given(conv_cases())
def test_a_missing_bias_is_named_unless_a_flip_explains_it_too(case):
    A, W, b, hp = case
    expected = reference.conv_forward(A, W, b, hp)[0]
    got = expected - b
    hint = diagnosis.explain_values("conv_forward", case, {}, "Z", got, expected)
    assert hint is not None and ("without the bias" in hint or "flipped" in hint)


def test_the_correct_output_matches_no_mutation_that_changes_it():
    rng = np.random.default_rng(0)
    A, W = rng.standard_normal((2, 5, 5, 3)), rng.standard_normal((3, 3, 3, 2))
    b = rng.standard_normal((1, 1, 1, 2))
    case = (A, W, b, {"stride": 1, "pad": 1})
    expected = reference.conv_forward(*case)[0]
    noise = expected + rng.standard_normal(expected.shape)
    assert diagnosis.explain_values("conv_forward", case, {}, "Z", noise, expected) is None


def test_size_formulas_use_the_tests_numbers():
    A, W = np.zeros((2, 5, 7, 4)), np.zeros((3, 3, 4, 8))
    text = diagnosis.size_formula("conv_forward", (A, W, np.zeros((1, 1, 1, 8)),
                                                   {"stride": 2, "pad": 1}), {})
    assert text == ("n_H = floor((5 + 2*1 - 3) / 2) + 1 = 3; "
                    "n_W = floor((7 + 2*1 - 3) / 2) + 1 = 4; n_C = 8.")
    assert "3 + 2*2 = 7" in diagnosis.size_formula("zero_pad", (np.zeros((2, 3, 3, 2)), 2), {})


def test_exception_pitfalls():
    assert "b.item()" in diagnosis.explain_exception(
        "conv_single_step", (), {}, "TypeError",
        "only 0-dimensional arrays can be converted to Python scalars", [])
    cache = (np.zeros((1, 3, 3, 1)), np.zeros((1, 1, 1, 1)), np.zeros((1, 1, 1, 1)),
             {"stride": 1, "pad": 0})
    assert "X[pad:-pad]" in diagnosis.explain_exception(
        "conv_backward", (np.zeros((1, 3, 3, 1)), cache), {}, "ValueError",
        "could not broadcast input array from shape (0,0,1) into shape (3,3,1)", [])
    assert diagnosis.explain_exception("zero_pad", (), {}, "KeyError", "'x'", []) is None


def test_an_oversized_file_is_refused_without_running_it(pool):
    source = "def zero_pad(X, pad):\n    return X\n" + "# padding\n" * 100_000
    report = _grade(pool, source, functions=["zero_pad", "conv_forward"], include_hidden=False)
    zero_pad, conv_forward = report.functions
    assert {t.verdict for t in zero_pad.tests} == {"exception"}
    assert "larger than 512 KB" in zero_pad.tests[0].message
    assert conv_forward.status == "not attempted"


# ------------------------------------------------------------------------------- isolation

def test_other_peoples_code_is_refused_without_isolation(pool, monkeypatch):
    monkeypatch.setenv("STRIDE_BWRAP", "/nonexistent")
    with pytest.raises(IsolationUnavailable, match=r"(?s)bubblewrap.*namespaces.*"
                                                   r"STRIDE_SANDBOX=unsafe-no-isolation"):
        _grade(pool, _submission("correct_vectorized.py"), functions=["zero_pad"])


def test_own_code_runs_with_limits_only_and_the_warning_survives_json(pool, monkeypatch):
    monkeypatch.setenv("STRIDE_BWRAP", "/nonexistent")
    report = _grade(pool, _submission("correct_vectorized.py"), functions=["zero_pad"],
                    include_hidden=False, own_code=True)
    assert report.functions[0].status == "passed"
    [warning] = report.warnings
    assert "bubblewrap" in warning and "limits" in warning
    assert CodeReport.from_json(json.loads(json.dumps(report.to_json()))).warnings == (warning,)


def test_the_operator_opt_out_runs_other_peoples_code_and_says_so(pool, monkeypatch):
    monkeypatch.setenv("STRIDE_BWRAP", "/nonexistent")
    monkeypatch.setenv("STRIDE_SANDBOX", "unsafe-no-isolation")
    report = _grade(pool, _submission("correct_vectorized.py"), functions=["zero_pad"])
    assert report.functions[0].status == "passed"
    [warning] = report.to_json(audience="staff")["warnings"]
    assert "unsafe-no-isolation" in warning


def test_with_bubblewrap_there_is_no_warning(pool):
    report = _grade(pool, _submission("correct_vectorized.py"), functions=["zero_pad"])
    assert report.warnings == ()
