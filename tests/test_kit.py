"""The student kit: built once per session, it holds no solution or hidden test, gives the
server's verdicts and diagnoses on the public tests, and runs without POSIX-only modules."""

from __future__ import annotations

import ast
import importlib
import json
import re
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from grader.code import EXERCISES, build_inputs, grade_source, load_spec
from grader.code.plan import plan
from grader.kit.build import PACKAGE, build_kit
from grader.kit.extract import KitBuildError, Part, copy_definitions
from grader.sandbox import DEFAULT_LIMITS, SandboxLimits

ROOT = Path(__file__).resolve().parents[1]
SUBMISSIONS = ROOT / "tests" / "submissions"


@pytest.fixture(scope="session")
def kit_wheel(tmp_path_factory) -> Path:
    return build_kit(EXERCISES, tmp_path_factory.mktemp("kit"))


@pytest.fixture(scope="session")
def kit_dir(kit_wheel, tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("kit_unpacked")
    with zipfile.ZipFile(kit_wheel) as zf:
        zf.extractall(target)
    return target


@pytest.fixture(scope="session")
def kit(kit_dir):
    sys.path.insert(0, str(kit_dir))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(kit_dir))


@pytest.fixture(scope="session")
def kit_local(kit):
    return importlib.import_module(f"{PACKAGE}.local")


def _kit_texts(kit_dir: Path) -> dict[str, bytes]:
    return {p.relative_to(kit_dir).as_posix(): p.read_bytes()
            for p in kit_dir.rglob("*") if p.is_file()}


# ----------------------------------------------------------------------- what is not in it
def _function_bodies(path: Path) -> dict[str, str]:
    """Each top-level function's body (docstring left out), one line of code per item."""
    text = path.read_text()
    tree = ast.parse(text)
    out = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            body = [s for s in node.body if not (isinstance(s, ast.Expr)
                                                 and isinstance(s.value, ast.Constant))]
            out[node.name] = [ast.get_source_segment(text, s).strip() for s in body]
    return out


def test_the_kit_holds_no_reference_source(kit_dir):
    texts = b"\n".join(_kit_texts(kit_dir).values()).decode("utf-8", errors="replace")
    bodies = _function_bodies(ROOT / "grader" / "reference.py")
    assert len(bodies) >= 10
    for name, lines in bodies.items():
        code = [line for line in lines if len(line) > 25]  # a `return x` may occur anywhere
        found = [line for line in code if line in texts]
        assert not found, f"reference.{name}'s code is in the kit: {found[:2]}"
    assert "reference" not in {n.split(".")[-1] for n in re.findall(r"import ([\w.]+)", texts)}
    assert not re.search(r"^\s*(from|import) grader\b", texts, re.MULTILINE)


def _hidden_cases():
    for exercise in EXERCISES:
        for function in load_spec(exercise).functions:
            for case in function.cases:
                if not case.public:
                    yield function.name, case


def _telltale(array: np.ndarray) -> bytes | None:
    """Four values in a row from around the largest one: bytes no other array has by chance."""
    flat = np.ascontiguousarray(array, dtype=np.float64).reshape(-1)
    start = min(int(np.argmax(np.abs(flat))), max(flat.size - 4, 0))
    chunk = flat[start:start + 4]
    return chunk.tobytes() if chunk.size == 4 and np.unique(chunk).size == 4 else None


def test_the_telltale_finds_a_shipped_public_input(kit_dir):
    everything = b"\n".join(_kit_texts(kit_dir).values())
    function = load_spec("conv_step_by_step").function("conv_forward")
    public = next(c for c in function.cases if c.public)
    assert _telltale(build_inputs("conv_forward", public)[0][0]) in everything


def test_the_kit_holds_no_hidden_test(kit_dir):
    files = _kit_texts(kit_dir)
    everything = b"\n".join(files.values())
    arrays = [np.load(kit_dir / name, allow_pickle=False) for name in files
              if name.endswith(".npz")]
    shipped = [a[k] for a in arrays for k in a.files]
    hidden = list(_hidden_cases())
    assert len(hidden) >= 10
    for func, case in hidden:
        assert case.name.encode() not in everything, case.name
        args, _ = build_inputs(func, case)
        for value in args:
            if isinstance(value, np.ndarray) and _telltale(value) is not None:
                assert _telltale(value) not in everything, case.name
                same = [s for s in shipped if s.shape == value.shape and np.array_equal(s, value)]
                assert not same, f"a hidden input of {func} ({case.name}) is in the kit"
    # and the hidden tests' expected outputs are not either
    for exercise in EXERCISES:
        names = tuple(f.name for f in load_spec(exercise).functions)
        for p in plan(exercise, names, True, DEFAULT_LIMITS)[0]:
            if p.hidden:
                for _, expected in p.expected:  # (not the shipped float64 arrays' bytes)
                    if _telltale(expected) is not None:
                        assert _telltale(expected) not in everything, p.case.name


def _quiz_answers() -> list[str]:
    answers = []
    for path in (ROOT / "problems").rglob("*.y*ml"):
        for line in path.read_text().splitlines():
            match = re.match(r"\s*answer:\s*(.+)$", line)
            if match and len(match.group(1).strip("\"' ")) >= 12:
                answers.append(match.group(1).strip("\"' "))
    return answers


def test_the_kit_holds_no_problem_bank_or_quiz_answer(kit_dir):
    files = _kit_texts(kit_dir)
    assert not [n for n in files if n.endswith((".yaml", ".yml"))]
    everything = b"\n".join(files.values()).decode("utf-8", errors="replace")
    answers = _quiz_answers()
    assert len(answers) >= 20
    assert not [a for a in answers if a in everything]


def test_the_kit_wheel_is_pure_python_and_needs_numpy_only(kit_wheel):
    with zipfile.ZipFile(kit_wheel) as zf:
        names = zf.namelist()
        metadata = zf.read(next(n for n in names if n.endswith("METADATA"))).decode()
        record = zf.read(next(n for n in names if n.endswith("RECORD"))).decode()
    assert kit_wheel.name.endswith("-py3-none-any.whl")
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist")]
    assert [r for r in requires if "extra ==" not in r] == ["Requires-Dist: numpy>=1.24"]
    assert not [n for n in names if n.endswith((".so", ".pyd", ".dll"))]
    assert all(n in record for n in names)


def test_a_grader_change_the_kit_cannot_follow_fails_the_build(tmp_path):
    with pytest.raises(KitBuildError, match="no top-level definition of not_there"):
        copy_definitions(Part("grader.code.verdicts", ("not_there",)))
    # only what the roots use is copied, with only the imports it needs
    imports, body = copy_definitions(Part("grader.code.functions", ("saved_items",)))
    assert "def saved_items" in body and "SAVED_ITEMS" in body and "reference" not in body
    assert "reference" not in imports


def test_imports_inside_a_copied_function_are_rewritten_for_the_kit():
    """grade.py's _too_large imports the sandbox's outcome types only when called (a fresh
    file never needs them): the kit's copy imports them from its own ``_core``."""
    imports, body = copy_definitions(Part("grader.code.grade", ("_too_large",)), ".grade")
    assert "    from .sandbox import ChildStatus, OutcomeKind, RawOutcome\n" in body
    assert "grader" not in imports + body.replace("the grader", "")
    compile(imports + body, "copy", "exec")


# ------------------------------------------------------------- the server's verdicts, offline
def _variants() -> list[tuple[str, str, list[str] | None]]:
    """Every file as it is (all functions), and each bug of the buggy files (their functions)."""
    variants = [(p.name, p.read_text(), None) for p in sorted(SUBMISSIONS.glob("*.py"))]
    for path in sorted(SUBMISSIONS.glob("buggy_*.py")):
        text = path.read_text()
        defined = [n.name for n in ast.parse(text).body if isinstance(n, ast.FunctionDef)]
        for bug in sorted(set(re.findall(r'BUG == "(\w+)"', text))):
            variants.append((f"{path.name}:{bug}",
                             text.replace('BUG = "none"', f'BUG = "{bug}"'), defined))
    return variants


def _verdicts(report) -> list:
    return [(f.name, str(f.status), [(t.name, str(t.verdict), t.diagnosis, t.points)
                                     for t in f.tests]) for f in report.functions]


def _exercise(text: str) -> str:
    return "convolution_basics" if "def correlate1d" in text else "conv_step_by_step"


def test_the_kit_gives_the_servers_verdicts_and_diagnoses(kit_local):
    variants = _variants()
    assert len(variants) >= 25
    with ThreadPoolExecutor(max_workers=3) as pool:
        kit_reports = list(pool.map(lambda v: kit_local.grade(v[1], _exercise(v[1]), v[2]),
                                    variants))
    named = 0
    for (name, text, functions), kit_report in zip(variants, kit_reports, strict=True):
        server = grade_source(text, exercise=_exercise(text), include_hidden=False,
                              functions=functions, own_code=True)
        assert _verdicts(kit_report) == _verdicts(server), name
        named += sum(t.diagnosis is not None for f in server.functions for t in f.tests)
    assert named >= 15  # the comparison covers named bugs, not only passes


def test_the_kit_says_hidden_tests_exist_and_run_on_the_server(kit_local):
    report = kit_local.grade((SUBMISSIONS / "correct_vectorized.py").read_text(),
                             "conv_step_by_step", ["conv_forward"])
    assert all(t.passed and not t.hidden for f in report.functions for t in f.tests)
    assert any(re.match(r"\d+ hidden tests? of these functions runs? only on the server", w)
               for w in report.warnings)


def test_the_kit_stops_an_endless_loop_and_a_memory_hog(kit_local):
    source = ("import numpy as np\n\ndef zero_pad(X, pad):\n    while True:\n        pass\n\n"
              "def conv_single_step(a, W, b):\n    return np.ones(10**11).sum()\n")
    report = kit_local.grade(source, "conv_step_by_step", ["zero_pad", "conv_single_step"],
                             limits=SandboxLimits(wall_s=0.5))
    zero_pad, step = report.functions
    assert [str(t.verdict) for t in zero_pad.tests][:2] == ["timeout", "timeout"]
    assert "did not return within" in zero_pad.tests[0].message
    assert "an earlier test of zero_pad ran out of time" in zero_pad.tests[1].message
    assert {str(t.verdict) for t in step.tests} == {"memory limit"}


def test_check_in_a_notebook_reads_the_sessions_cells(kit):
    cells = ["", "import numpy as np", "def zero_pad(X, pad):\n    return X", "zero_pad(1, 2)",
             "def zero_pad(X, pad):\n    return np.pad(X, ((0, 0), (pad, pad), (pad, pad), "
             "(0, 0)))"]
    namespace = {"In": cells, "get_ipython": lambda: None}
    result = kit.check("zero_pad", namespace=namespace)
    assert result.passed  # the last definition counts, as in the notebook's namespace
    html = result._repr_html_()
    assert "<table>" in html and "zero_pad" in html and "pass" in html
    wrong = kit.check("zero_pad", namespace={"In": cells[:4], "get_ipython": lambda: None})
    assert not wrong.passed
    assert "wrong shape" in wrong._repr_html_() and "wrong shape" in repr(wrong)


def test_the_html_table_escapes_student_text(kit):
    cells = ["def zero_pad(X, pad):\n    raise ValueError('<script>x</script>')"]
    result = kit.check("zero_pad", namespace={"In": cells, "get_ipython": None})
    html = result._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html


# ------------------------------------------------------------------------- terminal, portable
def _run_kit(kit_dir: Path, *args: str, env_extra: dict | None = None,
             cwd: Path | None = None) -> subprocess.CompletedProcess:
    import os

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [*(env_extra or {}).get("PREPEND", []), str(kit_dir)])}
    return subprocess.run([sys.executable, "-m", PACKAGE, *args], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=120)


BLOCKER = '''
import importlib.abc, os, sys
POSIX_ONLY = {"resource", "fcntl", "termios", "pwd", "grp", "posix_spawn", "pty"}
class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in POSIX_ONLY:
            raise ModuleNotFoundError(f"No module named {name!r} (hidden by the test)")
for name in ("fork", "forkpty", "setsid", "setrlimit", "killpg", "setresuid"):
    if hasattr(os, name):
        delattr(os, name)
sys.meta_path.insert(0, Blocker())
'''


def test_the_kit_runs_with_posix_only_modules_hidden(kit_dir, tmp_path):
    (tmp_path / "sitecustomize.py").write_text(BLOCKER)
    notebook = tmp_path / "mine.ipynb"
    cells = [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
              "source": (SUBMISSIONS / "correct_vectorized.py").read_text()},
             {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
              "source": "%matplotlib inline\nprint(zero_pad(1, 2))"}]
    notebook.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                                    "cells": cells}))
    done = _run_kit(kit_dir, "check", str(notebook), "--function", "zero_pad", "--json",
                    env_extra={"PREPEND": [str(tmp_path)]})
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [f["status"] for f in report["functions"]] == ["passed"]
    probe = subprocess.run([sys.executable, "-c", "import resource"], capture_output=True,
                           env={"PYTHONPATH": str(tmp_path)}, text=True)
    assert "hidden by the test" in probe.stderr  # the blocker itself works


def test_the_kit_command_exit_codes_and_messages(kit_dir, tmp_path):
    buggy = tmp_path / "mine.py"
    buggy.write_text((SUBMISSIONS / "buggy_conv_forward.py").read_text().replace(
        'BUG = "none"', 'BUG = "flip"'))
    done = _run_kit(kit_dir, "check", str(buggy), "--function", "conv_forward")
    assert done.returncode == 1
    assert "kernel flipped" in done.stdout and "wrong values" in done.stdout
    missing = _run_kit(kit_dir, "check", str(tmp_path / "nope.py"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    unknown = _run_kit(kit_dir, "check", str(buggy), "--function", "conv_fwd")
    assert unknown.returncode == 2 and "has no function 'conv_fwd'" in unknown.stderr
    stubs = _run_kit(kit_dir, "stubs", str(tmp_path / "start"))
    assert stubs.returncode == 0
    assert (tmp_path / "start" / "conv_step_by_step.py").read_text() == (
        ROOT / "exercises" / "conv_step_by_step.py").read_text()


def test_the_kit_source_has_no_fork_and_guards_resource(kit_dir):
    for path in (kit_dir / PACKAGE).rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ("fork", "forkpty"):
                pytest.fail(f"{path.name} calls os.{node.attr}")
        top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        names = {a.name for n in top for a in n.names} | {n.module for n in top
                                                           if isinstance(n, ast.ImportFrom)}
        assert not names & {"resource", "fcntl", "termios", "pwd", "grp"}, path.name


def test_spec_version_and_kit_version_follow_the_spec(tmp_path, monkeypatch):
    from grader.kit import build

    before = build.kit_version(EXERCISES)
    assert before == build.kit_version(EXERCISES)
    fake = tmp_path / "specs"
    fake.mkdir()
    for name in EXERCISES:
        text = (ROOT / "exercises" / "specs" / f"{name}.yaml").read_text()
        (fake / f"{name}.yaml").write_text(text + "\n# changed\n")
    monkeypatch.setattr("grader.code.spec.SPECS_DIR", fake)
    assert build.kit_version(EXERCISES) != before


def _fresh_variants(exercise: str) -> list[tuple[str, str]]:
    """The handed-out file, and fresh files a student makes of it: a function deleted, the
    docstrings gone, ``raise NotImplementedError("...")`` with a message."""
    stub = (ROOT / "exercises" / f"{exercise}.py").read_text()
    tree = ast.parse(stub)
    functions = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    lines = stub.splitlines(keepends=True)
    last = functions[-1]
    first_line = min([last.lineno, *(d.lineno for d in last.decorator_list)])
    without_last = "".join(lines[:first_line - 1] + lines[last.end_lineno:])
    bare = "import numpy as np\n" + "".join(
        f"def {f.name}({ast.unparse(f.args)}):\n    raise NotImplementedError('todo')\n\n"
        for f in functions[:2])
    return [("as handed out", stub), ("last function deleted", without_last),
            ("two bare functions", bare)]


@pytest.mark.parametrize("exercise", EXERCISES)
@pytest.mark.parametrize("include_hidden", [False, True], ids=["public", "with hidden"])
def test_a_fresh_exercise_file_gets_the_same_report_without_running(exercise, include_hidden,
                                                                     monkeypatch):
    import grader.code.grade as grade
    from grader.code.fresh import unwritten_functions

    for label, text in _fresh_variants(exercise):
        assert unwritten_functions(text) is not None, label  # nothing to run
        fast = grade_source(text, exercise=exercise, include_hidden=include_hidden,
                            own_code=True)
        with monkeypatch.context() as patched:  # the same file, run in the sandbox
            patched.setattr(grade, "unwritten_functions", lambda text: None)
            ran = grade_source(text, exercise=exercise, include_hidden=include_hidden,
                               own_code=True)
        assert fast.functions == ran.functions, label
        assert (fast.score, fast.max_score) == (ran.score, ran.max_score), label
        assert {str(t.verdict) for f in fast.functions for t in f.tests} == {"not attempted"}


def test_only_a_fresh_file_is_judged_without_running():
    from grader.code.fresh import unwritten_functions

    stub = (ROOT / "exercises" / "conv_step_by_step.py").read_text()
    assert unwritten_functions(stub) == {f.name for f in load_spec("conv_step_by_step").functions}
    for changed in (stub + "\nprint(1)\n",  # a statement runs
                    stub.replace("raise NotImplementedError", "raise ValueError", 1),
                    stub.replace("raise NotImplementedError", "return 0", 1),
                    stub + "\nimport scipy\n",  # an import that could fail
                    stub + "\ndef NotImplementedError():\n    raise NotImplementedError\n",
                    stub.replace("def zero_pad(X, pad):", "def zero_pad(X, pad=print()):"),
                    stub + "\ndef broken(:\n",
                    stub + '\n"""' + "x" * (512 * 1024) + '"""\n'):  # too large to run
        assert unwritten_functions(changed) is None


@pytest.mark.parametrize("exercise", EXERCISES)
def test_the_kit_judges_a_fresh_file_as_the_server_without_numpy(exercise, kit):
    """The kit's check of a fresh file imports neither NumPy nor the verdict ladder."""
    stub = ROOT / "exercises" / f"{exercise}.py"
    script = ("import json, sys\nfrom stride_kit.local import grade\n"
              f"report = grade(open({str(stub)!r}).read(), {exercise!r})\n"
              "heavy = sorted(m for m in sys.modules if m == 'numpy' or m.endswith(("
              "'.verdicts', '.shipped', '.diagnosis', '.plan')))\n"
              "print(json.dumps({'heavy': heavy, 'report': report.to_json()}))\n")
    root = Path(kit.__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"}, check=True)
    result = json.loads(done.stdout)
    assert result["heavy"] == []
    server = grade_source(stub.read_text(), exercise=exercise, include_hidden=False,
                          own_code=True)
    assert result["report"]["functions"] == server.to_json()["functions"]


def test_the_kit_applies_the_exercises_bans_as_the_server(kit_local):
    source = ("import numpy as np\n\ndef convolve1d(x, k, mode='full', pad=0):\n"
              "    return np.convolve(np.pad(x, pad), k, mode)\n")
    kit_report = kit_local.grade(source, "convolution_basics", ["convolve1d"])
    server = grade_source(source, exercise="convolution_basics", include_hidden=False,
                          functions=["convolve1d"], own_code=True)
    assert _verdicts(kit_report) == _verdicts(server)
    assert {str(t.verdict) for t in kit_report.functions[0].tests} == {"banned helper"}
    assert "numpy.convolve is not allowed here" in kit_report.functions[0].tests[0].message
