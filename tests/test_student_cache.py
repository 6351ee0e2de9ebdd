"""Backward passes run on the student's own forward cache, as the course's notebook calls them.

Any self-consistent cache layout grades right; when the forward is wrong on a test's inputs
the backward runs on the grader's cache instead, and the message says which.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.code import FunctionStatus, Verdict, grade_source
from grader.code.plan import adapter_name, plan, sandbox_source
from grader.sandbox import SandboxLimits, SandboxPool

SUBMISSIONS = Path(__file__).resolve().parent / "submissions"
LIMITS = SandboxLimits(wall_s=3.0, cpu_s=20.0, memory_mb=512, import_wall_s=3.0)
BACKWARD = ("conv_backward", "pool_backward")
OWN = "was run on the cache your own {forward} returned, as the course's notebook does."
GRADERS = "was run on the grader's cache {layout}, because your {forward} did not return"
CONV_CACHE, POOL_CACHE = "(A_prev, W, b, hparameters)", "(A_prev, hparameters)"
# Replaces a file's forward with one whose output is wrong (its cache keeps the file's layout).
BROKEN_FORWARD = """

_right_{name} = {name}


def {name}(*args, **kwargs):
    out, cache = _right_{name}(*args, **kwargs)
    return out + 1.0, cache
"""


@pytest.fixture(scope="module")
def pool():
    pool = SandboxPool(1)
    yield pool
    pool.shutdown()


def _source(name: str, *broken: str) -> str:
    source = (SUBMISSIONS / name).read_text()
    return source + "".join(BROKEN_FORWARD.format(name=f) for f in broken)


def _grade(pool, source: str, **kwargs):
    return grade_source(source, limits=LIMITS, pool=pool, own_code=True, **kwargs)


def _function(report, name):
    return next(f for f in report.functions if f.name == name)


@pytest.mark.parametrize("name", ["cache_dict_loops.py", "cache_tuple_vectorized.py",
                                  "correct_vectorized.py", "float32_vectorized.py"])
def test_any_self_consistent_cache_layout_gets_full_marks(pool, name):
    report = _grade(pool, _source(name))
    failures = [(f.name, t.name, t.message) for f in report.functions for t in f.tests
                if not t.passed]
    assert failures == []
    assert report.score == report.max_score > 20


@pytest.mark.parametrize("name", ["cache_dict_loops.py", "cache_tuple_vectorized.py"])
def test_each_backward_message_says_it_used_the_students_own_cache(pool, name):
    report = _grade(pool, _source(name), functions=list(BACKWARD), include_hidden=False)
    for func, forward in zip(BACKWARD, ("conv_forward", "pool_forward"), strict=True):
        for test in _function(report, func).tests:
            assert test.passed
            assert test.message == "Correct.\n" + f"{func} " + OWN.format(forward=forward)


def test_a_wrong_forward_falls_back_to_the_graders_cache_and_says_so(pool):
    # The standard layout: the grader's cache fits, so the backward still passes.
    source = _source("correct_vectorized.py", "conv_forward", "pool_forward")
    report = _grade(pool, source, functions=["conv_backward", "pool_backward"],
                    include_hidden=False)
    for func, layout, forward in (("conv_backward", CONV_CACHE, "conv_forward"),
                                  ("pool_backward", POOL_CACHE, "pool_forward")):
        tests = _function(report, func).tests
        assert all(t.passed for t in tests)
        assert all(GRADERS.format(layout=layout, forward=forward) in t.message for t in tests)


def test_a_custom_layout_with_a_wrong_forward_fails_on_the_graders_cache(pool):
    source = _source("cache_dict_loops.py", "conv_forward")
    report = _grade(pool, source, functions=["conv_backward"], include_hidden=False)
    test = _function(report, "conv_backward").tests[0]
    assert test.verdict == Verdict.EXCEPTION
    assert "TypeError in conv_backward" in test.message
    assert GRADERS.format(layout=CONV_CACHE, forward="conv_forward") in test.message


def test_without_a_forward_the_backward_runs_on_the_graders_cache(pool):
    source = _source("correct_vectorized.py").replace("def conv_forward(", "def _unused(")
    report = _grade(pool, source, functions=["conv_backward"], include_hidden=False)
    tests = _function(report, "conv_backward").tests
    assert all(t.passed for t in tests)
    assert all(GRADERS.format(layout=CONV_CACHE, forward="conv_forward") in t.message
               for t in tests)


def test_a_missing_backward_is_not_attempted_without_a_cache_note(pool):
    source = _source("cache_dict_loops.py").replace("def conv_backward(", "def _later(")
    report = _grade(pool, source, functions=["conv_backward"], include_hidden=False)
    conv = _function(report, "conv_backward")
    assert conv.status == FunctionStatus.NOT_ATTEMPTED
    assert all(t.message == "conv_backward is not defined in your file." for t in conv.tests)


@pytest.mark.parametrize("forward", ["written", "wrong"])
def test_an_unwritten_backward_is_not_attempted_without_a_cache_note(pool, forward):
    """Whichever cache it was called with, a backward that raises NotImplementedError was not
    attempted: a note on which cache it ran on would only distract."""
    source = _source("cache_dict_loops.py", *(["conv_forward"] if forward == "wrong" else []))
    source += ("\n\ndef conv_backward(dZ, cache):\n"
               "    raise NotImplementedError('not yet')\n")
    report = _grade(pool, source, functions=["conv_forward", "conv_backward"],
                    include_hidden=True)
    conv = _function(report, "conv_backward")
    assert conv.status == FunctionStatus.NOT_ATTEMPTED
    assert {t.message for t in conv.tests if not t.hidden} == {
        "conv_backward still raises NotImplementedError."}
    assert {t.staff_message for t in conv.tests if t.hidden} == {
        "conv_backward still raises NotImplementedError."}
    assert _function(report, "conv_forward").status == (
        FunctionStatus.PASSED if forward == "written" else FunctionStatus.FAILED)


def test_a_hidden_test_keeps_the_cache_note_for_staff_only(pool):
    report = _grade(pool, _source("cache_dict_loops.py"), functions=["conv_backward"])
    hidden = [t for t in _function(report, "conv_backward").tests if t.hidden]
    assert hidden and all(t.passed for t in hidden)
    for test in hidden:
        assert "cache" not in test.message
        assert test.staff_message.endswith(OWN.format(forward="conv_forward"))
    student = report.to_json()["functions"][0]["tests"]
    assert [t for t in student if t["hidden"] and "cache" in str(t)] == []
    assert len([t for t in student if t["hidden"]]) == len(hidden)


def test_a_traceback_through_the_own_cache_shows_only_the_students_frames(pool):
    source = _source("cache_dict_loops.py").replace(
        '    A_prev, W, b = cache["A_prev"], cache["W"], cache["b"]\n',
        '    A_prev, W, b = cache["A_prev"], cache["W"], cache["bias"]\n')
    report = _grade(pool, source, functions=["conv_backward"], include_hidden=False)
    test = _function(report, "conv_backward").tests[0]
    assert test.verdict == Verdict.EXCEPTION
    assert "KeyError in conv_backward: 'bias'" in test.message
    assert "in conv_backward: A_prev, W, b = " in test.message
    assert adapter_name("conv_backward") not in test.message
    assert OWN.format(forward="conv_forward") in test.message


def test_the_adapters_follow_the_students_lines_unchanged():
    tests = plan("conv_step_by_step", BACKWARD, False, LIMITS)[0]
    student = "import numpy as np\nx = 1"  # no final newline
    source = sandbox_source(student, tests)
    assert source.startswith(student + "\n\n")
    assert source.count("def _stride_") == 2
    compile(source, "submission.py", "exec")
    forward_only = plan("conv_step_by_step", ("conv_forward",), False, LIMITS)[0]
    assert sandbox_source(student, forward_only) == student


def test_each_backward_case_checks_the_forward_on_its_own_inputs():
    tests = plan("conv_step_by_step", ("pool_backward",), False, LIMITS)[0]
    for p in tests:
        own = p.own_cache
        assert own.forward == "pool_forward"
        assert own.forward_call.args is p.args[1]
        assert own.forward_call.kwargs == {"mode": p.kwargs["mode"]}
        assert own.forward_expected.shape == p.args[0].shape  # dA has the pooled shape
        assert own.call.func == adapter_name("pool_backward")
