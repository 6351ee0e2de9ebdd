"""Verdicts: the one home of the ladder that turns a typed sandbox outcome into a test report.

For each planned test, :func:`judge_function` reads the :class:`~grader.sandbox.RawOutcome`
(the child's status already parsed by :mod:`grader.sandbox.outcome`, never its raw JSON) and
climbs the ladder: did the file load, did the call return, is the result an array, of the
right shape, dtype, finite, close to the expected values, fast enough. When values or shapes
are wrong, :mod:`grader.code.diagnosis` names the likely bug. A hidden test's student message
is built from the verdict alone (see :mod:`grader.code.report`).
"""

from __future__ import annotations

import ast
import builtins
import math
import re
import signal
from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np

from grader.code.diagnosis import (
    FORGOT_CACHE,
    SCALAR_HINT,
    explain_exception,
    explain_shape,
    explain_values,
    picture_of,
    size_formula,
)
from grader.code.fresh import not_defined, not_implemented, speed_unmeasured
from grader.code.functions import saved_items
from grader.code.plan import REFERENCE_CACHE, OwnCache, Planned, adapter_name
from grader.code.report import FunctionReport, TestReport, Verdict
from grader.code.source import MAX_SOURCE_BYTES, line_label, parse_python
from grader.code.spec import Tolerance
from grader.sandbox import ChildStatus, Frame, OutcomeKind, RawOutcome, SandboxLimits, ValueInfo


def judge_function(name: str, planned: Sequence[Planned], outcomes: Mapping[str, RawOutcome],
                   source: str, limits: SandboxLimits) -> FunctionReport:
    """One function's report from its planned tests and their outcomes (by call id)."""
    tests = []
    for p in planned:
        raw, note = _chosen_outcome(p, outcomes)
        report = _judge(p, raw, source, limits)
        if note:
            report = _with_note(report, note)
        if p.speed is not None:
            report = _judge_speed(p, report, outcomes[p.call.id])
        tests.append(report)
    return FunctionReport.of(name, tests)


def _chosen_outcome(p: Planned, outcomes: Mapping[str, RawOutcome]
                    ) -> tuple[RawOutcome, str | None]:
    """The outcome to judge and a note on which cache a backward pass ran on.

    A backward pass is judged on the student's own forward cache when their forward returned
    the right output on this test's inputs (as the course's notebook calls it); otherwise on
    the grader's cache. A missing or unwritten function, or a file that did not load, needs no
    note.
    """
    raw = outcomes[p.call.id]
    own, status = p.own_cache, raw.status
    if own is None or raw.outcome.at_import or (status is not None and (
            status.missing or status.exc_type == "NotImplementedError")):
        return raw, None
    if _forward_passed(p, own, outcomes[own.forward_call.id]):
        return outcomes[own.call.id], (f"{p.func} was run on the cache your own {own.forward} "
                                       "returned, as the course's notebook does.")
    layout = REFERENCE_CACHE[p.func]
    return raw, (f"{p.func} was run on the grader's cache {layout}, because your "
                 f"{own.forward} did not return the right output for this test's inputs.")


def _forward_passed(p: Planned, own: OwnCache, raw: RawOutcome) -> bool:
    """Did the student's forward return (output, cache) with the right output?"""
    status, arrays = raw.status, raw.arrays or {}
    if raw.outcome != OutcomeKind.DONE or status is None or not status.ok or raw.problem:
        return False
    info = status.result
    got = arrays.get("r0")
    if info is None or not info.is_sequence or info.length < 2 or got is None:
        return False
    expected = own.forward_expected
    if got.shape != expected.shape or got.dtype.kind not in "iuf":
        return False
    if not np.all(np.isfinite(got)):
        return False
    return bool(np.all(_within(got, expected, _tolerance(p, expected, got))))


def _with_note(report: TestReport, note: str) -> TestReport:
    """``report`` with ``note`` after its message; a hidden test's student text is unchanged
    (which cache was used would tell how the forward did on the hidden inputs)."""
    if report.hidden:
        return replace(report, staff_message=f"{report.staff_message}\n{note}")
    return replace(report, message=f"{report.message}\n{note}")


def _report(p: Planned, verdict: Verdict, message: str, diagnosis_text: str | None = None, *,
            student: str | None = None, what: str | None = None) -> TestReport:
    """The test's report; for a hidden test, ``message`` is kept for staff only (see
    :meth:`TestReport.of`)."""
    return TestReport.of(p, verdict, message, diagnosis_text, student=student, what=what)


def _mentions(source: str, func: str) -> bool:
    if len(source) > MAX_SOURCE_BYTES:
        return f"def {func}" in source
    try:
        tree = parse_python(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return f"def {func}" in source
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == func:
            return True
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.Import, ast.ImportFrom)):
            if func in ast.dump(node):
                return True
    return False


def _judge(p: Planned, raw: RawOutcome, source: str, limits: SandboxLimits) -> TestReport:
    outcome = raw.outcome
    if outcome.at_import and not _mentions(source, p.func):
        return not_defined(p)
    if outcome == OutcomeKind.IMPORT_ERROR:
        return _exception(p, raw.status, source, at_import=True)
    if outcome in (OutcomeKind.IMPORT_TIMEOUT, OutcomeKind.TIMEOUT):
        return _timeout(p, at_import=outcome.at_import, limits=limits)
    if outcome in (OutcomeKind.DISK_QUOTA, OutcomeKind.IMPORT_DISK_QUOTA):
        message = (f"Your code wrote more than {limits.disk_mb} MB of files and was stopped: "
                   "return results instead of writing files.")
        return _report(p, Verdict.CRASHED, message, student=message)
    if outcome == OutcomeKind.SKIPPED_AFTER_TIMEOUT:
        message = f"Not run: an earlier test of {p.func} ran out of time, so this one would too."
        return _report(p, Verdict.TIMEOUT, message, student=message)
    if outcome in (OutcomeKind.IMPORT_CRASHED, OutcomeKind.CRASHED, OutcomeKind.LOST):
        return _crashed(p, raw, limits)
    return _judge_done(p, raw, source)


def _judge_done(p: Planned, raw: RawOutcome, source: str) -> TestReport:
    """A call the child finished: what its status and its saved outputs say."""
    status = raw.status
    if status is None:
        return _report(p, Verdict.CRASHED, "Your code ended without writing a result: did it "
                       "call os._exit(), or crash the interpreter?")
    if status.missing:
        return not_defined(p)
    if not status.ok:
        if status.stage == "save":
            return _unsaveable(p, status)
        return _exception(p, status, source, at_import=False)
    if raw.problem:
        return _report(p, Verdict.WRONG_TYPE, f"Your {p.func} returned something that is not a "
                       f"plain numeric array: {raw.problem}.")
    return _check_result(p, status.result, raw.arrays or {})


def _exception(p: Planned, status: ChildStatus | None, source: str, at_import: bool
               ) -> TestReport:
    status = status or ChildStatus()
    exc_type, exc_msg = status.exc_type, status.exc_msg
    # The own-cache adapter's frame is the grader's, not the student's: never shown.
    frames = [f for f in status.frames if f.name != adapter_name(p.func)]
    if exc_type == "NotImplementedError" and not at_import:
        return not_implemented(p)
    if exc_type == "MemoryError":
        message = (f"{p.func} ran out of memory (the limit is the sandbox's memory cap): does "
                   "it build a much larger array than needed?")
        return _report(p, Verdict.MEMORY_LIMIT, message, student=message)
    where = "while loading your file" if at_import else f"in {p.func}"
    message = f"{exc_type} {where}: {_cells_in(exc_msg, source)}".rstrip(": ")
    trace = _format_frames(frames, source)
    if trace:
        message += "\n" + trace
    hint = explain_exception(p.func, p.args, p.kwargs, exc_type, exc_msg, frames,
                             hidden=p.hidden)
    student = _hidden_exception(exc_type, where) if p.hidden else None
    return _report(p, Verdict.EXCEPTION, message, hint, student=student)


BUILTIN_EXCEPTIONS = frozenset(name for name, value in vars(builtins).items()
                               if isinstance(value, type) and issubclass(value, BaseException))
NUMPY_EXCEPTIONS = frozenset({"AxisError", "LinAlgError", "DTypePromotionError", "TooHardError"})


def _hidden_exception(exc_type: str, where: str) -> str:
    """A hidden test's exception: its type when built in or NumPy's, never its text or frames.

    Anything the student's code chooses at run time could spell out a hidden input: the text,
    a class name made up (or declared by the dozen) for the purpose, and the path through the
    file's own functions and lines. So a hidden test shows only the type of a built-in or NumPy
    exception ("an exception" otherwise); the public tests show the full trace.
    """
    shown = exc_type if exc_type in BUILTIN_EXCEPTIONS or exc_type in NUMPY_EXCEPTIONS \
        else "an exception"
    return (f"Your code raised {shown} {where} on this hidden test. The public tests show "
            "the full trace of an exception; run them to see where it comes from.")


# At most 9 digits: the message is the student's to write, and Python refuses to convert a
# number of more than 4300 digits (a longer "line" is left as written).
SYNTAX_PLACE = re.compile(r"\((?:submission\.py|<[^>]*>|[\w./-]+\.py), line (\d{1,9})\)")


def _cells_in(exc_msg: str, source: str) -> str:
    """A syntax error's "(submission.py, line 8)" as "(cell 3, line 3)" in a notebook."""
    return SYNTAX_PLACE.sub(lambda m: f"({line_label(source, int(m.group(1)))})", exc_msg)


def _format_frames(frames: Sequence[Frame], source: str) -> str:
    """The last frames, each at its place in the student's terms: a notebook's "cell 4,
    line 3", a file's own line number."""
    return "\n".join(f"  {line_label(source, f.lineno)}, in {f.name}: {f.text[:160]}"
                     for f in frames[-6:])


def _timeout(p: Planned, at_import: bool, limits: SandboxLimits) -> TestReport:
    if at_import:
        return _report(p, Verdict.TIMEOUT, f"Your file's top-level code ran longer than "
                       f"{limits.import_wall_s:g} s: move work into functions, or remove an "
                       "endless loop.")
    return _report(p, Verdict.TIMEOUT, f"{p.func} did not return within {p.call.wall_s:g} s "
                   "(its time limit): is there a loop that never ends, or a very slow one?")


SIGNAL_NAMES = {int(s): s.name for s in signal.Signals}


def _crashed(p: Planned, raw: RawOutcome, limits: SandboxLimits) -> TestReport:
    if raw.outcome == OutcomeKind.LOST:
        return _report(p, Verdict.CRASHED, "The sandbox stopped while running your code: did "
                       "it signal or stop its parent process?")
    when = "while loading your file" if raw.outcome.at_import else f"in {p.func}"
    if raw.problem:
        # The worker stopped the child for breaking the result channel's protocol: its signal
        # is the worker's kill, not a crash of Python.
        return _report(p, Verdict.CRASHED, f"Your code was stopped {when}: {raw.problem}.")
    sig = raw.signal
    if sig in (signal.SIGXCPU, signal.SIGKILL) and (raw.cpu or 0) >= limits.cpu_s * 0.9:
        return _report(p, Verdict.TIMEOUT, f"Your code used up its CPU time ({limits.cpu_s:g} "
                       f"s) {when}: is there a loop that never ends?")
    if sig is not None:
        name = SIGNAL_NAMES.get(sig, f"signal {sig}")
        return _report(p, Verdict.CRASHED, f"Python crashed {when} ({name}). This happens with "
                       "ctypes or other low-level tricks, or when memory runs out.")
    return _report(p, Verdict.CRASHED, f"Your code ended the process {when} (exit code "
                   f"{raw.exit}) before returning: remove sys.exit()/os._exit() and return the "
                   "result.")


def _unsaveable(p: Planned, status: ChildStatus) -> TestReport:
    info = status.result or ValueInfo()
    # Numeric arrays only fail to save when they exceed the file-size limit (or memory).
    too_large = status.exc_type in ("OSError", "MemoryError")
    if info.dtype and too_large:
        return _report(p, Verdict.WRONG_SHAPE, f"{p.func} returned an array of shape "
                       f"{info.shape}, far larger than expected: the grader cannot bring it "
                       "back.")
    if info.dtype:
        return _report(p, Verdict.WRONG_DTYPE, f"{p.func} returned an array of dtype "
                       f"{info.dtype}; return numbers (a float array), not Python objects.")
    return _report(p, Verdict.WRONG_TYPE, f"{p.func} returned a value the grader cannot read "
                   f"({status.exc_type}: {status.exc_msg[:200]}).")


def _type_name(info: ValueInfo | None) -> str:
    if info is None:
        return "an unknown value"
    name = info.type.removeprefix("builtins.")
    if info.is_sequence:
        return f"a {name} of {info.length} items"
    return f"a {name}"


def _wrong_form(p: Planned, info: ValueInfo | None, arrays: Mapping[str, np.ndarray]
                ) -> TestReport | None:
    """A "wrong type" report when the return value is not of the form the kind asks for."""
    is_sequence = info is not None and info.is_sequence
    if p.kind in ("tuple0", "grads"):
        count = 2 if p.kind == "tuple0" else 3
        if not is_sequence and "r" in arrays:
            if p.kind == "tuple0":
                return _report(p, Verdict.WRONG_TYPE, f"{p.func} returned a single array; it "
                               "must return a tuple (output, cache).",
                               FORGOT_CACHE.format(func=p.func))
            return _report(p, Verdict.WRONG_TYPE, f"{p.func} returned a single array; it must "
                           "return the tuple (dA_prev, dW, db).")
        if not is_sequence or info.length != count:
            return _report(p, Verdict.WRONG_TYPE, f"{p.func} returned {_type_name(info)}; "
                           f"expected a tuple of {count} items.")
    elif is_sequence or "r" not in arrays:
        hint = " Wrap it with np.array(...)." if is_sequence else ""
        what = "a number" if p.kind == "scalar" else "a NumPy array"
        return _report(p, Verdict.WRONG_TYPE, f"{p.func} returned {_type_name(info)}; expected "
                       f"{what}.{hint}")
    return None


def _returned_arrays(p: Planned, info: ValueInfo | None, arrays: Mapping[str, np.ndarray]
                     ) -> list[np.ndarray] | TestReport:
    """The arrays to check, or a "wrong type" report when the return value has the wrong form."""
    wrong = _wrong_form(p, info, arrays)
    if wrong is not None:
        return wrong
    saved = saved_items(p.kind)
    keys = ["r"] if saved is None else [f"r{i}" for i in saved]
    missing = [k for k in keys if k not in arrays]
    if missing:
        index = int(missing[0][1:])
        items = info.items if info is not None else ()
        item = items[index] if index < len(items) else None
        return _report(p, Verdict.WRONG_TYPE, f"Item {index} of what {p.func} returned is "
                       f"{_type_name(item)}; expected a NumPy array.")
    return [arrays[k] for k in keys]


def _check_result(p: Planned, info: ValueInfo | None, arrays: Mapping[str, np.ndarray]
                  ) -> TestReport:
    got_arrays = _returned_arrays(p, info, arrays)
    if isinstance(got_arrays, TestReport):
        return got_arrays
    for (name, expected), got in zip(p.expected, got_arrays, strict=True):
        failure = _compare(p, name, expected, got)
        if failure is not None:
            return failure.with_picture(picture_of(name, expected, got))
    return _report(p, Verdict.PASS, "Correct.")


def _label(p: Planned, name: str) -> str:
    return p.func if name == "output" else f"{name} from {p.func}"


def _compare(p: Planned, name: str, expected: np.ndarray, got: np.ndarray) -> TestReport | None:
    """The array-check ladder: dtype, shape, finite, values. None when it all holds."""
    label = _label(p, name)
    if got.dtype.kind not in "biuf":
        return _report(p, Verdict.WRONG_DTYPE, f"{label} has dtype {got.dtype}; expected numbers.",
                       what=label)
    if got.dtype.kind == "b" and p.kind != "mask":
        return _report(p, Verdict.WRONG_DTYPE, f"{label} is a boolean array; expected numbers.",
                       what=label)
    if p.kind == "scalar" and got.shape != ():
        return _report(p, Verdict.WRONG_SHAPE, f"{p.func} returned an array of shape {got.shape}; "
                       "expected a single number.", SCALAR_HINT)
    if got.shape != expected.shape:
        # An exact match with a mutated output beats a guess from the shape alone.
        hint = (explain_values(p.func, p.args, p.kwargs, name, got, expected, hidden=p.hidden)
                or explain_shape(p.func, p.args, p.kwargs, name, got.shape, expected.shape,
                                 hidden=p.hidden))
        formula = size_formula(p.func, p.args, p.kwargs)
        message = f"{label} has shape {got.shape}; expected {expected.shape}."
        return _report(p, Verdict.WRONG_SHAPE, message + (f" {formula}" if formula else ""), hint,
                       what=label)
    if not np.all(np.isfinite(got)):
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(got))[0])
        return _report(p, Verdict.NOT_FINITE, f"{label} contains NaN or infinity (first at index "
                       f"{index}).", what=label)
    tolerance = _tolerance(p, expected, got)
    if p.kind == "mask":
        same = (got != 0) == expected.astype(bool)
    else:
        same = _within(got, expected, tolerance)
    if bool(np.all(same)):
        return None
    return _wrong_values(p, name, label, expected, got, same, tolerance)


def _tolerance(p: Planned, expected: np.ndarray, got: np.ndarray) -> Tolerance:
    """The tolerance for the student's dtype; a mask (compared as booleans) is exact."""
    scale = float(np.max(np.abs(expected))) if expected.size else 1.0
    return p.case.tolerance(np.bool_ if p.kind == "mask" else got.dtype, scale)


def _within(got: np.ndarray, expected: np.ndarray, tolerance: Tolerance) -> np.ndarray:
    """Elementwise: is each value within ``tolerance`` (exactly equal for integers)?"""
    got64, expected64 = got.astype(np.float64), expected.astype(np.float64)
    if tolerance.exact:
        return got64 == expected64
    # The same rule the failure message states, so a message never contradicts its verdict.
    return np.abs(got64 - expected64) <= tolerance.atol + tolerance.rtol * np.abs(expected64)


def _rounding_note(p: Planned, expected: np.ndarray, got: np.ndarray, tolerance: Tolerance
                   ) -> str:
    """A float64 answer whose errors are all the size of float32 rounding: say so."""
    if tolerance.dtype != "float64":
        return ""
    single = _tolerance(p, expected, got.astype(np.float32))
    if not bool(np.all(_within(got, expected, single))):
        return ""
    return (" Every difference is the size of float32 rounding: did your code compute in "
            "float32 and return float64? Compute in float64, or return the float32 result.")


def _wrong_values(p: Planned, name: str, label: str, expected: np.ndarray, got: np.ndarray,
                  same: np.ndarray, tolerance: Tolerance) -> TestReport:
    diff = np.abs(got.astype(np.float64) - expected.astype(np.float64))
    index = tuple(int(i) for i in np.argwhere(~same)[0]) if same.ndim else ()
    scale = float(np.max(np.abs(expected))) or 1.0
    message = (f"{label} has wrong values: max abs error {float(np.max(diff)):.3g}, relative "
               f"error {float(np.max(diff)) / scale:.3g}; first mismatch at index {index}: "
               f"got {float(got[index]):.6g}, expected {float(expected[index]):.6g}.")
    if p.kind != "mask":
        allowed = tolerance.atol + tolerance.rtol * abs(float(expected[index]))
        message += (f" That is off by {float(diff[index]):.3g}, more than the "
                    f"{allowed:.3g} allowed there ({tolerance.describe()}).")
        message += _rounding_note(p, expected, got, tolerance)
    verdict = Verdict.WRONG_VALUES
    if got.dtype.kind in "iu" and expected.dtype.kind == "f":
        verdict = Verdict.WRONG_DTYPE
        message = f"{label} has integer dtype {got.dtype}, so values are truncated. " + message
    hint = explain_values(p.func, p.args, p.kwargs, name, got, expected, hidden=p.hidden)
    return _report(p, verdict, message, hint, what=label)


def _judge_speed(p: Planned, report: TestReport, raw: RawOutcome) -> TestReport:
    if not report.passed:
        return speed_unmeasured(p, report.verdict)
    ms = (raw.lifetime or 0.0) * 1000
    ratio = ms / p.reference_ms if p.reference_ms else math.inf
    message = (f"{ms:.1f} ms on the case {p.case.name!r} (budget {p.speed.budget_ms:g} ms); the "
               f"reference takes {p.reference_ms:.2f} ms, so yours is {ratio:.0f}x.")
    if ms <= p.speed.budget_ms:
        return _report(p, Verdict.PASS, message)
    return _report(p, Verdict.TOO_SLOW, message, "Vectorize the inner loops: compute each output "
                   "position for all filters at once with np.sum over the window, or use "
                   "np.lib.stride_tricks.sliding_window_view.")
