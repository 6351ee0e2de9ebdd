"""Running the student's functions in a child process, on Linux, macOS and Windows.

Each batch of tests (the shared one, then each speed test alone, as the server does) runs in
a fresh ``python -m stride_kit.childmain`` started with :mod:`subprocess` (no fork), which
reports one JSON line per event. This parent keeps the clocks: loading the file gets the
import limit, each test its own wall-clock limit. After a timeout the child is killed and the
remaining tests run in a new child, except the timed-out function's other tests, which are
skipped as the server skips them; a child that dies mid-test crashes that test only. The
outcomes are the grader's own :class:`RawOutcome` records, parsed by the grader's own code.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from ._core.sandbox import OutcomeKind, RawOutcome, SandboxLimits, _outcome

SLACK_S = 0.5  # on top of each limit: reading a line is not the student's time
START_S = 20.0  # starting Python and NumPy, before the import limit applies


class _Child:
    """One child process and a thread that turns its stdout into a queue of messages."""

    def __init__(self, job: dict) -> None:
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join([root, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", f"{__package__}.childmain"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        self.messages: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        try:
            self.proc.stdin.write(json.dumps(job).encode("utf-8"))
            self.proc.stdin.close()
        except OSError:
            pass  # the child died at once: the reader reports the end of its output

    def _read(self) -> None:
        for line in self.proc.stdout:
            try:
                self.messages.put(json.loads(line))
            except ValueError:
                break
        self.messages.put(None)

    def next(self, timeout: float) -> dict | None | str:
        """The next message, None when the child's output ended, "timeout" when none came."""
        try:
            return self.messages.get(timeout=max(timeout, 0.01))
        except queue.Empty:
            return "timeout"

    def end(self) -> dict:
        """Stop the child (if it still runs); its exit code or signal, the grader's way."""
        if self.proc.poll() is None:
            self.proc.kill()
        code = self.proc.wait()
        lifetime = time.monotonic() - self.started
        if code < 0:
            return {"signal": -code, "exit": None, "lifetime": lifetime}
        return {"exit": code, "signal": None, "lifetime": lifetime}


def _job(source: str, tests: Sequence[dict], data: Path, inputs: Mapping[str, str],
         limits: SandboxLimits) -> dict:
    return {"source": source, "tests": list(tests), "data": str(data), "inputs": dict(inputs),
            "limits": limits.to_wire()}


def _run_batch(source: str, tests: list[dict], data: Path, inputs: Mapping[str, str],
               limits: SandboxLimits) -> dict[str, dict]:
    outcomes: dict[str, dict] = {}
    remaining = list(tests)
    while remaining:
        child = _Child(_job(source, remaining, data, inputs, limits))
        first = child.next(START_S)
        if isinstance(first, dict) and first.get("ready"):
            first = child.next(limits.import_wall_s + SLACK_S)
        if first is None or first == "timeout" or "imported" not in first:
            base = child.end()
            kind = ("import_error" if isinstance(first, dict) and "import_error" in first else
                    "import_timeout" if first == "timeout" else "import_crashed")
            status = first.get("import_error") if isinstance(first, dict) else None
            for test in remaining:
                outcomes[test["id"]] = dict(base, id=test["id"], outcome=kind, status=status)
            return outcomes
        imported = time.monotonic()
        remaining = _run_tests(child, remaining, outcomes, limits, imported)
    return outcomes


def _run_tests(child: _Child, tests: list[dict], outcomes: dict[str, dict],
               limits: SandboxLimits, imported: float) -> list[dict]:
    """Record what ``child`` runs; the tests still to run in a new child."""
    for index, test in enumerate(tests):
        start = time.monotonic()
        message = child.next(min(float(test["wall"]), limits.wall_s) + SLACK_S)
        if isinstance(message, dict) and message.get("id") == test["id"]:
            outcomes[test["id"]] = {"id": test["id"], "outcome": "done",
                                    "status": message.get("status"),
                                    "arrays": message.get("arrays"),
                                    "lifetime": time.monotonic() - imported}
            imported = time.monotonic()
            continue
        base = child.end()
        kind = "timeout" if message == "timeout" else "crashed"
        outcomes[test["id"]] = dict(base, id=test["id"], outcome=kind,
                                    lifetime=time.monotonic() - start)
        rest = tests[index + 1:]
        if kind == "timeout":  # one timeout per function is enough, as on the server
            for other in rest:
                if other["func"] == test["func"]:
                    outcomes[other["id"]] = {"id": other["id"],
                                             "outcome": "skipped_after_timeout"}
            rest = [t for t in rest if t["func"] != test["func"]]
        return rest
    child.end()
    return []


def run_batches(source: str, batches: Sequence[Sequence[dict]], data: Path,
                inputs: Mapping[str, str], limits: SandboxLimits) -> dict[str, RawOutcome]:
    """Every test's outcome by call id, each batch in children of its own."""
    found: dict[str, RawOutcome] = {}
    for batch in batches:
        if not batch:
            continue
        for test_id, info in _run_batch(source, list(batch), data, inputs, limits).items():
            found[test_id] = _outcome(test_id, info, limits)
    for test_id in (t["id"] for b in batches for t in b):
        found.setdefault(test_id, RawOutcome(id=test_id, outcome=OutcomeKind.LOST))
    return found
