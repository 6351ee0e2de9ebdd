"""Building the student kit: the one home of turning exercise specs into a student wheel.

:func:`build_kit` writes a pure-Python wheel (dependency: NumPy; rich optional) holding, per
exercise, the stub file, the public tests (inputs, expected outputs and the outputs of the
known bugs on the same inputs, in one ``.npz``) and their plan (a ``.json``), plus the kit's
runtime: its own code (``kit/stride_kit/`` beside ``grader/``) and, in its ``_core`` package, copies of
the grader's verdict, report, matching and child-status code (:mod:`grader.kit.extract`).

No reference implementation, hidden test, problem bank or quiz answer goes in: the hidden
tests are planned only to count them, and the bug families run here, in the instructor's
process, so only their outputs on the public inputs are shipped.

The wheel is written with :mod:`zipfile` (a few files, no build backend needed), with a
RECORD of sha256 hashes so pip installs it like any other.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import tempfile
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from grader import __version__
from grader.data_root import data_root
from grader.kit.extract import Part, kit_module

PACKAGE = "stride_kit"
DISTRIBUTION = "stride-cnn-kit"  # free on the public index (checked with pip index / download)
RUNTIME = data_root() / "kit" / PACKAGE  # the kit's own code
EXERCISES_DIR = data_root() / "exercises"

# The kit's ``_core`` modules: which grader code each one copies, and from where.
DIAGNOSIS_ROOTS = ("FORGOT_CACHE", "SCALAR_HINT", "explain_exception", "explain_shape",
                   "explain_values", "picture_of", "size_formula")
CANDIDATES_HOOK = '''
# The kit's own part: the known bugs' outputs come precomputed with the public tests (the bug
# families need the reference, which the kit does not have), as ``diagnosis.candidates`` gave
# them. ``register`` is called with each test's inputs; ``explain_values`` above matches the
# student's output against them with the grader's own matching (``_core.matching``).
_CANDIDATES: dict[int, tuple[Any, Callable[[], dict]]] = {}


def register(args: tuple, candidates: Callable[[], dict[str, list[tuple[str, np.ndarray]]]]
             ) -> None:
    """The known bugs' outputs (by output name) for the test whose inputs are ``args``, read
    only when a wrong output is to be matched: ``candidates()`` gives them."""
    _CANDIDATES[id(args)] = (args, candidates)


def _mutations(func, args, kwargs, name, hidden):
    entry = _CANDIDATES.get(id(args))
    found = entry[1]().get(name, []) if entry is not None else []
    return [(sentence, (lambda array=array: array)) for sentence, array in found]
'''
CORE: dict[str, tuple[tuple[Part, ...], str]] = {
    "errors": ((Part("grader.errors"),), ""),
    "syntax": ((Part("grader.syntax"),), ""),
    "matching": ((Part("grader.code.matching"),), ""),
    "bans": ((Part("grader.code.bans"),), ""),
    "report": ((Part("grader.code.report"),), ""),
    "sandbox": ((Part("grader.sandbox.outcome"), Part("grader.sandbox.limits"),
                 Part("grader.sandbox.runner", ("TestCall", "RESULT_KEYS", "_outcome"))),
                ""),
    "spec": ((Part("grader.code.spec", ("Tolerance", "DTYPE_TOLERANCES", "Case", "SpeedSpec",
                                         "Bans")),),
             ""),
    "functions": ((Part("grader.code.functions", ("saved_items", "edge_filter")),), ""),
    "cases": ((Part("grader.code.cases", ("FORWARD_OF", "TestSlot")),), ""),
    "fresh": ((Part("grader.code.fresh"),), ""),
    "plan": ((Part("grader.code.plan", ("REFERENCE_CACHE", "adapter_name", "OwnCache",
                                        "Planned", "sandbox_source")),), ""),
    "diagnosis": ((Part("grader.code.diagnosis", DIAGNOSIS_ROOTS, provided=("_mutations",)),),
                  CANDIDATES_HOOK),
    "verdicts": ((Part("grader.code.verdicts"),), ""),
    "source": ((Part("grader.code.source", replace=(
        ("    import nbformat  #", "    from . import _nbformat as nbformat  #"),)),), ""),
    "grade": ((Part("grader.code.grade", ("_decode_source", "finish_reports", "_too_large")),),
              ""),
    "child": ((Part("grader.sandbox.zygote", ("_run_one", "_status_bytes", "_describe_exception",
                                              "_INPUTS", "SUBMISSION")),), ""),
}


@dataclass(frozen=True)
class KitFile:
    """One file of the wheel: its path inside the wheel and its bytes."""

    path: str
    data: bytes


# ------------------------------------------------------------------------------- test data
class _Arrays:
    """The arrays of one exercise's ``.npz``, each under a short key."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def add(self, array: Any) -> str:
        key = f"a{len(self.arrays)}"
        self.arrays[key] = np.asarray(array)
        return key

    def encode(self, value: Any) -> Any:
        """A JSON form of an argument: arrays by key, tuples and dicts kept, scalars as is."""
        if isinstance(value, np.ndarray):
            return {"a": self.add(value)}
        if isinstance(value, tuple):
            return {"t": [self.encode(v) for v in value]}
        if isinstance(value, Mapping):
            return {"d": {str(k): self.encode(v) for k, v in value.items()}}
        if isinstance(value, np.generic):
            return {"v": value.item()}
        return {"v": value}

    def npz(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(buffer, **self.arrays)  # uncompressed: the kit's scan can read every byte
        return buffer.getvalue()


def _call_json(call) -> dict[str, Any]:
    return {"id": call.id, "func": call.func, "wall_s": call.wall_s,
            "save": list(call.save) if call.save is not None else None, "solo": call.solo}


def _candidates(p, arrays: _Arrays) -> dict[str, list[list[str]]]:
    """The known bugs' outputs on this test's inputs, by output name: [sentence, array key]."""
    from grader.code import diagnosis

    return {name: [[sentence, arrays.add(candidate)] for sentence, candidate in
                   diagnosis.candidates(p.func, p.args, p.kwargs, name, False)]
            for name, _ in p.expected}


def _planned_json(p, arrays: _Arrays) -> dict[str, Any]:
    case = p.case
    own = p.own_cache
    return {
        "func": p.func, "kind": p.kind, "call": _call_json(p.call),
        "case": {"name": case.name, "public": case.public, "points": case.points,
                 "rtol": case.rtol, "atol": case.atol, "time_limit": case.time_limit,
                 "params": dict(case.params)},
        "args": arrays.encode(tuple(p.args)), "kwargs": arrays.encode(dict(p.kwargs)),
        "expected": [[name, arrays.add(value)] for name, value in p.expected],
        "speed": None if p.speed is None else {
            "case": p.speed.case, "budget_ms": p.speed.budget_ms, "points": p.speed.points,
            "public": p.speed.public},
        "reference_ms": p.reference_ms,
        "own_cache": None if own is None else {
            "forward": own.forward, "forward_call": _call_json(own.forward_call),
            "forward_expected": arrays.add(own.forward_expected), "call": _call_json(own.call)},
        "candidates": _candidates(p, arrays) if p.speed is None else {},
    }


def spec_version(exercise: str) -> str:
    """A short hash of the exercise's spec and stub: a kit is rebuilt when either changes."""
    from grader.code.spec import SPECS_DIR

    digest = hashlib.sha256()
    for path in (SPECS_DIR / f"{exercise}.yaml", EXERCISES_DIR / f"{exercise}.py"):
        digest.update(path.read_bytes())
    digest.update(__version__.encode())
    return digest.hexdigest()[:12]


def exercise_data(exercise: str) -> tuple[dict[str, Any], bytes]:
    """One exercise's plan (JSON data) and arrays (``.npz`` bytes): public tests only."""
    from grader.code import load_spec
    from grader.code.plan import plan
    from grader.sandbox import DEFAULT_LIMITS

    spec = load_spec(exercise)
    names = tuple(f.name for f in spec.functions)
    planned, public_wire, _ = plan(exercise, names, False, DEFAULT_LIMITS)
    everything, _, _ = plan(exercise, names, True, DEFAULT_LIMITS)
    arrays = _Arrays()
    wire_inputs = {}
    for name, text in public_wire.inputs:
        flat = np.load(io.BytesIO(base64.b64decode(text)), allow_pickle=False)
        wire_inputs[name] = arrays.add(flat)
    data = {
        "exercise": exercise, "title": spec.title, "version": spec_version(exercise),
        "bans": {"names": list(spec.bans.names), "reason": spec.bans.reason},

        "functions": [{"name": f.name, "hidden_tests": sum(p.hidden for p in everything
                                                           if p.func == f.name)}
                      for f in spec.functions],
        "tests": [_planned_json(p, arrays) for p in planned],
        "batches": public_wire.batches, "inputs": wire_inputs,
    }
    return data, arrays.npz()


# ----------------------------------------------------------------------------------- wheel
def _runtime_files() -> list[KitFile]:
    files = []
    for path in sorted(RUNTIME.rglob("*.py")):
        relative = path.relative_to(RUNTIME).as_posix()
        files.append(KitFile(f"{PACKAGE}/{relative}", path.read_bytes()))
    return files


def core_files() -> list[KitFile]:
    """The kit's ``_core`` modules, copied from the grader's current sources."""
    return [KitFile(f"{PACKAGE}/_core/{name}.py",
                    kit_module(name, parts, extra).encode())
            for name, (parts, extra) in CORE.items()]


def _metadata(version: str) -> str:
    return "\n".join([
        "Metadata-Version: 2.1", f"Name: {DISTRIBUTION}", f"Version: {version}",
        "Summary: Check your Stride CNN exercises on your own machine, in a notebook or a "
        "terminal", "Requires-Python: >=3.11", "Requires-Dist: numpy>=1.24",
        "Provides-Extra: colour", "Requires-Dist: rich>=13; extra == \"colour\"", "", ""])


def kit_version(exercises: Sequence[str]) -> str:
    """The wheel's version: the grader's, plus a local tag naming the specs it was built from."""
    digest = hashlib.sha256("".join(spec_version(e) for e in exercises).encode())
    return f"{__version__}+s{digest.hexdigest()[:10]}"


def kit_files(exercises: Sequence[str]) -> list[KitFile]:
    """Every file of the kit's package (no dist-info), for ``exercises``."""
    files = _runtime_files() + core_files()
    for exercise in exercises:
        data, npz = exercise_data(exercise)
        files.append(KitFile(f"{PACKAGE}/data/{exercise}.json",
                             json.dumps(data, indent=1).encode()))
        files.append(KitFile(f"{PACKAGE}/data/{exercise}.npz", npz))
        files.append(KitFile(f"{PACKAGE}/stubs/{exercise}.py",
                             (EXERCISES_DIR / f"{exercise}.py").read_bytes()))
    return files


def _record_line(file: KitFile) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(file.data).digest()).rstrip(b"=").decode()
    return f"{file.path},sha256={digest},{len(file.data)}"


def wheel_name(version: str) -> str:
    return f"{DISTRIBUTION.replace('-', '_')}-{version}-py3-none-any.whl"


def build_kit(exercises: Iterable[str], out_dir: Path) -> Path:
    """Write the kit's wheel for ``exercises`` into ``out_dir``; its path."""
    from grader.code import EXERCISES

    chosen = tuple(exercises)
    unknown = [e for e in chosen if e not in EXERCISES]
    if unknown or not chosen:
        raise ValueError(f"unknown exercise {unknown!r}; choose from {EXERCISES}")
    version = kit_version(chosen)
    info = f"{DISTRIBUTION.replace('-', '_')}-{version}.dist-info"
    files = kit_files(chosen) + [
        KitFile(f"{info}/METADATA", _metadata(version).encode()),
        KitFile(f"{info}/WHEEL", b"Wheel-Version: 1.0\nGenerator: stride\nRoot-Is-Purelib: "
                b"true\nTag: py3-none-any\n\n"),
        KitFile(f"{info}/entry_points.txt",
                f"[console_scripts]\nstride-kit = {PACKAGE}.__main__:main\n".encode()),
        KitFile(f"{info}/top_level.txt", f"{PACKAGE}\n".encode()),
    ]
    record = "\n".join([*(_record_line(f) for f in files), f"{info}/RECORD,,", ""])
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / wheel_name(version)
    handle, temporary = tempfile.mkstemp(dir=out_dir, suffix=".partial")
    os.close(handle)
    partial = Path(temporary)
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as zf:
        for file in [*files, KitFile(f"{info}/RECORD", record.encode())]:
            entry = zipfile.ZipInfo(file.path, (2020, 1, 1, 0, 0, 0))
            entry.external_attr = 0o644 << 16  # rw-r--r--, as pip expects of a wheel's files
            zf.writestr(entry, file.data, zipfile.ZIP_DEFLATED)
    partial.replace(path)  # whole or not at all: a cached wheel is never half written
    return path
