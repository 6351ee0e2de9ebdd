"""The problem bank: YAML templates and problem sets, validated and compiled once on load.

The package's public names, re-exported here as its contract: :func:`load_bank` and the other
loaders (:mod:`grader.bank.load`), the compiled types (:mod:`grader.bank.problem`) and the schema
(:mod:`grader.bank.schema`).
"""

from grader.bank.load import (
    DEFAULT_PROBLEMS_DIR,
    BankError,
    load_bank,
    load_bank_in_part,
    load_problem_file,
    load_set_file,
)
from grader.bank.problem import Bank, Problem, ProblemSet, SetItem
from grader.bank.schema import TOPICS, json_schema, schema_text

__all__ = [
    "DEFAULT_PROBLEMS_DIR", "TOPICS", "Bank", "BankError", "Problem", "ProblemSet", "SetItem",
    "json_schema", "load_bank", "load_bank_in_part", "load_problem_file", "load_set_file", "schema_text",
]
