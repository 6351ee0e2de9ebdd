"""Banned helpers: a function that calls what its exercise asks the student to write gets its
own clear verdict, found through the file's imports, aliases and helper functions."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.code import Verdict, grade_source, load_spec
from grader.code.bans import banned_uses
from grader.errors import ProblemSpecError
from grader.sandbox import SandboxLimits, SandboxPool

SUBMISSIONS = Path(__file__).resolve().parent / "submissions"
LIMITS = SandboxLimits(wall_s=5.0, cpu_s=20.0, memory_mb=512, import_wall_s=5.0)
BANNED = ("scipy.signal", "scipy.ndimage", "numpy.convolve")


@pytest.fixture(scope="module")
def pool():
    pool = SandboxPool(1)
    yield pool
    pool.shutdown()


@pytest.mark.parametrize(("source", "used"), [
    ("import scipy.signal as sig\ndef f(x):\n    return sig.convolve2d(x, x)\n",
     "scipy.signal.convolve2d"),
    ("from scipy.signal import convolve2d\ndef f(x):\n    return convolve2d(x, x)\n",
     "scipy.signal.convolve2d"),
    ("from scipy import signal\ndef f(x):\n    return signal.correlate2d(x, x)\n",
     "scipy.signal.correlate2d"),
    ("import scipy\ndef f(x):\n    return scipy.ndimage.convolve(x, x)\n",
     "scipy.ndimage.convolve"),
    ("import numpy as np\ndef f(x):\n    return np.convolve(x, x)\n", "numpy.convolve"),
    ("def f(x):\n    import scipy.signal\n    return scipy.signal.convolve(x, x)\n",
     "scipy.signal.convolve"),
    ("from scipy import signal\nconv = signal.convolve2d\ndef f(x):\n    return conv(x, x)\n",
     "scipy.signal.convolve2d"),
])
def test_a_banned_name_is_found_through_imports_and_aliases(source, used):
    assert banned_uses(source, BANNED) == {"f": used}


def test_a_helper_that_uses_a_banned_name_bans_its_callers_and_an_unused_import_bans_nothing():
    source = ("import numpy as np\nfrom scipy.signal import convolve2d\n"
              "def helper(x):\n    return np.convolve(x, x)\n"
              "def f(x):\n    return helper(x) + 1\n"
              "def g(x):\n    return np.correlate(x, x)\n"
              "def h(x):\n    return np.sum(x)\n")
    assert banned_uses(source, BANNED) == {"helper": "numpy.convolve", "f": "numpy.convolve"}
    assert banned_uses(source, ()) == {}
    assert banned_uses("def f(:\n", BANNED) == {}


def test_the_specs_declare_their_bans():
    for exercise in ("conv_step_by_step", "convolution_basics"):
        bans = load_spec(exercise).bans
        assert {"scipy.signal", "numpy.convolve"} <= set(bans.names)
    assert load_spec("convolution_basics").bans.message("scipy.signal.convolve2d") == (
        "This exercise asks you to write the convolution yourself; scipy.signal.convolve2d is "
        "not allowed here.")


def test_a_malformed_ban_block_names_the_file(tmp_path):
    text = (Path(__file__).resolve().parents[1] / "exercises" / "specs"
            / "convolution_basics.yaml").read_text()
    start, end = text.index("\nbanned:"), text.index("\nfunctions:")
    (tmp_path / "convolution_basics.yaml").write_text(
        text[:start] + "\nbanned: [scipy]" + text[end:])
    load_spec.cache_clear()
    try:
        with pytest.raises(ProblemSpecError, match="convolution_basics.yaml: banned: needs a"):
            load_spec("convolution_basics", tmp_path)
    finally:
        load_spec.cache_clear()


def test_scipy_convolve2d_gets_the_banned_verdict_on_every_test_and_no_points(pool):
    source = (SUBMISSIONS / "correct_basics.py").read_text().replace(
        'def convolve2d(x, k, mode="full", pad=0):\n    return _correlate(',
        'def convolve2d(x, k, mode="full", pad=0):\n    from scipy.signal import convolve2d\n'
        '    return convolve2d(x, k, mode=mode) if pad == 0 else _correlate(')
    report = grade_source(source, exercise="convolution_basics", limits=LIMITS, pool=pool)
    by_name = {f.name: f for f in report.functions}
    tests = by_name["convolve2d"].tests
    assert tests and any(t.hidden for t in tests)
    message = ("This exercise asks you to write the convolution yourself; "
               "scipy.signal.convolve2d is not allowed here.")
    assert {(t.verdict, t.message, t.points, t.passed) for t in tests} == {
        (Verdict.BANNED, message, 0.0, False)}
    assert "not available here" not in str(report.to_json())
    assert by_name["convolve2d"].score == 0 and by_name["correlate2d"].status == "passed"


def test_np_convolve_in_a_helper_bans_the_graded_functions_that_call_it(pool):
    source = (SUBMISSIONS / "correct_basics.py").read_text().replace(
        'def convolve1d(x, k, mode="full", pad=0):\n',
        'def _flip_and_convolve(x, k):\n    return np.convolve(x, k)\n\n\n'
        'def convolve1d(x, k, mode="full", pad=0):\n    _flip_and_convolve(x, k)\n')
    report = grade_source(source, exercise="convolution_basics", include_hidden=False,
                          limits=LIMITS, pool=pool)
    by_name = {f.name: f for f in report.functions}
    assert {t.verdict for t in by_name["convolve1d"].tests} == {Verdict.BANNED}
    assert "numpy.convolve is not allowed here" in by_name["convolve1d"].tests[0].message
    assert by_name["correlate1d"].status == "passed"
