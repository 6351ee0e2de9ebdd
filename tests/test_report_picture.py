"""A picture of the mistake: one example and one channel of a wrong output, in the web report
(shaded grids) and in `grader check` (text), for public tests only."""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from grader.cli.code_commands import picture_text, render_report
from grader.code import CodeReport, grade_source
from grader.code.diagnosis import picture_of
from grader.code.report import Picture, TestReport, Verdict, student_view
from grader.sandbox import SandboxLimits, SandboxPool
from web.code.backend import get_pool
from web.render import picture_figures

SUBMISSIONS = Path(__file__).resolve().parent / "submissions"
LIMITS = SandboxLimits(wall_s=5.0, cpu_s=20.0, memory_mb=512, import_wall_s=5.0)
# The most common real bug: the window starts at h, not h * stride, in conv_forward.
START_H = (SUBMISSIONS / "correct_loops.py").read_text().replace(
    "            vert_start = h * stride\n            vert_end = vert_start + f\n"
    "            for w in range(n_W):\n                horiz_start = w * stride",
    "            vert_start = h\n            vert_end = vert_start + f\n"
    "            for w in range(n_W):\n                horiz_start = w", 1)


@pytest.fixture(scope="module")
def report():
    assert "vert_start = h\n" in START_H
    pool = SandboxPool(1)
    try:
        yield grade_source(START_H, limits=LIMITS, pool=pool, functions=["conv_forward"])
    finally:
        pool.shutdown()


def _tests(report: CodeReport) -> list[TestReport]:
    return [t for f in report.functions for t in f.tests]


def test_a_failing_public_test_carries_the_picture_of_its_wrong_cells(report):
    stride2 = next(t for t in _tests(report) if t.name == "stride 2, pad 1")
    assert not stride2.passed and stride2.picture is not None
    picture = stride2.picture
    assert re.fullmatch(r"example \d, channel \d", picture.title)
    assert len(picture.expected) == 3 and len(picture.expected[0]) == 4  # Z is (2, 3, 4, 8)
    # The window start is right at (0, 0) only: the picture shows exactly that.
    assert picture.wrong[0][0] is False
    assert sum(map(sum, picture.wrong)) == 11
    for row_e, row_g, row_w in zip(picture.expected, picture.got, picture.wrong, strict=True):
        for e, g, w in zip(row_e, row_g, row_w, strict=True):
            assert w == (not np.isclose(e, g, rtol=1e-3, atol=1e-3))


def test_passing_and_hidden_tests_have_no_picture(report):
    tests = _tests(report)
    assert any(t.passed for t in tests) and any(t.hidden and not t.passed for t in tests)
    assert all(t.picture is None for t in tests if t.passed or t.hidden)
    for audience in ("student", "staff"):
        data = report.to_json(audience=audience)
        for test in data["functions"][0]["tests"]:
            assert ("picture" in test) == (not test["passed"] and not test["hidden"]
                                           and test["name"] != "speed: larger batch")


def test_the_picture_survives_storage_and_the_student_view(report):
    stored = report.to_json(audience="staff")
    assert CodeReport.from_json(json.loads(json.dumps(stored))) == report
    shown = student_view(stored)
    pictures = [t.get("picture") for t in shown["functions"][0]["tests"] if not t["passed"]]
    assert any(pictures)


def test_a_hidden_test_never_takes_or_keeps_a_picture():
    picture = Picture("example 0, channel 0", ((1.0,),), ((2.0,),), ((True,),))
    hidden = TestReport("hidden test 1", False, Verdict.WRONG_VALUES, "wrong", hidden=True,
                        staff_case="case", staff_message="full")
    assert hidden.with_picture(picture).picture is None
    smuggled = replace(hidden, picture=picture)
    assert smuggled.redacted().picture is None and "picture" not in smuggled.to_json("staff")
    forged = {**smuggled.to_json(), "picture": picture.to_json()}
    assert TestReport.from_json(forged).picture is None


def test_picture_of_takes_the_example_and_channel_with_most_wrong_cells():
    expected = np.zeros((2, 3, 3, 4))
    got = expected.copy()
    got[1, :, :, 2] = 1.0
    got[0, 0, 0, 0] = 1.0
    picture = picture_of("Z", expected, got)
    assert picture.title == "example 1, channel 2"
    assert picture.wrong == ((True,) * 3,) * 3
    assert picture_of("dW", expected, got) is None
    assert picture_of("Z", expected, got[:, :2]) is None
    assert picture_of("Z", np.zeros((1, 20, 20, 1)), np.ones((1, 20, 20, 1))) is None


@pytest.mark.parametrize("got", [np.array("3.25"), np.array([["a", "b"]]),
                                 np.full((2, 2), np.nan), np.zeros(3)])
def test_no_picture_of_strings_non_finite_values_or_non_grids(got):
    assert picture_of("output", np.zeros(got.shape), got) is None


def test_the_terminal_report_is_readable_at_80_columns(report):
    console = Console(width=80, record=True, color_system=None)
    render_report(console, report, "start_h.py: conv_step_by_step (public tests)")
    text = console.export_text()
    lines = text.splitlines()
    assert all(len(line.rstrip()) <= 80 for line in lines)
    # Every failing test's message and hint are there in full, on lines of a useful width.
    flat = " ".join(text.split())
    for test in _tests(report):
        if not test.passed:
            assert " ".join(test.message.split()) in flat
            if test.diagnosis:
                assert " ".join(test.diagnosis.split()) in flat
    message_lines = [line for line in lines if line.startswith("      ") and line.strip()]
    assert message_lines and max(len(line.rstrip()) for line in message_lines) > 60
    assert "Hint: Your output matches a convolution with stride 1" in flat
    assert "where they differ (*)" in text


def test_the_text_picture_marks_each_differing_cell():
    picture = Picture("example 0, channel 1", ((1.0, 2.0), (3.0, 4.0)), ((1.0, 0.0), (0.0, 4.0)),
                      ((False, True), (True, False)))
    text = picture_text(TestReport("t", False, Verdict.WRONG_VALUES, "wrong", picture=picture))
    assert text.splitlines()[0] == "example 0, channel 1:"
    assert text.count("*") == 2 + 1  # two cells and the legend
    assert "expected" in text and "yours" in text


def test_the_grids_share_one_shading_scale():
    picture = Picture("t", ((0.0, 10.0),), ((10.0, 10.0),), ((True, False),)).to_json()
    [(_, expected), (_, got), (name, differ)] = picture_figures(picture)
    assert got[0][0].shade == expected[0][1].shade != expected[0][0].shade
    assert name == "where they differ" and differ[0][0].text == "\u2717" and not differ[0][1].text


def test_the_web_report_draws_the_picture_for_public_tests_only(app, client, auth):
    auth.login()
    client.post("/code/conv_step_by_step", content_type="multipart/form-data",
                data={"source": START_H, "request_token": secrets.token_urlsafe(32)})
    get_pool(app).wait_all(timeout=180)
    [link] = re.findall(r"/code/submissions/\d+", client.get("/code/").get_data(as_text=True))[:1]
    page = client.get(link).get_data(as_text=True)
    assert 'class="grid"' in page and "where they differ" in page
    assert "expected, yours, and the cells that differ" in page
    # One picture per failing public test (the two with stride 2), none for the hidden test,
    # which fails too.
    assert page.count('aria-label="where they differ"') == 2
    assert "hidden test 1" in page
