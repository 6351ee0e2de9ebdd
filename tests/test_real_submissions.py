"""Realistic students' files, graded as the server grades them: each gets what
``tests/real/expected.yaml`` says.

``tests/real/`` holds the course's notebooks as students save them (Jupyter, Colab, VS Code with
CRLF and a byte order mark, cells as one string, test cells with asserts, help requests,
``display``, cell magics, raw cells, a function defined twice, scratch cells with syntax
errors, a half-done template), their nbconvert exports, and ``.py`` files in other styles
(``hparameters.get``, ``np.floor``, ``//``, einsum and tensordot, sliding windows, float32,
dict caches, integer masks) and with the classic bugs; cells run out of order, and files saved
as UTF-16 (PowerShell's ``>``) or cp1252 (Windows editors). Correct files must get full marks;
each buggy one must fail exactly the functions listed, each with words naming its bug.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from grader.code import FunctionStatus, grade_source
from grader.code.source import decode_submission, read_submission
from grader.sandbox import SandboxLimits, SandboxPool

REAL = Path(__file__).resolve().parent / "real"
EXPECTED = yaml.safe_load((REAL / "expected.yaml").read_text())
LIMITS = SandboxLimits(wall_s=3.0, cpu_s=20.0, memory_mb=512, import_wall_s=3.0)


@pytest.fixture(scope="module")
def pool():
    pool = SandboxPool(1)
    yield pool
    pool.shutdown()


def test_every_file_has_an_expectation_and_the_corpus_is_varied():
    files = sorted(p.name for p in REAL.iterdir() if p.suffix in (".py", ".ipynb"))
    assert files == sorted(EXPECTED)
    assert len(files) >= 40
    buggy = [name for name, want in EXPECTED.items() if (want or {}).get("failed")]
    assert len(buggy) >= 20 and len(files) - len(buggy) >= 20
    assert sum(name.endswith(".ipynb") for name in files) >= 12


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_real_submission_gets_its_expected_report(pool, name):
    want = EXPECTED[name] or {}
    path = REAL / name
    decoded = decode_submission(path.read_bytes())  # as the upload form reads it
    source = read_submission(decoded.text, path.name)
    report = grade_source(source, exercise=want.get("exercise", "conv_step_by_step"),
                          limits=LIMITS, pool=pool, own_code=False)
    warnings = decoded.notes() + report.warnings
    failed, skipped = want.get("failed", {}), want.get("not_attempted", [])
    status = {f.name: f.status for f in report.functions}
    assert {n for n, s in status.items() if s == FunctionStatus.FAILED} == set(failed), [
        (f.name, t.name, t.message) for f in report.functions for t in f.tests if not t.passed]
    assert {n for n, s in status.items() if s == FunctionStatus.NOT_ATTEMPTED} == set(skipped)
    for function in report.functions:
        said = " ".join(f"{t.diagnosis or ''} {t.message or ''}"
                        for t in function.tests if not t.passed)
        for words in failed.get(function.name, []):
            assert words in said, (function.name, words, said)
    if not failed and not skipped:
        assert report.score == report.max_score > 0
    for words in want.get("notes", []):
        assert any(words in note for note in warnings), warnings
