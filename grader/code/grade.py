"""Grade a student's NumPy exercise file: the one home of :func:`grade_source`.

The student's code only ever runs in the sandbox (:mod:`grader.sandbox`). In the trusted
process, :mod:`grader.code.plan` builds each test's inputs from the exercise spec
(``exercises/specs/``) and computes the expected outputs with :mod:`grader.reference` on its
own copies; the sandbox runs the calls; :mod:`grader.code.verdicts` turns what came back into
verdicts (pass, wrong values, wrong shape, wrong dtype, wrong type, not finite, exception,
timeout, memory limit, crashed, not attempted, too slow), and :mod:`grader.code.diagnosis`
names the likely bug when values are wrong. The result is a typed
:class:`~grader.code.report.CodeReport`.

Hidden inputs never reach the run that produces public feedback: the public tests run in one
sandboxed child and the hidden tests in another, afterwards, so public messages (which show
what the student's code returned or raised) cannot echo what a hidden test passed in.

What runs
---------
:mod:`grader.code.source` decides what of the file runs: a notebook (``.ipynb`` JSON) or an
nbconvert export keeps only its definitions, and imports of modules the grader does not
provide become stand-ins; the report's ``warnings`` say what was left out. A function whose
body is still the template's placeholders is reported as not attempted, and one that calls a
helper its exercise spec bans (:mod:`grader.code.bans`) gets the verdict "banned helper" with
the spec's reason on every test, and no points. A failing function that calls one of the
exercise's helpers whose public tests fail (conv_forward calling a wrong zero_pad) says so
first in its failing public tests' diagnoses: fix the helper first.

Isolation
---------
``grade_source(..., own_code=False)`` (the server, ``grader grade``, ``grader batch``) grades
someone else's code and calls ``require_isolation()`` first: without working bubblewrap it
raises :class:`IsolationUnavailable`, unless the operator opted out explicitly. Only a
student's check of their own code (``own_code=True``) runs with resource limits alone; the
report's ``warnings`` then say so. A student's own file that is not run at all (a fresh stub, a
file too large to run) skips the bubblewrap probe, which starts a child process.

A fresh file
------------
A file still as handed out (only ``raise NotImplementedError`` bodies, :mod:`grader.code.fresh`)
is judged from the spec's test slots (:mod:`grader.code.cases`) without planning anything:
the plan, the reference, the verdict ladder and the sandbox's runner are imported only for a
file that runs, so ``grader check`` of a stub starts in about the time of ``import numpy``.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from grader.code.bans import banned_uses
from grader.code.cases import plan_slots
from grader.code.fresh import fresh_reports, unwritten_functions
from grader.code.report import (
    CodeReport,
    FunctionReport,
    FunctionStatus,
    TestReport,
    Verdict,
    hidden_message,
)
from grader.code.source import (
    MAX_SOURCE_BYTES,
    STAND_IN_NAME,
    Decoded,
    PreparedSource,
    decode_submission,
    has_surrogate,
    prepare_source,
    read_submission,
    written_program,
)
from grader.code.spec import Bans, load_spec
from grader.errors import StudentCodeError
from grader.sandbox.limits import DEFAULT_LIMITS, SandboxLimits
from grader.sandbox.policy import (
    UNSAFE_OPT_OUT,
    Isolation,
    bwrap_binary,
    local_isolation,
    require_isolation,
)
from grader.syntax import parse_python

if TYPE_CHECKING:  # the plan and the sandbox's runner are imported only for a file that runs
    from grader.code.plan import Planned
    from grader.sandbox.outcome import RawOutcome
    from grader.sandbox.runner import SandboxPool, WirePlan


def _decode_source(source: str | bytes) -> Decoded:
    """The submission as text (see :func:`decode_submission`), and how bytes were read."""
    decoded = decode_submission(source) if isinstance(source, bytes) else Decoded(source)
    source = decoded.text
    if not isinstance(source, str):
        raise StudentCodeError(f"expected the program text, got {type(source).__name__}")
    if "\x00" in source:
        raise StudentCodeError("the file contains NUL bytes: it is not a Python source file")
    if has_surrogate(source):
        raise StudentCodeError("the program has a character that is not text (a lone "
                               "surrogate): delete it and submit the file again")
    return replace(decoded, text=source.removeprefix("\ufeff"))


def grade_source(source: str | bytes, *, exercise: str = "conv_step_by_step",
                 include_hidden: bool = True, functions: Sequence[str] | None = None,
                 limits: SandboxLimits = DEFAULT_LIMITS, pool: SandboxPool | None = None,
                 progress: Callable[[str], None] | None = None,
                 own_code: bool = False) -> CodeReport:
    """Grade a submission of ``exercise`` in the sandbox.

    Parameters
    ----------
    source : str or bytes
        The student's file (bytes: UTF-8, or see :func:`decode_submission`): a ``.py``, an nbconvert export, or a
        notebook's JSON text (see :mod:`grader.code.source`).
    exercise : str
        One of :data:`~grader.code.spec.EXERCISES`.
    include_hidden : bool
        Run the hidden tests too (the server and instructors); ``grader check`` does not.
    functions : sequence of str, optional
        Only these functions (default: every function of the exercise).
    limits : SandboxLimits
        Resource limits of the sandboxed child.
    pool : SandboxPool, optional
        The warm workers to use (default: the process-wide pool).
    progress : callable, optional
        Called with a short phase description ("running", "checking").
    own_code : bool
        True only for a student checking their own code on their own machine: then the code
        may run with resource limits alone when bubblewrap is unavailable (the report's
        ``warnings`` say so). False (the server, ``grader grade``, ``grader batch``) requires
        isolation.

    Returns
    -------
    CodeReport
        The full (staff) report; ``report.to_json()`` and ``report.redacted()`` are the
        student's form.

    Raises
    ------
    IsolationUnavailable
        With ``own_code=False``, when bubblewrap does not work and the operator did not opt out.
    StudentCodeError
        When ``source`` is not text at all, or is a notebook that cannot be read.
    ValueError
        On an unknown exercise or function name.
    """
    isolation = None if own_code else require_isolation()  # fails closed before anything
    decoded = _decode_source(source)
    program = read_submission(decoded.text)
    prepared = prepare_source(program)
    text = prepared.text
    spec = load_spec(exercise)
    chosen = tuple(spec.function(n).name for n in functions) if functions else tuple(
        f.name for f in spec.functions)
    if progress:
        progress("running")
    unwritten = unwritten_functions(text)
    if unwritten is not None:
        reports = list(fresh_reports(plan_slots(spec, chosen, include_hidden), chosen, unwritten))
        isolation = isolation or _unrun_isolation()
    else:
        reports, isolation = _judged_by_running(text, exercise, chosen, include_hidden, limits,
                                                pool, own_code, isolation)
    if progress:
        progress("checking")
    reports = finish_reports(reports, program, prepared, spec.bans)
    warning = isolation.warning() if isolation else None
    return CodeReport(
        score=sum(f.score for f in reports), max_score=sum(f.max_score for f in reports),
        functions=tuple(reports),
        warnings=decoded.notes() + prepared.notes() + ((warning,) if warning else ()),
    )


def finish_reports(reports: Sequence[FunctionReport], program: str, prepared: PreparedSource,
                   bans: Bans) -> list[FunctionReport]:
    """The verdicts' reports as every check gives them (the server's and the student kit's):
    template stubs not attempted, banned helpers, the "fix your helper first" hints, and
    tracebacks without the stand-ins' lines."""
    reports = [_stub(r) if r.name in prepared.stubs else r for r in reports]
    # As written (before stand-ins rename imports), the definitions in effect only.
    uses = banned_uses(written_program(program), bans.names)
    reports = [_banned(r, bans.message(uses[r.name])) if r.name in uses else r for r in reports]
    reports = _with_helper_hints(reports, prepared.text)
    if prepared.missing:
        reports = [_without_stand_in_frames(r) for r in reports]
    return reports


def _without_stand_in_frames(report: FunctionReport) -> FunctionReport:
    """Tracebacks without the stand-in's own line: the student's lines are what they can fix."""
    def clean(text: str | None) -> str | None:
        if text is None or STAND_IN_NAME not in text:
            return text
        return "\n".join(line for line in text.split("\n")
                         if not (line.startswith(("  line ", "  cell ")) and STAND_IN_NAME in line))

    return replace(report, tests=tuple(
        replace(t, message=clean(t.message), staff_message=clean(t.staff_message))
        for t in report.tests))


# A helper's failures that can make its caller fail: a helper that is only slow, or banned,
# still returns the right values.
HELPER_FAILURES = frozenset(Verdict) - {Verdict.PASS, Verdict.TOO_SLOW, Verdict.BANNED}


def _with_helper_hints(reports: Sequence[FunctionReport], text: str) -> list[FunctionReport]:
    """A failing caller's public tests say when it calls a helper whose public tests fail.

    conv_forward calling a wrong zero_pad (or conv_single_step), pool_backward a wrong
    create_mask_from_window, conv_backward a wrong zero_pad: the caller fails because of the
    helper, and the student should fix the helper first. The hint is given only when the
    caller's own code calls the helper by name, and it rests on public tests alone (the
    helper's and the caller's), so it says nothing of a hidden test.
    """
    broken = {r.name for r in reports
              if any(not t.passed and not t.hidden and t.verdict in HELPER_FAILURES
                     for t in r.tests)}
    failing = [r for r in reports if r.status == FunctionStatus.FAILED and r.name in broken]
    if len(broken) < 2 or not failing:
        return list(reports)
    calls = _calls_between(text, {r.name for r in reports})
    out = []
    for report in reports:
        helpers = [h for h in calls.get(report.name, ()) if h in broken and h != report.name]
        out.append(_hinted(report, helpers) if report in failing and helpers else report)
    return out


def _calls_between(text: str, names: set[str]) -> dict[str, tuple[str, ...]]:
    """For each of ``names`` defined at the top level, which of ``names`` its body calls (the
    definition that runs: the last one), in the order of its first call."""
    try:
        tree = parse_python(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return {}
    calls: dict[str, tuple[str, ...]] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in names:
            called = [n.func.id for n in ast.walk(node) if isinstance(n, ast.Call)
                      and isinstance(n.func, ast.Name) and n.func.id in names]
            calls[node.name] = tuple(dict.fromkeys(called))
    return calls


def _hinted(report: FunctionReport, helpers: Sequence[str]) -> FunctionReport:
    """The report with the helper hint first in each failing public test's diagnosis."""
    them = " and ".join(helpers)
    whose = "whose tests fail" if len(helpers) == 1 else "whose tests fail too"
    first = helpers[0] if len(helpers) == 1 else "them"
    hint = f"{report.name} calls your {them}, {whose}: fix {first} first."
    tests = tuple(replace(t, diagnosis=f"{hint} {t.diagnosis}" if t.diagnosis else hint)
                  if not t.passed and not t.hidden and t.verdict in HELPER_FAILURES else t
                  for t in report.tests)
    return replace(report, tests=tests)


def _stub(report: FunctionReport) -> FunctionReport:
    """A function still in its template form is not attempted, whatever its placeholders did.

    Running ``mask = None; return mask`` fails every test with a TypeError or a wrong type;
    the student has simply not reached it yet, and should be told that instead.
    """
    if report.status == FunctionStatus.PASSED:
        return report
    message = (f"{report.name} is not written yet: its body still has the template's "
               "placeholders (None).")
    tests = tuple(t if t.passed else _not_attempted(t, message, report.name)
                  for t in report.tests)
    status = (FunctionStatus.NOT_ATTEMPTED if not any(t.passed for t in tests)
              else FunctionStatus.FAILED)
    return replace(report, status=status, tests=tests)


def _banned(report: FunctionReport, message: str) -> FunctionReport:
    """A function that calls a banned helper earns nothing, whatever its tests returned.

    The message depends only on the file, never on a test, so hidden tests show it too.
    """
    tests = tuple(replace(t, passed=False, verdict=Verdict.BANNED, message=message,
                          diagnosis=None, points=0.0, picture=None,
                          staff_message=message if t.hidden else t.staff_message)
                  for t in report.tests)
    return replace(report, status=FunctionStatus.FAILED, tests=tests)


def _not_attempted(test: TestReport, message: str, function: str) -> TestReport:
    shown = hidden_message(Verdict.NOT_ATTEMPTED, function) if test.hidden else message
    return replace(test, verdict=Verdict.NOT_ATTEMPTED, message=shown, diagnosis=None,
                   points=0.0, staff_message=message if test.hidden else test.staff_message)


def _judged_by_running(text: str, exercise: str, chosen: tuple[str, ...], include_hidden: bool,
                       limits: SandboxLimits, pool: SandboxPool | None, own_code: bool,
                       isolation: Isolation | None
                       ) -> tuple[list[FunctionReport], Isolation | None]:
    """Plan the tests, run them in the sandbox (unless the file is too large to run) and
    climb the verdict ladder: the reports, and the isolation the code ran under."""
    from grader.code.plan import plan
    from grader.code.verdicts import judge_function

    planned = plan(exercise, chosen, include_hidden, limits)
    if len(text.encode("utf-8")) > MAX_SOURCE_BYTES:
        outcomes = {p.call.id: _too_large() for p in planned[0]}
        isolation = isolation or _unrun_isolation()
    else:
        isolation = isolation or local_isolation()
        outcomes = _run(text, planned, limits, pool, own_code)
    return [judge_function(name, [p for p in planned[0] if p.func == name], outcomes, text,
                           limits) for name in chosen], isolation


def _unrun_isolation() -> Isolation | None:
    """A student's own file that is not run needs no probe of bubblewrap (a child process).

    Its warning is still said when that costs nothing: bubblewrap is not installed at all, or
    the operator opted out. Where bubblewrap is installed, nothing of the file ran, so there is
    no isolation to speak of, and no warning.
    """
    opted_out = os.environ.get("STRIDE_SANDBOX", "").strip().lower() == UNSAFE_OPT_OUT
    return local_isolation() if opted_out or bwrap_binary() is None else None


def _run(text: str, planned: tuple[tuple[Planned, ...], WirePlan, WirePlan],
         limits: SandboxLimits, pool: SandboxPool | None, own_code: bool
         ) -> dict[str, RawOutcome]:
    """Every planned call's outcome by call id, from the sandbox."""
    from grader.code.plan import sandbox_source
    from grader.sandbox.runner import run_calls

    tests, public_plan, hidden_plan = planned
    source = sandbox_source(text, tests)
    # Public first, in a child of its own: nothing a hidden test passes in can reach it.
    return {r.id: r for wire in (public_plan, hidden_plan)
            for r in run_calls(source, wire, limits=limits, pool=pool, own_code=own_code)}


def _too_large() -> RawOutcome:
    from grader.sandbox.outcome import ChildStatus, OutcomeKind, RawOutcome

    return RawOutcome(id="", outcome=OutcomeKind.IMPORT_ERROR, status=ChildStatus(
        exc_type="FileTooLarge",
        exc_msg=f"the file is larger than {MAX_SOURCE_BYTES // 1024} KB"))
