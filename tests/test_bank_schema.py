"""The JSON Schemas editors use accept exactly what the loader accepts: every field has a
description, problem and set files have separate schemas (named on each file's first line), and
every shipped file and a set of good and bad ones get the same verdict from both."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from grader.bank import load_problem_file, load_set_file
from grader.bank.schema import json_schema

ROOT = Path(__file__).resolve().parents[1]
PROBLEMS = ROOT / "problems"
GOOD = {
    "id": "rows", "title": "Rows", "topic": "conv-output-volume", "answer_type": "integer",
    "params": {"n": {"int": [4, 9]}, "f": {"choice": [1, 3]}},
    "prompt": "Rows of {{ n }} after {{ f }}?", "answer": "n - f + 1",
}
SET = {"id": "week", "title": "Week", "problems": [{"problem": "rows", "points": 2}]}
PROBLEM_CASES = {  # name -> (changes to GOOD, accepted)
    "as shipped": ({}, True),
    "where as one string": ({"where": "n > f"}, True),
    "where as a list": ({"where": ["n > f", "n > 4"]}, True),
    "a draft": ({"draft": True}, True),
    "author tests": ({"tests": [{"params": {"n": 5, "f": 1}, "answer": 5, "score": 1}]}, True),
    "an unknown key": ({"colour": "red"}, False),
    "a mistyped answer type": ({"answer_type": "integr"}, False),
    "a topic the bank lacks": ({"topic": "paddings"}, False),
    "an unknown parameter kind": ({"params": {"n": {"integer": [1, 2]}}}, False),
    "practice as text": ({"practice": "yes"}, False),
    "a test without a score": ({"tests": [{"answer": 5}]}, False),
    "a test with a score above 1": ({"tests": [{"answer": 5, "score": 2}]}, False),
    "an id with capitals": ({"id": "Rows"}, False),
    "no prompt": ({"prompt": None}, False),
}
SET_CASES = {
    "as shipped": ({}, True),
    "a release date": ({"release": "2026-09-01T08:00:00Z"}, True),
    "hidden": ({"hidden": True}, True),
    "hidden as text": ({"hidden": "yes"}, False),
    "zero points": ({"problems": [{"problem": "rows", "points": 0}]}, False),
    "an unknown key": ({"colour": "red"}, False),
    "no problems": ({"problems": []}, False),
}


def _schema_accepts(schema, data) -> bool:
    try:
        jsonschema.validate(json.loads(json.dumps(data, default=str)), schema)
    except jsonschema.ValidationError:
        return False
    return True


def _changed(base, changes):
    data = {**base, **changes}
    return {k: v for k, v in data.items() if v is not None}


def test_every_field_has_a_description():
    missing = []

    def walk(node, path):
        if isinstance(node, dict):
            for name, prop in node.get("properties", {}).items():
                if "description" not in prop:
                    missing.append(f"{path}.{name}")
            for key, value in node.items():
                walk(value, f"{path}/{key}")
        elif isinstance(node, list):
            for value in node:
                walk(value, path)

    walk(json_schema(), "")
    assert missing == []


def test_the_shipped_schema_files_are_the_current_schemas():
    for kind in ("problem", "set"):
        stored = json.loads((PROBLEMS / "schema" / f"{kind}.schema.json").read_text())
        assert stored == json_schema(kind), f"run: grader schema --kind {kind}"


def test_every_shipped_file_names_its_schema_and_passes_both_checks():
    problem, problem_set = json_schema("problem"), json_schema("set")
    files = sorted(p for p in PROBLEMS.glob("*.yaml") if p.name != "topics.yaml")
    sets = sorted((PROBLEMS / "sets").glob("*.yaml"))
    assert files and sets
    for path in files:
        assert path.read_text().startswith(
            "# yaml-language-server: $schema=schema/problem.schema.json\n"), path.name
        data = yaml.safe_load(path.read_text())
        assert _schema_accepts(problem, data) and load_problem_file(path, PROBLEMS)[1] == []
        assert not _schema_accepts(problem_set, data), path.name  # the schemas are separate
    for path in sets:
        assert path.read_text().startswith(
            "# yaml-language-server: $schema=../schema/set.schema.json\n"), path.name
        data = yaml.safe_load(path.read_text())
        assert _schema_accepts(problem_set, data) and load_set_file(path, PROBLEMS)[1] == []
        assert not _schema_accepts(problem, data), path.name


@pytest.mark.parametrize("case", sorted(PROBLEM_CASES))
def test_the_problem_schema_and_the_loader_agree(tmp_path, case):
    changes, accepted = PROBLEM_CASES[case]
    data = _changed(GOOD, changes)
    path = tmp_path / "rows.yaml"
    path.write_text(yaml.safe_dump(data))
    loader = load_problem_file(path, tmp_path)[1] == []
    assert (loader, _schema_accepts(json_schema("problem"), data)) == (accepted, accepted)
    several = {"problems": [data]}
    path.write_text(yaml.safe_dump(several))
    assert (load_problem_file(path, tmp_path)[1] == [],
            _schema_accepts(json_schema("problem"), several)) == (accepted, accepted)


@pytest.mark.parametrize("case", sorted(SET_CASES))
def test_the_set_schema_and_the_loader_agree(tmp_path, case):
    changes, accepted = SET_CASES[case]
    data = _changed(SET, changes)
    path = tmp_path / "week.yaml"
    path.write_text(yaml.safe_dump(data))
    loader = load_set_file(path, tmp_path)[1] == []
    assert (loader, _schema_accepts(json_schema("set"), data)) == (accepted, accepted)
