"""Students' notebooks and course habits: what of a file runs, missing imports, template stubs.

Every complete course-style solution in ``tests/submissions/course_*.py`` gets full marks as
the ``.py``, as a course-style ``.ipynb`` built here with nbformat (the course's first cell of
imports and magics, a test cell after each function) and as its nbconvert-style export.
"""

from __future__ import annotations

import ast
import csv
import io
import json
import secrets
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grader.cli import main
from grader.code import grade_source, student_view
from grader.code.source import (
    line_label,
    notebook_source,
    prepare_source,
    read_submission,
    stub_functions,
)
from grader.errors import StudentCodeError
from grader.sandbox import SandboxLimits, SandboxPool

ROOT = Path(__file__).resolve().parents[1]
SUBMISSIONS = ROOT / "tests" / "submissions"
COURSE = ["course_loops.py", "course_vectorized.py"]
LIMITS = SandboxLimits(wall_s=3.0, cpu_s=20.0, memory_mb=512, import_wall_s=3.0)
FIRST_CELL = ("import numpy as np\nimport h5py\nimport matplotlib.pyplot as plt\n"
              "from public_tests import *\n\n%matplotlib inline\n%load_ext autoreload\n"
              "%autoreload 2\n")


@pytest.fixture(scope="module")
def pool():
    pool = SandboxPool(1)
    yield pool
    pool.shutdown()


def _grade(pool, source, **kwargs):
    return grade_source(source, limits=LIMITS, pool=pool, **kwargs)


def _test_cell(name: str) -> str:
    """A course-style test cell: seeded inputs, a print, the course's test helper, a plot."""
    return (f"np.random.seed(1)\nx = np.random.randn(2, 5, 5, 3)\nprint('{name} =', {name})\n"
            f"{name}_test({name})\nfig, axarr = plt.subplots(1, 2)\naxarr[0].imshow(x[0, :, :, 0])\n")


def course_notebook(py_source: str) -> str:
    """The ``.ipynb`` a student of the course would upload for these functions."""
    body = [n for n in ast.parse(py_source).body
            if not isinstance(n, (ast.Import, ast.ImportFrom, ast.Expr))]
    cells = [new_markdown_cell("# Convolutional Neural Networks: Step by Step"),
             new_code_cell(FIRST_CELL), new_code_cell("!pip install h5py\nnp.random.seed(1)")]
    for node in body:
        cells.append(new_code_cell(ast.get_source_segment(py_source, node)))
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            cells.append(new_markdown_cell(f"Test `{node.name}`:"))
            cells.append(new_code_cell(_test_cell(node.name)))
    if "sliding_window_view" in py_source:
        cells[1] = new_code_cell(
            FIRST_CELL + "from numpy.lib.stride_tricks import sliding_window_view\n")
    return nbformat.writes(new_notebook(cells=cells))


def nbconvert_export(notebook: str) -> str:
    """What ``jupyter nbconvert --to script`` writes: ``# In[n]:`` cells, magics as calls."""
    out = ["#!/usr/bin/env python\n# coding: utf-8\n"]
    count = 0
    for cell in nbformat.reads(notebook, as_version=4).cells:
        if cell.cell_type == "markdown":
            out.append("\n".join("# " + line for line in cell.source.splitlines()) + "\n")
            continue
        count += 1
        lines = []
        for line in cell.source.splitlines():
            if line.startswith("%"):
                magic, _, arg = line[1:].partition(" ")
                line = f"get_ipython().run_line_magic({magic!r}, {arg!r})"
            elif line.startswith("!"):
                line = f"get_ipython().system({line[1:]!r})"
            lines.append(line)
        out.append(f"# In[{count}]:\n\n\n" + "\n".join(lines) + "\n\n")
    return "\n".join(out)


def _forms(name: str) -> dict[str, str]:
    py = (SUBMISSIONS / name).read_text()
    notebook = course_notebook(py)
    return {"py": py, "ipynb": notebook, "export": nbconvert_export(notebook)}


@pytest.mark.parametrize("form", ["py", "ipynb", "export"])
@pytest.mark.parametrize("name", COURSE)
def test_course_solutions_get_full_marks_in_every_form(pool, name, form):
    report = _grade(pool, _forms(name)[form])
    failures = [(f.name, t.name, t.message) for f in report.functions for t in f.tests
                if not t.passed]
    assert failures == []
    assert report.score == report.max_score == 37
    missing = [w for w in report.warnings if w.startswith("Not available here")]
    assert missing == ["Not available here: h5py, matplotlib, public_tests (the grader "
                       "provides only NumPy; only a function that uses them would fail)."]
    ignored = [w for w in report.warnings if w.startswith("Ignored")]
    if form == "py":
        assert ignored == []
    else:
        # 1 seed line + 6 statements in each of the 8 test cells (+ magics as calls in exports)
        assert len(ignored) == 1 and "test cells, plots and magics" in ignored[0]


def test_the_notebook_report_says_how_many_statements_were_ignored():
    notebook = notebook_source(course_notebook((SUBMISSIONS / "course_loops.py").read_text()))
    prepared = prepare_source(notebook)
    assert prepared.notebook and prepared.skipped == 1 + 6 * 8
    assert prepared.notes()[0] == ("Ignored 49 top-level statements of the notebook: test "
                                   "cells, plots and magics (only definitions are graded).")


def test_notes_survive_the_stored_json_and_the_student_view(pool):
    report = _grade(pool, _forms("course_vectorized.py")["ipynb"], functions=["zero_pad"])
    stored = report.to_json(audience="staff")
    assert student_view(stored)["warnings"] == list(report.warnings)
    hidden = [t for f in student_view(stored)["functions"] for t in f["tests"] if t["hidden"]]
    assert hidden and all(t["name"].startswith("hidden test ") for t in hidden)


def test_definitions_stay_and_everything_else_goes_with_line_numbers_kept():
    source = ("# In[1]:\nimport numpy as np\nEPS = 1e-8\nSHAPE: tuple = (2, 3)\n"
              "x = np.zeros(3)\nprint(x)\n\n# In[2]:\ntry:\n    import json\nexcept ImportError:\n"
              "    json = None\nclass Layer:\n    pass\ndef f(a):\n    return a + EPS\nf(x)\n")
    prepared = prepare_source(source)
    kept = prepared.text.splitlines()
    assert len(kept) == len(source.splitlines())
    assert kept[2] == "EPS = 1e-8" and kept[3].startswith("SHAPE")
    assert kept[4] == kept[5] == "" and kept[-1] == ""
    assert "class Layer:" in kept and "    return a + EPS" in kept and "    import json" in kept
    assert prepared.skipped == 3 and prepared.missing == ()


def test_a_plain_py_file_runs_its_top_level_code_as_written():
    source = "import numpy as np\nx = np.zeros(3)\nprint(x)\n"
    prepared = prepare_source(source)
    assert prepared.text == source and not prepared.notebook and prepared.notes() == ()


def test_magics_and_shell_lines_never_break_a_notebook():
    notebook = nbformat.writes(new_notebook(cells=[
        new_code_cell("%matplotlib inline\n!pip install h5py\nimport numpy as np"),
        new_code_cell("%%time\nslow_thing()"),
        new_code_cell("def f(x):\n    !echo inside\n    return x"),
        new_code_cell("f?")]))
    text = notebook_source(notebook)
    ast.parse(text)  # the magics are gone, the function body is still valid
    assert "%" not in text and "!" not in text and "slow_thing" not in text
    assert "    pass\n    return x" in text


@pytest.mark.parametrize("data, message", [
    ("this is not json", "not valid JSON"),
    ('{"nbformat": 99, "nbformat_minor": 0, "cells": []}', "nbformat version 4"),
    (nbformat.writes(new_notebook(cells=[new_markdown_cell("only words"), new_code_cell("  ")])),
     "has no code cells"),
])
def test_an_unreadable_notebook_gets_a_clear_message(data, message):
    with pytest.raises(StudentCodeError, match=message):
        read_submission(data, "conv.ipynb")


def test_a_notebook_is_recognised_without_its_name(pool):
    notebook = _forms("course_loops.py")["ipynb"]
    assert "def zero_pad" in read_submission(notebook) and "def zero_pad" in read_submission(
        notebook, "pasted.txt")
    report = _grade(pool, notebook, functions=["zero_pad"])
    assert report.functions[0].status == "passed" and report.score == report.max_score > 0


def test_a_function_that_uses_a_missing_module_gets_one_clear_message(pool):
    source = ("import numpy as np\nimport matplotlib.pyplot as plt\nfrom scipy.signal import "
              "convolve2d\n\n\ndef zero_pad(X, pad):\n    plt.imshow(X[0])\n    return X\n\n\n"
              "def conv_single_step(a_slice_prev, W, b):\n    return np.sum(a_slice_prev * W) + "
              "b.item()\n")
    report = _grade(pool, source, functions=["zero_pad", "conv_single_step"])
    zero_pad, single = report.functions
    assert single.status == "passed"
    assert zero_pad.status == "failed"
    for test in zero_pad.tests:
        assert test.verdict == "exception"
        text = test.staff_message or test.message
        if not test.hidden:
            assert ("ModuleNotFoundError in zero_pad: matplotlib is not available here: the "
                    "grader provides only NumPy") in text
        # the traceback shows the student's line, never the stand-in's (hidden tests show no
        # trace to students at all, so staff see it)
        assert "line 7, in zero_pad: plt.imshow(X[0])" in text
        assert "__stride_missing__" not in text and "__stride_missing__" not in test.message
    assert [w for w in report.warnings if "Not available" in w] == [
        "Not available here: matplotlib, scipy (the grader provides only NumPy; only a "
        "function that uses them would fail)."]


def test_a_stand_in_raises_only_when_used_and_names_the_module():
    prepared = prepare_source("import os, h5py as h\nfrom . import helpers\nimport PIL.Image\n"
                              "def f():\n    return h.File('x')\n")
    assert prepared.missing == ("h5py", ".", "PIL")
    assert len(prepared.text.splitlines()) == 5
    namespace: dict = {}
    exec(compile(prepared.text, "student.py", "exec"), namespace)  # our own test text
    assert namespace["os"].__name__ == "os"
    with pytest.raises(ModuleNotFoundError, match="h5py is not available here: the grader "
                       "provides only NumPy"):
        namespace["f"]()
    with pytest.raises(ModuleNotFoundError, match="PIL is not available"):
        namespace["PIL"]()


def test_imports_inside_functions_get_stand_ins_too():
    source = ("from __future__ import annotations\nimport numpy as np\n\n\n"
              "def f(x):\n    import matplotlib.pyplot as plt\n    from h5py import File\n"
              "    return np.sum(x)\n\n\n"
              "def g(x):\n    try:\n        import PIL.Image\n    except ImportError:\n"
              "        pass\n    return PIL.Image.open(x)\n\n\n"
              "def h(x):\n    import os\n    return os.sep\n")
    prepared = prepare_source(source)
    assert prepared.missing == ("matplotlib", "h5py", "PIL")
    assert len(prepared.text.splitlines()) == len(source.splitlines())
    namespace: dict = {}
    exec(compile(prepared.text, "student.py", "exec"), namespace)  # our own test text
    assert namespace["f"]([1.0, 2.0]) == 3.0
    assert namespace["h"](None)
    with pytest.raises(ModuleNotFoundError, match="PIL is not available here: the grader "
                       "provides only NumPy"):
        namespace["g"]("picture.png")


def test_a_function_importing_a_missing_module_inside_it_grades_and_names_the_module(pool):
    source = ("import numpy as np\n\n\ndef zero_pad(X, pad):\n    import matplotlib.pyplot "
              "as plt\n    return np.pad(X, ((0, 0), (pad, pad), (pad, pad), (0, 0)))\n\n\n"
              "def conv_single_step(a_slice_prev, W, b):\n    import matplotlib.pyplot as plt\n"
              "    plt.imshow(W[:, :, 0])\n    return np.sum(a_slice_prev * W) + b.item()\n")
    report = _grade(pool, source, functions=["zero_pad", "conv_single_step"],
                    include_hidden=False)
    zero_pad, single = report.functions
    assert zero_pad.status == "passed"
    [test, *_] = single.tests
    assert test.verdict == "exception"
    assert "matplotlib is not available here: the grader provides only NumPy" in test.message
    assert "line 11, in conv_single_step: plt.imshow(W[:, :, 0])" in test.message
    assert "__stride_missing__" not in test.message


def _notebook(*cells) -> str:
    return nbformat.writes(new_notebook(cells=[new_markdown_cell("# Convolution"), *cells]))


def test_a_notebook_traceback_names_the_cell_and_the_line_in_it(pool):
    notebook = _notebook(new_code_cell(FIRST_CELL), new_markdown_cell("## zero_pad"),
                         new_code_cell("def zero_pad(X, pad):\n    X_pad = X\n"
                                       "    return X_pad[pad:-pad] + undefined_name\n"))
    report = _grade(pool, notebook, functions=["zero_pad"], include_hidden=False)
    message = report.functions[0].tests[0].message
    assert "NameError in zero_pad" in message
    assert "  cell 4, line 3, in zero_pad: return X_pad[pad:-pad] + undefined_name" in message


def test_a_notebook_syntax_error_names_the_cell_and_fails_only_that_cells_functions(pool):
    notebook = _notebook(new_code_cell("import numpy as np"),
                         new_code_cell("def zero_pad(X, pad):\n    return np.pad(X,\n"),
                         new_code_cell("def distribute_value(dz, shape):\n"
                                       "    return np.full(shape, dz / (shape[0] * shape[1]))"))
    report = _grade(pool, notebook, functions=["zero_pad", "distribute_value"],
                    include_hidden=False)
    message = report.functions[0].tests[0].message
    assert message.startswith("SyntaxError in zero_pad: ")
    assert "(cell 3, line 2)" in message and "submission.py" not in message
    assert [f.status.value for f in report.functions] == ["failed", "passed"]
    assert any("Cell 3 of the notebook has a syntax error" in w for w in report.warnings)


def test_a_py_file_and_an_export_keep_their_own_line_numbers(pool):
    source = ("import numpy as np\n\n\ndef zero_pad(X, pad):\n    X_pad = X\n"
              "    return X_pad + undefined_name\n")
    for text, line in ((source, 6), ("# In[3]:\n\n\n" + source, 9)):
        report = _grade(pool, text, functions=["zero_pad"], include_hidden=False)
        message = report.functions[0].tests[0].message
        assert f"  line {line}, in zero_pad: return X_pad + undefined_name" in message
        assert "cell" not in message


def test_line_labels_count_every_cell_of_the_notebook():
    program = notebook_source(_notebook(new_code_cell("a = 1\nb = 2"), new_code_cell("   "),
                                        new_markdown_cell("text"), new_code_cell("c = 3")))
    lines = program.splitlines()
    assert [line_label(program, lines.index(t) + 1) for t in ("a = 1", "b = 2", "c = 3")] == [
        "cell 2, line 1", "cell 2, line 2", "cell 5, line 1"]
    assert line_label("x = 1\ny = 2\n", 2) == "line 2"


TEMPLATE = '''
import numpy as np


def zero_pad(X, pad):
    """Pad with zeros."""
    X_pad = None
    return X_pad


def create_mask_from_window(x):
    mask = None
    return mask


def conv_forward(A_prev, W, b, hparameters):
    (m, n_H_prev, n_W_prev, n_C_prev) = None
    stride = None
    Z = None
    for i in range(None):
        for h in range(None):
            vert_start = None
            Z[i, h, 0, 0] = None
    assert(Z.shape == (m, n_H, n_W, n_C))
    cache = (A_prev, W, b, hparameters)
    return Z, cache


def distribute_value(dz, shape):
    return None


def conv_single_step(a_slice_prev, W, b):
    s = np.multiply(a_slice_prev, W)
    Z = None
    return Z
'''


def test_template_placeholders_are_recognised_as_stubs():
    assert stub_functions(ast.parse(TEMPLATE)) == (
        "zero_pad", "create_mask_from_window", "conv_forward", "distribute_value")
    written = "def zero_pad(X, pad):\n    return X\n\ndef f():\n    return 1\n"
    assert stub_functions(ast.parse(written)) == ()


def test_stubs_are_not_attempted_and_a_started_function_is_an_attempt(pool):
    report = _grade(pool, TEMPLATE)
    by_name = {f.name: f for f in report.functions}
    for name in ("zero_pad", "create_mask_from_window", "conv_forward", "distribute_value"):
        assert by_name[name].status == "not attempted", name
        assert by_name[name].score == 0
        for test in by_name[name].tests:
            assert test.verdict == "not attempted" and test.diagnosis is None
            expected = (f"{name} is not written yet." if test.hidden else
                        f"{name} is not written yet: its body still has the template's "
                        "placeholders (None).")
            assert test.message == expected
    # conv_single_step has real work in it: its failure is reported, not hidden as a stub.
    assert by_name["conv_single_step"].status == "failed"


def test_check_reads_a_notebook_and_says_what_it_ignored(tmp_path):
    path = tmp_path / "Convolution_model_Step_by_Step_v1.ipynb"
    path.write_text(_forms("course_vectorized.py")["ipynb"])
    result = CliRunner().invoke(main, ["check", str(path), "--function", "zero_pad"])
    assert result.exit_code == 0, result.output
    assert "Score: 3 / 3" in result.output
    assert "Ignored 49 top-level statements" in " ".join(result.output.split())


def test_check_refuses_an_unreadable_notebook_with_exit_2(tmp_path):
    path = tmp_path / "broken.ipynb"
    path.write_text('{"cells": [')
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 2
    assert "broken.ipynb: this notebook cannot be read: it is not valid JSON" in result.output


def test_batch_grades_notebooks_beside_py_files(tmp_path):
    folder = tmp_path / "subs"
    folder.mkdir()
    forms = _forms("course_loops.py")
    (folder / "alice.ipynb").write_text(forms["ipynb"])
    (folder / "bob.py").write_text(forms["export"])
    (folder / "carol.ipynb").write_text("not a notebook")
    out = tmp_path / "scores.csv"
    # Two at a time, as `grader batch` runs by default; a row that fails shows its error.
    result = CliRunner().invoke(main, ["batch", str(folder), "--out", str(out), "--jobs", "2"])
    assert result.exit_code == 0, result.output
    rows = {r["file"]: r for r in csv.DictReader(out.open())}
    assert rows["alice.ipynb"]["score"] == rows["alice.ipynb"]["max_score"] == "37.0", (
        rows["alice.ipynb"]["error"])
    assert rows["bob.py"]["score"] == "37.0", rows["bob.py"]["error"]
    assert rows["carol.ipynb"]["score"] == "0"
    assert "not valid JSON" in rows["carol.ipynb"]["error"]


def _submit(client, **data):
    data.setdefault("request_token", secrets.token_urlsafe(32))
    return client.post("/code/conv_step_by_step", data=data, content_type="multipart/form-data")


def test_an_uploaded_notebook_is_graded_in_full(app, client, auth):
    from web.code.backend import get_pool
    from web.db import session_factory
    from web.models import CodeSubmission

    auth.login()
    notebook = _forms("course_vectorized.py")["ipynb"].encode()
    response = _submit(client, file=(io.BytesIO(notebook), "Convolution_model.ipynb"))
    assert response.status_code == 302
    get_pool(app).wait_all(timeout=120)
    with session_factory(app)() as session:
        [row] = session.query(CodeSubmission).all()
        assert row.filename == "Convolution_model.ipynb"
        assert row.source.startswith("# In[ ]: notebook cell 2\nimport numpy as np")  # its cells
        assert row.score == row.max_score == 37
        assert "Ignored 49" in json.loads(row.report_json)["warnings"][0]


@pytest.mark.parametrize("data, message", [
    (b"{not json", "not valid JSON"),
    (nbformat.writes(new_notebook(cells=[new_markdown_cell("notes only")])).encode(),
     "has no code cells"),
])
def test_an_unreadable_uploaded_notebook_is_refused_and_nothing_is_recorded(
        app, client, auth, data, message):
    from web.db import session_factory
    from web.models import CodeSubmission

    auth.login()
    response = _submit(client, file=(io.BytesIO(data), "mine.ipynb"))
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert message in page and "mine.ipynb" in page
    with session_factory(app)() as session:
        assert session.query(CodeSubmission).count() == 0
