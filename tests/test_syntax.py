"""grader.syntax: every parse under one lock, and CPython 3.11's spurious SystemError retried."""

from __future__ import annotations

import ast

import pytest

from grader import syntax


def _flaky_parse(monkeypatch, failures: int, message: str) -> list[int]:
    calls = []
    real = ast.parse

    def parse(text, *args, **kwargs):
        calls.append(1)
        if len(calls) <= failures:
            raise SystemError(message)
        return real(text, *args, **kwargs)

    monkeypatch.setattr(syntax.ast, "parse", parse)
    return calls


def test_the_recursion_depth_mismatch_is_retried_and_the_parse_succeeds(monkeypatch):
    calls = _flaky_parse(monkeypatch, 2, "AST constructor recursion depth mismatch (before=3, "
                                         "after=9)")
    tree = syntax.parse_python("x = 1\n")
    assert isinstance(tree, ast.Module) and len(calls) == 3


def test_another_system_error_or_a_mismatch_every_time_is_raised(monkeypatch):
    _flaky_parse(monkeypatch, 1, "something else went wrong")
    with pytest.raises(SystemError, match="something else"):
        syntax.parse_python("x = 1\n")
    calls = _flaky_parse(monkeypatch, 99, "AST constructor recursion depth mismatch")
    with pytest.raises(SystemError, match="mismatch"):
        syntax.parse_python("x = 1\n")
    assert len(calls) == syntax._TRIES


def test_a_syntax_error_is_the_texts_and_is_not_retried(monkeypatch):
    calls = _flaky_parse(monkeypatch, 0, "")
    with pytest.raises(SyntaxError):
        syntax.parse_python("def (:\n")
    assert len(calls) == 1


def test_parsing_a_students_file_never_warns_whatever_the_warning_filters():
    """Invalid escapes and `is` with a literal warn at compile time, once per line: a file of
    thousands of them must not flood the server's log (Python 3.12 shows SyntaxWarning by
    default). Run in a child with every warning turned into an error."""
    import subprocess
    import sys

    code = ("from grader.syntax import parse_python\n"
            "src = ''.join(f'x{i} = \"\\\\d\"\\ny{i} = x{i} is 1\\n' for i in range(500))\n"
            "tree = parse_python(src)\n"
            "assert len(tree.body) == 1000\n"
            "import ast\n"
            "try:\n"
            "    ast.parse(src)\n"
            "except SyntaxError:  # a warning turned error, at compile time\n"
            "    print('plain ast.parse warns')\n")
    done = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "plain ast.parse warns"  # the test's text does warn
