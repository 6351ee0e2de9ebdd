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
