"""Authoring without traps: subfolders are loaded, there are no hidden parameter defaults,
undefined template names are found at load, and schema errors give the line."""

from __future__ import annotations

import pytest

from grader.bank import BankError, load_bank

PROBLEM = """\
id: {pid}
title: Rows after a strided convolution
topic: conv-output-volume
answer_type: integer
params:
  n: {{int: [8, 12]}}
  f: {{int: [2, 3]}}
prompt: "An image of {{{{ n }}}} rows meets a filter of {{{{ f }}}} rows{extra}."
answer: {answer}
"""


def _write(folder, name, pid="rows", answer="n - f + 1", extra=""):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(PROBLEM.format(pid=pid, answer=answer, extra=extra))


def test_problems_in_subfolders_are_loaded_and_sets_stay_sets(tmp_path):
    _write(tmp_path, "top.yaml", pid="top")
    _write(tmp_path / "week1" / "deeper", "nested.yml", pid="nested")
    (tmp_path / "sets").mkdir()
    (tmp_path / "sets" / "s.yaml").write_text(
        "id: s\ntitle: S\nproblems:\n  - {problem: nested}\n")
    _write(tmp_path / ".drafts", "hidden.yaml", pid="hidden")
    bank = load_bank(tmp_path)
    assert sorted(bank.problems) == ["nested", "top"] and list(bank.sets) == ["s"]


def test_an_answer_using_an_undeclared_stride_is_an_error_not_a_stride_of_one(tmp_path):
    _write(tmp_path, "rows.yaml", answer="floor((n - f) / s) + 1")
    with pytest.raises(BankError, match=r"field 'answer': .*undefined name\(s\) s"):
        load_bank(tmp_path)


def test_an_undefined_template_name_is_found_at_load_with_its_line(tmp_path):
    _write(tmp_path, "rows.yaml", extra=" with stride {{ s }}")
    with pytest.raises(BankError) as info:
        load_bank(tmp_path)
    assert info.value.errors == (
        "rows.yaml: problem 'rows': field 'prompt': the template uses 's', which is not defined "
        "(it can use: f, n) (line 8)".replace("rows.yaml", f"{tmp_path.name}/rows.yaml"),)


def test_schema_errors_give_the_line_of_the_field(tmp_path):
    (tmp_path / "two.yaml").write_text(
        "problems:\n"
        + PROBLEM.format(pid="first", answer="n", extra="").replace("\n", "\n    ").replace(
            "id: first", "  - id: first", 1)
        + "\n  - id: second\n    title: Second\n    topic: conv-output-volume\n"
        "    answer_type: integr\n    prompt: x\n    answer: 1\n")
    text = (tmp_path / "two.yaml").read_text()
    with pytest.raises(BankError) as info:
        load_bank(tmp_path)
    line = text.splitlines().index("    answer_type: integr") + 1
    assert len(info.value.errors) == 1
    assert info.value.errors[0].startswith(f"{tmp_path.name}/two.yaml: problem 'second': "
                                           "field 'answer_type':")
    assert info.value.errors[0].endswith(f"(line {line})")


def test_topics_are_data_in_the_bank_folder(tmp_path):
    from grader.bank import TOPICS
    from grader.bank.schema import read_topics

    assert read_topics(tmp_path) == TOPICS  # no topics.yaml: the shipped bank's list
    (tmp_path / "topics.yaml").write_text("topics:\n  - sizes\n  - conv-output-volume\n")
    _write(tmp_path, "rows.yaml")
    assert list(load_bank(tmp_path).problems) == ["rows"]  # topics.yaml is not a problem
    (tmp_path / "rows.yaml").write_text(
        (tmp_path / "rows.yaml").read_text().replace("conv-output-volume", "padding"))
    with pytest.raises(BankError, match=r"field 'topic': not one of the bank's topics "
                                        r"\(topics.yaml: sizes, conv-output-volume\), got "
                                        r"'padding' \(line 3\)"):
        load_bank(tmp_path)
