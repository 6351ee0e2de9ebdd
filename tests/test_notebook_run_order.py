"""A function defined in several cells: the definition Jupyter ran last is the one graded.

The defining cells are ordered by their execution counts (``.ipynb``) or the ``# In[7]:``
markers of an export; a cell that never ran keeps its place in the file order.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.code.source import in_run_order, prepare_source, read_submission

ROOT = Path(__file__).resolve().parents[1]


def _notebook(*cells: tuple[int | None, str]) -> str:
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "id": f"c{n}", "metadata": {}, "outputs": [],
         "execution_count": count, "source": source}
        for n, (count, source) in enumerate(cells)]})


def _graded_value(program: str) -> object:
    """What ``f()`` returns in the program that would run."""
    namespace: dict = {}
    exec(compile(prepare_source(program).text, "<nb>", "exec"), namespace)  # noqa: S102
    return namespace["f"]()


ONE, TWO, THREE = ("def f():\n    return 1\n", "def f():\n    return 2\n",
                   "def f():\n    return 3\n")


@pytest.mark.parametrize("cells, graded, noted", [
    ([(5, ONE), (3, TWO)], 1, "cell 1 ran last (In [5])"),  # re-ran the first cell last
    ([(3, ONE), (5, TWO)], 2, None),  # file order and run order agree: no note
    ([(None, ONE), (None, TWO)], 2, None),  # outputs cleared: the file order
    ([(7, ONE), (2, TWO), (None, THREE)], 3, None),  # a cell never run keeps its place (last)
    # ... in the middle: the counted cells take the counted places in their run order
    ([(7, ONE), (None, TWO), (2, THREE)], 1, "further down in cell 2 and cell 3"),
    ([(2, ONE), (9, TWO), (4, THREE)], 2, "cell 2 ran last (In [9])"),
])
def test_the_definition_run_last_is_graded(cells, graded, noted):
    program = read_submission(_notebook(*cells), "mine.ipynb")
    assert _graded_value(program) == graded
    notes = " ".join(prepare_source(program).notes())
    if noted:
        assert noted in notes and "f is defined in several cells" in notes
    else:
        assert "several cells" not in notes


def test_an_export_uses_its_in_markers_and_keeps_line_numbers():
    export = "# In[4]:\n\n\n" + ONE + "\n\n# In[2]:\n\n\n" + TWO + "\nprint(f())\n"
    text, notes = in_run_order(export)
    assert _graded_value(export) == 1
    assert text.count("\n") == export.count("\n")
    assert "return 2" not in text and "print(f())" in text
    assert notes and "(In [4])" in notes[0] and "the cell at line 2" in notes[0]


def test_a_plain_py_file_is_never_reordered():
    py = "def f():\n    return 1\n\n\ndef f():\n    return 2\n"
    assert prepare_source(py).text == py


def test_a_cell_that_does_not_parse_defines_nothing_even_when_run_last():
    program = read_submission(_notebook((3, ONE), (8, "def f(:\n    return 2\n")), "a.ipynb")
    assert _graded_value(program) == 1
    assert "several cells" not in " ".join(prepare_source(program).notes())


def test_the_other_functions_of_a_superseded_cell_stay():
    program = read_submission(_notebook(
        (6, ONE), (2, TWO + "\ndef g():\n    return 'g'\n")), "a.ipynb")
    namespace: dict = {}
    exec(compile(prepare_source(program).text, "<nb>", "exec"), namespace)  # noqa: S102
    assert namespace["f"]() == 1 and namespace["g"]() == "g"


def test_the_kits_reader_without_nbformat_keeps_the_counts(monkeypatch):
    path = ROOT / "kit" / "stride_kit" / "_core" / "_nbformat.py"
    spec = importlib.util.spec_from_file_location("kit_nbformat", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setitem(__import__("sys").modules, "nbformat", None)  # not installed
    cells = module.reads(_notebook((5, ONE), (None, TWO)))["cells"]
    assert [c["execution_count"] for c in cells] == [5, None]


def test_bans_are_read_in_the_definition_in_effect_only():
    from grader.code.bans import banned_uses
    from grader.code.source import written_program

    own = "import numpy as np\n\ndef conv_forward(A, W, b, hp):\n    return np.sum(A)\n"
    scipy = ("from scipy import signal\n\ndef conv_forward(A, W, b, hp):\n"
             "    return signal.correlate(A, W)\n")
    banned = ("scipy.signal",)
    program = read_submission(_notebook((9, own), (4, scipy)), "a.ipynb")  # scipy ran first
    assert banned_uses(written_program(program), banned) == {}
    program = read_submission(_notebook((4, own), (9, scipy)), "a.ipynb")  # scipy ran last
    assert banned_uses(written_program(program), banned) == {
        "conv_forward": "scipy.signal.correlate"}


CELLS = st.sampled_from([ONE, TWO, "def f(:\n    pass\n", "%time f()\n", "f()\n", "",
                         "class f:\n    pass\n", "def g():\n    def f():\n        pass\n"])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.none(), st.integers(0, 40)), CELLS), max_size=8),
       st.booleans())
def test_choosing_the_run_order_never_breaks_a_program(cells, export):
    if export:
        program = "".join(f"# In[{' ' if c is None else c}]:\n{s}\n" for c, s in cells)
    else:
        written = any(source.strip() for _, source in cells)
        program = read_submission(_notebook(*cells), "a.ipynb") if written else "x = 1\n"
    text, notes = in_run_order(program)
    assert text.count("\n") == program.count("\n")
    assert (text == program) == (not notes)
    prepare_source(program).notes()  # whatever the cells, preparing never fails
