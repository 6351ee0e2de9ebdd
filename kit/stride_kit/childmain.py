"""The child process that runs the student's functions (``python -m stride_kit.childmain``).

It reads one job from stdin (JSON: the source, the kit's ``.npz`` of inputs, the tests and
the limits), caps its own memory where the OS allows (``resource`` on Linux and macOS; nothing
on Windows), imports the student's file and runs each test with the grader's own ``_run_one``
(copied into ``_core.child``), writing one JSON line per event to its original stdout. The
student's prints go nowhere, so they can never break that protocol. Only the standard library
and NumPy are used, and nothing POSIX-only is imported on Windows.
"""

from __future__ import annotations

import base64
import json
import linecache
import os
import sys
import tempfile

import numpy as np

from ._core import child


def _cap_memory(extra: int) -> None:
    """Address space: what the child uses now plus ``extra`` bytes (POSIX only)."""
    if os.name != "posix":
        return
    try:
        import resource
    except ImportError:
        return
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            used = next((int(line.split()[1]) * 1024 for line in fh if line.startswith("VmSize:")),
                        0)
    except OSError:
        used = 0
    if used and sys.platform.startswith("linux"):  # macOS does not enforce RLIMIT_AS
        resource.setrlimit(resource.RLIMIT_AS, (used + extra, used + extra))


def _writer():
    """The protocol channel (the original stdout) and the student's stdout made silent."""
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8")
    silent = os.open(os.devnull, os.O_RDWR)
    os.dup2(silent, 1)
    sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - for the whole run

    def send(message: dict) -> None:
        channel.write(json.dumps(message) + "\n")
        channel.flush()

    return send


def _import(source: str, send) -> dict | None:
    namespace = {"__name__": "submission", "__file__": child.SUBMISSION,
                 "__builtins__": __builtins__}
    linecache.cache[child.SUBMISSION] = (len(source), None, source.splitlines(True),
                                         child.SUBMISSION)
    try:
        exec(compile(source, child.SUBMISSION, "exec"), namespace)  # noqa: S102 - the point
    except BaseException as exc:  # noqa: BLE001 - SystemExit at import is an import error too
        status = child._describe_exception(exc)
        if isinstance(exc, SyntaxError):
            status["frames"] = [[exc.lineno or 0, "<module>", (exc.text or "").strip()[:200]]]
        send({"import_error": json.loads(child._status_bytes(status))})
        return None
    send({"imported": True})
    return namespace


def main() -> None:
    job = json.loads(sys.stdin.read())
    send = _writer()
    with np.load(job["data"], allow_pickle=False) as data:
        child._INPUTS.update({name: data[key] for name, key in job["inputs"].items()})
    _cap_memory(int(job["limits"]["mem"]))
    with tempfile.TemporaryDirectory(prefix="stride-kit-") as scratch:
        os.chdir(scratch)
        send({"ready": True})
        namespace = _import(job["source"], send)
        if namespace is None:
            return
        limit = int(job["limits"]["fsize"])
        for test in job["tests"]:
            try:
                status, encoded = child._run_one(namespace, test, limit)
            except BaseException as exc:  # noqa: BLE001
                status, encoded = child._describe_exception(exc), {}
                status["stage"] = "load"
            send({"id": test["id"], "status": json.loads(child._status_bytes(status)),
                  "arrays": {k: base64.b64encode(v).decode("ascii") for k, v in encoded.items()}})
        os.chdir(os.path.dirname(scratch))


if __name__ == "__main__":
    main()
