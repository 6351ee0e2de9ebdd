"""Hostile uploads against the trusted side's reading of a student's file.

The server reads every file before the sandbox runs it (:mod:`grader.code.source`), so a file
within the upload limit (256 KB) must not make that reading slow, crash it, or make it keep a
notebook's top-level code. Slowness is asserted on the work done (lines run, characters a
regular expression scans, entries touched), never on wall time, except for one end-to-end run
in a child process with a timeout far above what the inputs take.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.code import bans, source
from grader.code.bans import banned_uses
from grader.code.grade import _decode_source
from grader.code.source import line_label, prepare_source, read_submission
from grader.code.verdicts import _cells_in
from grader.errors import StudentCodeError
from grader.syntax import parse_python

ROOT = Path(__file__).resolve().parents[1]
HUGE = "9" * 5000  # more digits than Python converts to an int (4300)


class _OverBudget(BaseException):
    """Raised by the tracer when a call runs more lines than allowed (no except catches it)."""


def _lines_run(call, budget: int) -> int:
    """How many Python lines ``call()`` runs; raises _OverBudget past ``budget``."""
    count = 0

    def tracer(frame, event, arg):
        nonlocal count
        if event == "line":
            count += 1
            if count > budget:
                raise _OverBudget(f"more than {budget} lines run")
        return tracer

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        call()
    finally:
        sys.settrace(previous)
    return count


def _grows_linearly(make, call, n: int) -> tuple[int, int]:
    """Lines run for inputs of size n and 2n; the second is bounded at 2.5x the first (linear
    work doubles, quadratic work quadruples)."""
    small = _lines_run(lambda: call(make(n)), budget=10**7)
    large = _lines_run(lambda: call(make(2 * n)), budget=int(2.5 * small))
    return small, large


class _Scanning:
    """A compiled pattern that adds up the characters each search is given."""

    def __init__(self, pattern):
        self.pattern, self.scanned = pattern, 0

    def __getattr__(self, name):
        method = getattr(self.pattern, name)
        if not callable(method):
            return method

        def counted(string, *args, **kwargs):
            self.scanned += len(string)
            return method(string, *args, **kwargs)
        return counted


def _broken_defining_cells(n: int) -> str:
    return "".join(f"# %%\ndef f{i}(:\n" for i in range(n))


def _redefined_functions(n: int) -> str:
    """n cells, each function defined twice, the earlier cell run later: all reordered."""
    return "".join(f"# In[{n - i}]:\ndef g{i // 2}():\n    pass\n" for i in range(n))


def _one_redefinition_among_many(n: int) -> str:
    head = "# In[2]:\ndef a():\n    pass\n# In[1]:\ndef a():\n    pass\n"
    return head + "".join(f"# In[1]:\ndef g{i}():\n    pass\n" for i in range(n))


# --- enormous execution counts and line numbers ------------------------------------------

def test_an_execution_count_of_thousands_of_digits_is_a_cell_that_never_ran():
    text = f"# In[{HUGE}]:\ndef f():\n    return 1\n# In[1]:\ndef f():\n    return 2\n"
    prepared = prepare_source(text)
    assert prepared.notebook and prepared.run_order == ()  # file order: the last one stays
    assert "return 1" in prepared.text and "return 2" in prepared.text


def test_a_cell_number_of_thousands_of_digits_is_not_a_cell():
    text = f"# In[1]: notebook cell {HUGE}\nx = (\n"
    assert line_label(text, 2) == "line 2"
    assert prepare_source(text).text.startswith("# In[1]:")  # no exception: runs as written


def test_a_syntax_error_message_naming_a_line_of_thousands_of_digits_is_left_as_written():
    program = "# In[1]: notebook cell 3\ndef f():\n    pass\n"
    message = f"invalid syntax (submission.py, line {HUGE})"
    assert _cells_in(message, program) == message
    assert _cells_in("invalid syntax (submission.py, line 2)", program) == (
        "invalid syntax (cell 3, line 1)")


# --- characters that are not text -----------------------------------------------------------

def _notebook(source_text: str) -> str:
    cell = {"cell_type": "code", "execution_count": 1, "id": "a", "metadata": {},
            "outputs": [], "source": source_text}
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [cell]})


def test_a_notebook_with_a_lone_surrogate_is_refused_kindly():
    text = _notebook("x = '\ud800'\ndef f():\n    return 1\n")
    assert "\\ud800" in text  # the JSON escape, which json.loads reads as a lone surrogate
    with pytest.raises(StudentCodeError, match="lone surrogate"):
        read_submission(text, "a.ipynb")
    with pytest.raises(StudentCodeError, match="lone surrogate"):
        read_submission(text)  # recognised by its layout too


def test_a_program_with_a_lone_surrogate_is_refused_before_grading():
    with pytest.raises(StudentCodeError, match="lone surrogate"):
        _decode_source("def f():\n    return '\ud800'\n")
    assert _decode_source("def f():\n    return 'é'\n").text.endswith("'é'\n")


# --- line ends that Python does not count -----------------------------------------------

@pytest.mark.parametrize("odd", ["\u2028", "\x0c", "\x1c", "\x85"])
def test_a_character_str_splitlines_breaks_at_does_not_keep_top_level_code(odd):
    text = (f"# %%\nimport numpy as np\n# note {odd} here\nprint('top level')\n"
            "def f():\n    return 1\n")
    prepared = prepare_source(text)
    assert "print" not in prepared.text and prepared.skipped == 1
    assert f"# note {odd} here" in prepared.text  # the comment is left as it was
    tree = parse_python(prepared.text)
    assert [n.lineno for n in tree.body if getattr(n, "name", None) == "f"] == [5]


def test_carriage_returns_alone_end_lines_as_for_python():
    text = "# %%\rimport numpy as np\rprint('top level')\rdef f():\r    return 1\r"
    prepared = prepare_source(text)
    assert "print" not in prepared.text and "def f():" in prepared.text
    tree = parse_python(prepared.text)
    assert [n.lineno for n in tree.body if getattr(n, "name", None) == "f"] == [4]


def test_a_form_feed_does_not_move_a_broken_cells_stand_in():
    text = "# %%\n\x0c\ndef f(:\n    pass\n# %%\ndef g():\n    return 2\n"
    prepared = prepare_source(text)
    tree = parse_python(prepared.text)
    assert {n.name: n.lineno for n in tree.body if hasattr(n, "name")} == {"f": 3, "g": 6}
    assert prepared.unparsed and "f" in prepared.unparsed[0]


# --- work done on many cells ------------------------------------------------------------

def test_many_broken_cells_defining_functions_are_each_read_once(monkeypatch):
    text = _broken_defining_cells(2000)
    for name in ("DEFINED", "CELL_START"):
        monkeypatch.setattr(source, name, _Scanning(getattr(source, name)))
    prepared = prepare_source(text)
    assert len(prepared.unparsed) == 2000
    # Each line is searched a few times at most, not the whole program once per cell.
    assert source.DEFINED.scanned <= 4 * len(text)
    assert source.CELL_START.scanned <= 4 * len(text)


@pytest.mark.parametrize("make", [_redefined_functions, _one_redefinition_among_many])
def test_choosing_the_run_order_runs_lines_in_proportion(make):
    small, large = _grows_linearly(make, source.in_run_order, 300)
    assert large <= 2.5 * small
    assert source.in_run_order(make(10))[1]  # the inputs do reorder something


def test_a_cells_label_touches_few_of_many_cells(monkeypatch):
    text = "".join(f"# In[ ]: notebook cell {n}\nx = {n}\n" for n in range(1, 20001))
    starts = source._cell_starts(text)
    touched = 0

    class Counting(tuple):
        def __getitem__(self, index):
            nonlocal touched
            touched += 1
            return tuple.__getitem__(self, index)

        def __iter__(self):
            nonlocal touched
            for item in tuple.__iter__(self):
                touched += 1
                yield item

    monkeypatch.setattr(source, "_cell_starts", lambda _text: Counting(starts))
    assert line_label(text, 2 * 15000) == "cell 15000, line 1"
    assert line_label(text, 1) == "line 1"
    assert touched <= 64


# --- end to end, at the upload limit ------------------------------------------------------

CHILD = """
import sys
from grader.code import source
limit = 256 * 1024
cells = "".join(f"# %%\\ndef f{i}(:\\n" for i in range(limit // 16))[:limit]
source.prepare_source(cells[: cells.rindex("# %%")])
redefined = "".join(f"# In[{20000 - i}]:\\ndef g{i // 2}():\\n    pass\\n" for i in range(20000))
source.prepare_source(redefined[: redefined.rindex("# In[", 0, limit)])
many = "".join(f"# In[1]:\\ndef g{i}():\\n    pass\\n" for i in range(20000))[:limit]
source.prepare_source("# In[2]:\\ndef a():\\n    pass\\n# In[1]:\\ndef a():\\n    pass\\n"
                      + many[: many.rindex("# In[")])
print("done")
"""


def test_the_hostile_programs_at_the_upload_limit_are_read_in_seconds():
    # Each takes a second or two here; before, the broken cells alone took over a minute.
    done = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "done"


# --- bans followed through calls ------------------------------------------------------------

def _everyone_calls_everyone(n: int) -> tuple[dict, dict]:
    """n functions, each calling all of them (n * n calls), one at the end using a ban."""
    names = [f"f{i}" for i in range(n)]
    direct = {name: None for name in names} | {names[-1]: "scipy.signal.convolve2d"}
    return direct, {name: list(names) for name in names}


def test_bans_through_calls_are_followed_once_not_once_per_function():
    small = _lines_run(lambda: bans._through_calls(*_everyone_calls_everyone(30)), 10**7)
    large = _lines_run(lambda: bans._through_calls(*_everyone_calls_everyone(60)),
                       budget=5 * small)  # 4x the calls; a walk from each function is 8x
    assert large <= 5 * small
    found = bans._through_calls(*_everyone_calls_everyone(60))
    assert set(found.values()) == {"scipy.signal.convolve2d"} and len(found) == 60


def _walked_first(name, direct, calls):
    """The definition of a use through calls: a breadth-first walk from ``name``."""
    seen, todo = set(), [name]
    while todo:
        current = todo.pop(0)
        if current not in seen:
            seen.add(current)
            if direct.get(current):
                return direct[current]
            todo.extend(calls.get(current, ()))
    return None


@settings(max_examples=200, deadline=None)
@given(st.integers(2, 7).flatmap(lambda n: st.tuples(
    st.lists(st.lists(st.integers(0, n - 1), max_size=5), min_size=n, max_size=n),
    st.lists(st.sampled_from([None, "scipy.signal", "numpy.convolve"]), min_size=n,
             max_size=n))))
def test_the_use_through_calls_is_the_one_a_walk_from_each_function_meets(graph):
    called, uses = graph
    calls = {f"f{i}": [f"f{j}" for j in js] for i, js in enumerate(called)}
    direct = {f"f{i}": use for i, use in enumerate(uses)}
    expected = {name: _walked_first(name, direct, calls) for name in calls}
    assert bans._through_calls(direct, calls) == {k: v for k, v in expected.items() if v}


def test_a_ban_reaches_a_caller_through_a_helper():
    text = ("from scipy import signal\nimport numpy as np\n"
            "def helper(x):\n    return signal.convolve2d(x, x)\n"
            "def conv(x):\n    return helper(x)\n"
            "def other(x):\n    return np.sum(x)\n")
    assert banned_uses(text, ["scipy.signal"]) == {
        "helper": "scipy.signal.convolve2d", "conv": "scipy.signal.convolve2d"}
