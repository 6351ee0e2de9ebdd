"""Hidden tests stay hidden: students see a neutral name, the verdict and the diagnosis only.

Every hidden case of every exercise is graded with a wrong, a wrongly shaped and a crashing
submission; the student form must not contain any input value, expected value, shape, case
name or exception text of a hidden case (beyond what the public-only report already shows),
while the staff form keeps all of it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from grader import reference
from grader.code import (
    EXERCISES,
    CodeReport,
    TestReport,
    build_inputs,
    diagnosis,
    expected_outputs,
    grade_source,
    load_spec,
    reference_call,
    student_view,
)
from grader.sandbox import SandboxLimits, SandboxPool

ROOT = Path(__file__).resolve().parents[1]
SUBMISSIONS = ROOT / "tests" / "submissions"
LIMITS = SandboxLimits(wall_s=3.0, cpu_s=20.0, memory_mb=512, import_wall_s=3.0)
CORRECT = {"conv_step_by_step": "correct_vectorized.py", "convolution_basics": "correct_basics.py"}

PERTURB = '''
import linecache as _linecache
import numpy as _np


def _perturb_values(r):
    return _np.asarray(r, dtype=float) + 1.0


def _perturb_shape(r):
    r = _np.atleast_1d(_np.asarray(r, dtype=float))
    return _np.concatenate([r, r[:1]], axis=0)


def _apply(perturb, kind, r):
    if kind == "mask":
        return perturb(_np.logical_not(r))
    if kind == "scalar":
        return perturb(r)
    if kind == "tuple0":
        return (perturb(r[0]), r[1])
    if kind == "grads":
        return tuple(perturb(g) for g in r)
    return perturb(r)
'''

WRAP = '''
_real_{f} = {f}


def {f}(*args, **kwargs):
    return _apply({perturb}, "{kind}", _real_{f}(*args, **kwargs))
'''

# The exception's text is built at run time, so the source line alone never contains it; the
# line cache is forged with the inputs, so a traceback that trusts it would echo them.
CRASH = '''

def {f}(*args, **kwargs):
    seen = repr(args) + repr(kwargs)
    _linecache.cache[__file__] = (1, None, [seen[:150] + "\\n"] * 2000, __file__)
    raise IndexError("".join(["le", "aked: "]) + seen)
'''


def _functions(exercise: str) -> list[tuple[str, str]]:
    return [(f.name, f.result) for f in load_spec(exercise).functions]


def _wrong(exercise: str, perturb: str) -> str:
    source = (SUBMISSIONS / CORRECT[exercise]).read_text() + PERTURB
    return source + "".join(WRAP.format(f=f, kind=kind, perturb=perturb)
                            for f, kind in _functions(exercise))


def _crashing(exercise: str) -> str:
    return PERTURB + "".join(CRASH.format(f=f) for f, _ in _functions(exercise))


SUBMITTERS = {"values": lambda e: _wrong(e, "_perturb_values"),
              "shape": lambda e: _wrong(e, "_perturb_shape"), "crash": _crashing}


@pytest.fixture(scope="module")
def pool():
    pool = SandboxPool(1)
    yield pool
    pool.shutdown()


def _arrays(value) -> list[np.ndarray]:
    if isinstance(value, np.ndarray):
        return [value]
    if isinstance(value, (tuple, list)):
        return [a for v in value for a in _arrays(v)]
    if isinstance(value, dict):
        return [a for v in value.values() for a in _arrays(v)]
    return []


def _needles(func: str, kind: str, case) -> set[str]:
    """Strings that would give the hidden case away: its name, values, shapes, settings."""
    args, kwargs = build_inputs(func, case)
    expected = [e for _, e in expected_outputs(kind, func, reference_call(func, args, kwargs))]
    found = {case.name, case.name.removeprefix("hidden: ")}
    for array in _arrays((args, kwargs)) + expected:
        found |= {str(array.shape), str(list(array.shape))}
        for value in array.ravel().astype(float):
            found |= {f"{value:.6g}", f"{value:.3g}", repr(float(value))}
    for settings in [a for a in (*args, kwargs) if isinstance(a, dict) and a]:
        found |= {repr(settings), json.dumps(settings)}
    # Too short to mean anything ("0", "1.5") or part of every report's wording.
    return {n for n in found if len(n) >= 4}


def _hidden_cases(exercise: str):
    for spec in load_spec(exercise).functions:
        for case in spec.cases:
            if not case.public:
                yield spec.name, spec.result, case


@pytest.mark.parametrize("exercise", EXERCISES)
@pytest.mark.parametrize("kind", sorted(SUBMITTERS))
def test_no_hidden_input_expected_value_name_or_exception_text_reaches_students(
        pool, exercise, kind):
    source = SUBMITTERS[kind](exercise)
    report = grade_source(source, exercise=exercise, limits=LIMITS, pool=pool)
    public_only = json.dumps(grade_source(source, exercise=exercise, include_hidden=False,
                                          limits=LIMITS, pool=pool).to_json())
    student = json.dumps(report.to_json())
    staff = report.to_json(audience="staff")
    hidden = [(f["name"], t) for f in staff["functions"] for t in f["tests"] if t["hidden"]]
    assert len(hidden) == len(list(_hidden_cases(exercise)))
    assert all(not t["passed"] for _, t in hidden)
    leaks = {}
    for func, result, case in _hidden_cases(exercise):
        found = {n for n in _needles(func, result, case) if n in student and n not in public_only}
        if found:
            leaks[case.name] = sorted(found)
    assert leaks == {}
    hidden_student = json.dumps([t for f in report.to_json()["functions"] for t in f["tests"]
                                 if t["hidden"]])
    assert "leaked" not in hidden_student
    assert ("leaked" in json.dumps(hidden)) == (kind == "crash")
    for func, test in hidden:
        # The staff form names the case and gives the full details.
        assert test["staff"]["case"].startswith("hidden:")
        assert test["staff"]["message"] != test["message"]
        if kind == "crash":
            assert test["verdict"] == "exception"
            assert test["message"].startswith(f"Your code raised IndexError in {func} on "
                                               "this hidden test.")
            assert "leaked: (" in test["staff"]["message"]


@pytest.mark.parametrize("exercise", EXERCISES)
def test_the_staff_form_keeps_the_expected_values_and_shapes(pool, exercise):
    report = grade_source(_wrong(exercise, "_perturb_shape"), exercise=exercise,
                          limits=LIMITS, pool=pool)
    cases = {case.name: (func, kind, case) for func, kind, case in _hidden_cases(exercise)}
    for test in (t for f in report.functions for t in f.tests if t.hidden):
        func, kind, case = cases[test.staff_case]
        args, kwargs = build_inputs(func, case)
        [(_, first), *_] = expected_outputs(kind, func, reference_call(func, args, kwargs))
        assert test.verdict == "wrong shape", (test.staff_case, test.staff_message)
        if kind == "scalar":
            assert "returned an array of shape (2,); expected a single number" in (
                test.staff_message)
        else:
            assert f"expected {first.shape}" in test.staff_message
        assert "shape (" not in test.message and "expected" not in test.message


def test_hidden_tests_get_neutral_names_numbered_per_function(pool):
    report = grade_source(_crashing("conv_step_by_step"), limits=LIMITS, pool=pool)
    for function in report.functions:
        names = [t.name for t in function.tests if t.hidden]
        assert names == [f"hidden test {i}" for i in range(1, len(names) + 1)]
        spec = load_spec("conv_step_by_step").function(function.name)
        public = [c.name for c in spec.cases if c.public]
        assert [t.name for t in function.tests if not t.hidden][: len(public)] == public


def test_public_tests_keep_their_full_detail(pool):
    report = grade_source(_crashing("convolution_basics"), exercise="convolution_basics",
                          include_hidden=False, limits=LIMITS, pool=pool)
    test = report.functions[0].tests[0]
    assert test.name == "course example, full" and not test.hidden
    assert test.message.startswith("IndexError in convolve1d: leaked: (array([1, 2, 3])")


def test_a_hidden_exception_shows_only_a_builtin_type_never_frames_or_made_up_names(pool):
    source = ("import numpy as np\n"
              "class Oops(Exception):\n"
              "    pass\n"
              "def zero_pad(X, pad):\n"
              "    if X.shape[0] == 1:\n"
              "        raise type('Shape_' + '_'.join(map(str, X.shape)), (Exception,), {})()\n"
              "    raise Oops(str(X.shape))\n"
              "def conv_single_step(a, W, b):\n"
              "    exec(compile('def spy_' + str(a.size) + '():\\n    1 / 0\\n', __file__, "
              "'exec'), globals())\n"
              "    return globals()['spy_' + str(a.size)]()\n")
    report = grade_source(source, functions=["zero_pad", "conv_single_step"], limits=LIMITS,
                          pool=pool)
    zero_pad, step = report.functions
    [made_up] = [t for t in zero_pad.tests if t.hidden]
    assert made_up.message.startswith("Your code raised an exception in zero_pad on this "
                                      "hidden test.")
    assert "Shape_1_2_3_1" in made_up.staff_message and "1_2_3_1" not in made_up.message
    assert "line " not in made_up.message  # the path through the file could encode inputs
    declared = [t for t in zero_pad.tests if not t.hidden][0]
    assert declared.message.startswith("Oops in zero_pad: (2, 3, 3, 2)")
    [compiled] = [t for t in step.tests if t.hidden]
    assert compiled.message.startswith("Your code raised ZeroDivisionError in conv_single_step")
    assert "spy_45" in compiled.staff_message and "spy_" not in compiled.message.replace(
        "'spy_' + str(a.size)", "")


def test_public_feedback_comes_from_a_child_that_never_saw_a_hidden_input(pool):
    # zero_pad's hidden case (shape (1, 2, 3, 1)) is planned before conv_single_step's
    # public cases; a job's input files sit in the child's working directory, and the
    # worker keeps the arrays it loaded.
    hidden = load_spec("conv_step_by_step").function("zero_pad").cases[3]
    marker = float(build_inputs("zero_pad", hidden)[0][0].ravel()[0])
    source = ("import os, sys\nimport numpy as np\nSEEN = []\n"
              "def zero_pad(X, pad):\n    SEEN.append(X.shape)\n"
              "    return np.pad(X, ((0, 0), (pad, pad), (pad, pad), (0, 0)))\n"
              "def conv_single_step(a, W, b):\n"
              "    names = [f'in{i}.npy' for i in range(8)]\n"
              "    files = [np.load(p) for p in names if os.path.exists(p)]\n"
              "    for module in list(sys.modules.values()):\n"
              "        files += list(getattr(module, '_INPUTS', {}).values())\n"
              f"    found = any(np.any(np.isclose(f, {marker!r})) for f in files)\n"
              "    if (1, 2, 3, 1) in SEEN or found:\n"
              "        raise ValueError('SAW HIDDEN')\n"
              "    raise ValueError(f'looked at {len(files)} files and {len(SEEN)} calls')\n")
    report = grade_source(source, functions=["zero_pad", "conv_single_step"], limits=LIMITS,
                          pool=pool)
    zero_pad, step = report.functions
    assert [t.passed for t in zero_pad.tests] == [True] * 4
    public = [t.message for t in step.tests if not t.hidden]
    assert public and all(re.match(r"ValueError in conv_single_step: looked at [1-9]\d* files "
                                   r"and 3 calls", m) for m in public), public


def _staff_report(pool) -> CodeReport:
    return grade_source(_wrong("convolution_basics", "_perturb_values"),
                        exercise="convolution_basics", limits=LIMITS, pool=pool)


def test_the_staff_json_round_trips_and_gives_the_student_form(pool):
    report = _staff_report(pool)
    staff = json.loads(json.dumps(report.to_json(audience="staff")))
    assert CodeReport.from_json(staff) == report
    assert student_view(staff) == report.to_json()
    redacted = report.redacted().to_json(audience="staff")
    assert redacted == {**report.to_json(), "audience": "staff"}
    assert student_view(student_view(staff)) == student_view(staff)
    assert "staff" not in json.dumps(student_view(staff))
    assert staff["audience"] == "staff" and student_view(staff)["audience"] == "student"
    with pytest.raises(ValueError, match="audience must be one of"):
        report.to_json(audience="teacher")


def test_student_view_redacts_a_report_stored_before_hidden_tests_were_marked():
    stored = {"score": 0.0, "max_score": 2.0, "functions": [{
        "name": "zero_pad", "status": "failed", "tests": [
            {"name": "square, pad 2", "passed": False, "verdict": "wrong values",
             "message": "zero_pad has wrong values: got 1.5, expected 0.25.", "diagnosis": None},
            {"name": "hidden: m = 1, n_C = 1, pad 3", "passed": False, "verdict": "exception",
             "message": "IndexError in zero_pad: index 7 is out of bounds", "diagnosis": "x"}]}]}
    view = student_view(stored)
    public, hidden = view["functions"][0]["tests"]
    assert public["message"] == "zero_pad has wrong values: got 1.5, expected 0.25."
    assert hidden == {"name": "hidden test 1", "passed": False, "verdict": "exception",
                      "message": "zero_pad raised an exception on this hidden test.",
                      "diagnosis": "x", "points": 0.0, "max_points": 0.0, "hidden": True}
    assert "pad 3" not in json.dumps(view) and "index 7" not in json.dumps(view)


def test_a_hidden_test_report_is_typed():
    test = TestReport("hidden test 1", False, "timeout", "m", hidden=True, staff_case="c",
                      staff_message="full")
    assert test.redacted() == TestReport("hidden test 1", False, "timeout", "m", hidden=True)
    assert TestReport.from_json(test.to_json(audience="staff")) == test


def test_a_hidden_tests_diagnosis_names_the_bug_but_not_the_tests_mode(pool):
    source = (SUBMISSIONS / "buggy_pool.py").read_text().replace('BUG = "none"',
                                                                  'BUG = "swap_mode"')
    report = grade_source(source, functions=["pool_forward"], limits=LIMITS, pool=pool)
    tests = report.functions[0].tests
    [hidden] = [t for t in tests if t.hidden]
    assert hidden.diagnosis == ("Your output matches the other pooling mode: check how you use "
                                "the mode argument.")
    public = [t.diagnosis for t in tests if not t.hidden]
    assert "Your output matches average pooling, but this test asks for max pooling" in (
        public[0])
    basics = (SUBMISSIONS / "correct_basics.py").read_text().replace(
        'def correlate1d(x, k, mode="valid", pad=0):\n',
        'def correlate1d(x, k, mode="valid", pad=0):\n    mode = "full"\n')
    report = grade_source(basics, exercise="convolution_basics", functions=["correlate1d"],
                          limits=LIMITS, pool=pool)
    [hidden] = [t for t in report.functions[0].tests if t.hidden]
    assert hidden.verdict == "wrong shape"
    assert hidden.diagnosis == ("Your output matches another mode than this test asks for: "
                                "check how you handle 'full', 'valid' and 'same'.")


def test_declared_exception_classes_and_call_paths_say_nothing_on_hidden_tests(pool):
    """A file could declare a class per value, or choose its call path by the input."""
    source = ("import numpy as np\n"
              + "".join(f"class Pad{n}(Exception):\n    pass\n" for n in range(5))
              + "def d0(pad):\n    raise [Pad0, Pad1, Pad2, Pad3, Pad4][pad]()\n"
              "def d1(pad):\n    return d0(pad)\n"
              "def zero_pad(X, pad):\n    return d1(pad) if pad % 2 else d0(pad)\n")
    report = grade_source(source, functions=["zero_pad"], limits=LIMITS, pool=pool)
    [hidden] = [t for t in report.functions[0].tests if t.hidden]
    assert hidden.message == ("Your code raised an exception in zero_pad on this hidden test. "
                              "The public tests show the full trace of an exception; run them "
                              "to see where it comes from.")
    assert "Pad" in hidden.staff_message and "line" in hidden.staff_message


def test_the_pad_0_hint_of_a_hidden_test_does_not_tell_its_pad(pool):
    # conv_backward's hidden case has pad 0: X[pad:-pad] fails there and is hinted at, but the
    # hint must not say that the hidden test's pad is 0.
    correct = (SUBMISSIONS / "correct_loops.py").read_text()
    source = correct.replace("da_prev_pad[pad:pad + n_H_prev, pad:pad + n_W_prev, :]",
                             "da_prev_pad[pad:-pad, pad:-pad, :]")
    report = grade_source(source, limits=LIMITS, pool=pool, functions=["conv_backward"])
    tests = [t for f in report.functions for t in f.tests]
    hidden = [t for t in tests if t.hidden]
    public_pad_0 = [t for t in tests if not t.hidden and t.name == "pad 0"]
    assert hidden and all(not t.passed for t in hidden)
    for test in hidden:
        assert "At pad = 0" not in (test.diagnosis or "")
        assert "X[pad:-pad] is empty when pad is 0" in (test.diagnosis or ""), test.diagnosis
    assert "At pad = 0" in (public_pad_0[0].diagnosis or "")


def test_dA_prev_all_zeros_on_a_hidden_test_reads_the_same_for_every_pad():
    rng = np.random.default_rng(0)
    words = set()
    for pad in (0, 1):
        A, W = rng.standard_normal((1, 3, 3, 1)), rng.standard_normal((1, 1, 1, 1))
        cache = (A, W, np.zeros((1, 1, 1, 1)), {"stride": 1, "pad": pad})
        dZ = rng.standard_normal((1, 3 + 2 * pad, 3 + 2 * pad, 1))
        expected = reference.conv_backward(dZ, cache)[0]
        words.add(diagnosis.explain_values("conv_backward", (dZ, cache), {}, "dA_prev",
                                           np.zeros_like(expected), expected, hidden=True))
    [text] = words
    assert text.startswith("dA_prev is all zeros") and "At pad = 0" not in text
