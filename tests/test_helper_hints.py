"""A caller that fails because a helper it calls fails: its public tests say to fix the helper.

The hint rests on the file's syntax (the caller's own code calls the helper by name) and on
public tests alone, so a hidden test's result is never told.
"""

from __future__ import annotations

import pytest

from grader.code.grade import _with_helper_hints
from grader.code.report import FunctionReport, TestReport, Verdict

HINT = "conv_forward calls your zero_pad, whose tests fail: fix zero_pad first."
CALLS = ("def zero_pad(X, pad):\n    return X\n\n"
         "def conv_single_step(a, W, b):\n    return 0.0\n\n"
         "def conv_forward(A, W, b, hp):\n    A = zero_pad(A, hp['pad'])\n"
         "    return conv_single_step(A, W, b)\n")


def _test(verdict: Verdict, hidden: bool = False, diagnosis: str | None = None) -> TestReport:
    passed = verdict == Verdict.PASS
    return TestReport("hidden test 1" if hidden else "case", passed, verdict, "message",
                      diagnosis, 1.0 if passed else 0.0, 1.0, hidden=hidden)


def _report(name: str, *verdicts: Verdict, hidden: Verdict | None = None) -> FunctionReport:
    tests = [_test(v) for v in verdicts] + ([_test(hidden, hidden=True)] if hidden else [])
    return FunctionReport.of(name, tests)


def _diagnoses(reports: list[FunctionReport], name: str) -> list[str | None]:
    return [t.diagnosis for r in reports if r.name == name for t in r.tests]


def test_a_failing_caller_of_a_failing_helper_is_told_to_fix_the_helper_first():
    reports = [_report("zero_pad", Verdict.WRONG_SHAPE),
               _report("conv_single_step", Verdict.PASS),
               FunctionReport.of("conv_forward", [
                   _test(Verdict.PASS), _test(Verdict.EXCEPTION, diagnosis="Shapes differ."),
                   _test(Verdict.WRONG_VALUES), _test(Verdict.EXCEPTION, hidden=True)])]
    hinted = _with_helper_hints(reports, CALLS)
    assert _diagnoses(hinted, "conv_forward") == [None, f"{HINT} Shapes differ.", HINT, None]
    assert hinted[:2] == reports[:2]  # the helpers' own reports are unchanged


def test_a_helper_not_written_yet_counts_as_failing():
    reports = [_report("zero_pad", Verdict.NOT_ATTEMPTED),
               _report("conv_forward", Verdict.WRONG_TYPE)]
    assert _diagnoses(_with_helper_hints(reports, CALLS), "conv_forward") == [HINT]


def test_two_failing_helpers_are_named_together():
    reports = [_report("zero_pad", Verdict.WRONG_VALUES),
               _report("conv_single_step", Verdict.WRONG_TYPE),
               _report("conv_forward", Verdict.WRONG_VALUES)]
    [said] = _diagnoses(_with_helper_hints(reports, CALLS), "conv_forward")
    assert said == ("conv_forward calls your zero_pad and conv_single_step, whose tests fail "
                    "too: fix them first.")


@pytest.mark.parametrize("source", [
    # conv_forward pads by itself: zero_pad only appears in a comment and a string
    CALLS.replace("    A = zero_pad(A, hp['pad'])\n",
                  "    # A = zero_pad(A, hp['pad'])\n    s = 'zero_pad(A)'\n"),
    # it calls another function of the same name's prefix, or uses zero_pad without calling it
    CALLS.replace("zero_pad(A, hp['pad'])", "zero_pad_mine(A, hp['pad'])"),
    CALLS.replace("zero_pad(A, hp['pad'])", "zero_pad"),
    "def conv_forward(:\n",  # does not parse
])
def test_no_hint_when_the_caller_does_not_call_the_helper(source):
    reports = [_report("zero_pad", Verdict.WRONG_VALUES),
               _report("conv_forward", Verdict.WRONG_VALUES)]
    assert _with_helper_hints(reports, source) == reports


@pytest.mark.parametrize("helper", [
    _report("zero_pad", Verdict.PASS, hidden=Verdict.WRONG_VALUES),  # fails a hidden test only
    _report("zero_pad", Verdict.TOO_SLOW),  # right values, only slow
    _report("zero_pad", Verdict.BANNED),  # banned, but what it returns may be right
])
def test_no_hint_from_a_helper_whose_public_values_are_not_wrong(helper):
    reports = [helper, _report("conv_forward", Verdict.WRONG_VALUES)]
    assert _with_helper_hints(reports, CALLS) == reports


def test_a_caller_that_passes_or_is_banned_gets_no_hint():
    for caller in (_report("conv_forward", Verdict.PASS),
                   _report("conv_forward", Verdict.BANNED)):
        reports = [_report("zero_pad", Verdict.WRONG_VALUES), caller]
        assert _with_helper_hints(reports, CALLS) == reports
