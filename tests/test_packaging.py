"""The main package installs properly: the wheel holds the templates, static files, bundled
problems, exercises and migrations; installed alone, outside the checkout, `grader` finds its
bank and says which, `python -m grader` works, and `grader lint`, `grader check` and the demo
server run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_python_dash_m_grader_runs_the_cli():
    done = subprocess.run([sys.executable, "-m", "grader", "--version"], capture_output=True,
                          text=True, cwd=ROOT)
    assert done.returncode == 0 and "grader, version" in done.stdout


def test_the_bank_is_the_current_folders_or_bundled_and_named(tmp_path, monkeypatch):
    runner = CliRunner()
    monkeypatch.chdir(tmp_path)  # no problems/ here: the bundled bank
    result = runner.invoke(main, ["list"])
    assert result.exit_code == 0
    assert f"bank: {ROOT / 'problems'}" in result.stderr
    (tmp_path / "problems").mkdir()
    shutil.copy(ROOT / "problems" / "conv1d.yaml", tmp_path / "problems")
    result = runner.invoke(main, ["list", "--json"])  # JSON output stays JSON
    assert result.exit_code == 0 and result.stderr == ""
    result = runner.invoke(main, ["list"])
    assert f"bank: {tmp_path / 'problems'}" in result.stderr
    assert "conv1d" in result.stdout
    other = tmp_path / "elsewhere"
    shutil.copytree(ROOT / "problems", other)
    result = runner.invoke(main, ["list", "--bank", str(other)])
    assert f"bank: {other}" in result.stderr


# What a check of a stub never needs: the bank's machinery, the web side, notebooks, the kit
# builder, the quiz answers, (its output being a pipe here) rich's progress bars, and, since a
# fresh file is judged from the spec's test slots, NumPy, the reference, the plan, the verdict
# ladder, the diagnosis and the sandbox's runner.
NEVER_FOR_A_STUB = ("pydantic", "jinja2", "grader.bank", "grader.lint", "grader.answers",
                    "grader.kit", "flask", "sqlalchemy", "alembic", "nbformat", "scipy",
                    "rich.progress", "rich.live", "numpy", "grader.reference",
                    "grader.code.plan", "grader.code.functions", "grader.code.verdicts",
                    "grader.code.diagnosis", "grader.code.matching", "grader.sandbox.runner",
                    "grader.sandbox.outcome")


@pytest.mark.parametrize("options", [["--json"], []], ids=["json", "table"])
def test_grader_check_of_a_stub_never_imports_the_bank_machinery(options):
    code = ("import sys; from grader.cli import main\n"
            f"try:\n    main(['check', 'exercises/conv_step_by_step.py', *{options!r}])\n"
            "except SystemExit: pass\n"
            f"print(sorted(m for m in {NEVER_FOR_A_STUB!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT)
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stderr



def _check_with_a_recording_bwrap(tmp_path, path: str, *options: str) -> tuple[str, bool]:
    """``grader check`` with a bubblewrap that only notes it was started (and then fails)."""
    marker = tmp_path / "started"
    fake = tmp_path / "bwrap"
    fake.write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
    fake.chmod(0o755)
    done = subprocess.run([sys.executable, "-m", "grader", "check", path, "--json", *options],
                          capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "STRIDE_BWRAP": str(fake)})
    return done.stdout, marker.exists()


def test_grader_check_of_a_stub_never_starts_the_bubblewrap_probe(tmp_path):
    out, started = _check_with_a_recording_bwrap(tmp_path, "exercises/conv_step_by_step.py")
    assert not started and '"warnings": []' in out and '"not attempted"' in out
    # a file that runs does probe, and says it ran with limits only when the probe fails
    out, started = _check_with_a_recording_bwrap(
        tmp_path, "tests/submissions/correct_vectorized.py", "--function", "zero_pad")
    assert started and "resource limits only" in out

@pytest.fixture(scope="session")
def main_wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # built from a copy: setuptools writes build/ and *.egg-info beside the sources
    source = out / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "*.egg-info", "instance", ".*cache", ".hypothesis",
        "__pycache__", "tests"))
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(source),
                           "-w", str(out)], capture_output=True, text=True)

    assert done.returncode == 0, done.stderr[-2000:]
    return next(out.glob("stride-*.whl"))


@pytest.mark.slow
def test_the_wheel_holds_the_data_the_code_reads(main_wheel):
    names = set(zipfile.ZipFile(main_wheel).namelist())
    for expected in ("web/templates/base.html", "web/static/style.css",
                     "grader/_data/problems/conv1d.yaml",
                     "grader/_data/exercises/conv_step_by_step.py",
                     "grader/_data/exercises/specs/conv_step_by_step.yaml",
                     "grader/_data/migrations/env.py", "grader/_data/migrations/script.py.mako",
                     "grader/sandbox/zygote.py", "grader/_data/kit/stride_kit/childmain.py",
                     "server.py"):
        assert expected in names, expected
    assert any(n.startswith("grader/_data/problems/sets/") for n in names)
    assert any(n.startswith("grader/_data/migrations/versions/") for n in names)
    # nothing but the code at the top of site-packages: the data folders live in grader/_data/
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"grader", "web", "server.py"}, top


def test_one_function_finds_the_data_checkout_or_installed(tmp_path, monkeypatch):
    from grader import data_root as module

    assert module.data_root() == ROOT  # running from the checkout
    installed = tmp_path / "grader"
    (installed / "_data").mkdir(parents=True)
    monkeypatch.setattr(module, "_PACKAGE", installed)
    module.data_root.cache_clear()
    try:
        assert module.data_root() == installed / "_data"  # an installed wheel's package data
    finally:
        monkeypatch.undo()
        module.data_root.cache_clear()


def _fresh_venv(where: Path, wheel: Path) -> Path:
    """A new venv with only the wheel installed; its dependencies are borrowed (read-only) from
    this venv's site-packages, after its own, so the installed copy is the one that runs."""
    venv.create(where, with_pip=False, symlinks=True)  # as `python -m venv` makes it on Linux
    python = where / "bin" / "python"
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                           "--no-deps", "--no-index", str(wheel)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], capture_output=True, text=True).stdout.strip()
    Path(site, "borrowed_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return where / "bin"


@pytest.mark.slow
def test_a_fresh_venv_with_only_the_wheel_lints_checks_and_serves(main_wheel, tmp_path):
    bin_dir = _fresh_venv(tmp_path / "venv", main_wheel)
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    env["STRIDE_INSTANCE_PATH"] = str(tmp_path / "instance")

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(list(args), capture_output=True, text=True, cwd=work, env=env,
                              timeout=300)

    where = run(str(bin_dir / "python"), "-c", "import grader; print(grader.__file__)")
    assert where.stdout.startswith(str(tmp_path / "venv")), where.stdout + where.stderr
    lint = run(str(bin_dir / "grader"), "lint", "--variants", "3", "--jobs", "1")
    assert lint.returncode == 0, lint.stdout[-2000:] + lint.stderr[-2000:]
    assert "bank: " + str(tmp_path / "venv") in lint.stderr and "_data" in lint.stderr
    shutil.copy(ROOT / "exercises" / "conv_step_by_step.py", work / "mine.py")
    stub = run(str(bin_dir / "grader"), "check", "mine.py")
    assert stub.returncode == 1 and "not attempted" in stub.stdout, stub.stderr
    shutil.copy(ROOT / "tests" / "submissions" / "correct_vectorized.py", work / "done.py")
    solved = run(str(bin_dir / "python"), "-m", "grader", "check", "done.py", "--function",
                 "zero_pad")  # in the sandbox, from the installed package's files
    assert solved.returncode == 0, solved.stdout + solved.stderr
    demo = run(str(bin_dir / "python"), "-m", "server", "--setup-demo", "--check-only")
    assert demo.returncode == 0 and "Stride is ready to serve." in demo.stdout, demo.stderr
    page = run(str(bin_dir / "python"), "-c", "import server; app = server.create_app(); "
               "r = app.test_client().get('/practice/'); print(r.status_code)")
    assert page.stdout.strip().splitlines()[-1] == "200", page.stderr[-2000:]

    # the instructor builds the kit from the installed package; a student installs it alone
    built = run(str(bin_dir / "grader"), "kit", "--out", str(work / "dist"))
    assert built.returncode == 0, built.stderr
    kit_wheel = next((work / "dist").glob("stride_cnn_kit-*.whl"))
    student = _fresh_venv(tmp_path / "student", kit_wheel)
    checked = run(str(student / "stride-kit"), "check", "mine.py")
    assert checked.returncode == 1 and "not attempted" in checked.stdout, checked.stderr
    notebook = run(str(student / "python"), "-c", "from stride_kit import check; print(check("
                   "'zero_pad', namespace={'get_ipython': 1, 'In': [open('done.py').read()]})"
                   ".passed)")
    assert notebook.stdout.strip() == "True", notebook.stderr[-2000:]

