"""Lint rules for feedback coverage: every wrong answer a template foresees explains itself, and no
explanation gives the answer away.

Checked by ``grader lint`` on every variant it generates (:func:`variant_findings`) and once per
template over all of them (:func:`template_findings`):

- every wrong option of a choice or multiselect problem, and the wrong reading of a true/false
  statement, carries a mistake (tag and message);
- a numeric, shape, vector or matrix template has at least :data:`MIN_MISTAKES` distinct
  expected mistakes over its variants (the author's, the built-in families and the general
  detectors of :mod:`grader.answers.detectors` together);
- no mistake message contains the variant's answer as written (a number of at least
  :data:`SMALLEST_LEAK`, the whole shape, vector or matrix) or, for multiselect, the text of a
  correct option. 0, 1 and 2 are left out: they are the constants of the formulas messages
  quote ("+ 1", "2p", "/ 2").
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from typing import Any

from grader.answers import format_value, lookup
from grader.answers.numbers import format_number
from grader.answers.options import option_key
from grader.variants import Variant

MIN_MISTAKES = 2
SMALLEST_LEAK = 3
COUNTED_TYPES = frozenset({"integer", "number", "shape", "vector", "matrix"})

_NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?(?![\w])")


def variant_findings(variant: Variant) -> list[str]:
    """Options without an explanation and messages that give the answer away, for one variant."""
    return _unexplained_options(variant) + _leaks(variant)


def template_findings(answer_type: str, tags: Iterable[str]) -> list[str]:
    """Too few expected mistakes over a template's variants."""
    tags = set(tags)
    if answer_type in COUNTED_TYPES and len(tags) < MIN_MISTAKES:
        listed = ", ".join(sorted(tags)) or "none"
        article = "an" if answer_type[:1] in "aeiou" else "a"
        return [f"all seeds: only {len(tags)} expected mistake(s) ({listed}); {article} "
                f"{answer_type} template needs at least {MIN_MISTAKES}, each with a tag and a "
                "message"]
    return []


def _unexplained_options(variant: Variant) -> list[str]:
    seed = f"seed {variant.seed}"
    if variant.answer_type == "truefalse":
        if not any(m.value is (not variant.answer) for m in variant.mistakes):
            return [f"{seed}: the wrong answer to the statement has no explanation (a mistake "
                    "with a tag and a message)"]
        return []
    if variant.answer_type not in ("choice", "multiselect") or not variant.options:
        return []
    right = {option_key(t) for t in (variant.answer if isinstance(variant.answer, list)
                                      else [variant.answer])}
    found = []
    for text in variant.options:
        if option_key(text) in right:
            continue
        if not any(_explains(m.value, text, variant.answer_type) for m in variant.mistakes):
            found.append(f"{seed}: the wrong option {text!r} has no explanation (give it a "
                         "tag and a message)")
    return found


def _explains(value: Any, option: str, answer_type: str) -> bool:
    if answer_type == "choice":
        return isinstance(value, str) and option_key(value) == option_key(option)
    return isinstance(value, list) and option_key(option) in {option_key(str(v)) for v in value}


def _leaks(variant: Variant) -> list[str]:
    found = []
    for mistake in variant.mistakes:
        leaked = leaked_text(variant, mistake.message)
        if leaked:
            found.append(f"seed {variant.seed}: the message of mistake {mistake.tag!r} gives "
                         f"the answer away (it contains {leaked!r})")
    return found


def leaked_text(variant: Variant, message: str) -> str | None:
    """The part of ``message`` that gives ``variant``'s answer away, or None."""
    return _leaked(variant.answer_type, json.dumps(variant.answer), message)


@functools.lru_cache(maxsize=65536)
def _leaked(kind: str, answer_json: str, message: str) -> str | None:
    answer = json.loads(answer_json)
    if kind in ("integer", "number"):
        return _number_in(message, answer)
    if kind in ("shape", "vector", "matrix"):
        shown = format_value(kind, answer)
        compact = re.sub(r"\s+", "", shown)
        if compact in re.sub(r"\s+", "", message):
            return shown
        if kind == "shape" and len(answer) > 1 and re.search(
                r"\b" + r"\s*(?:x|×|,)\s*".join(str(d) for d in answer) + r"\b", message):
            return shown
        return None
    if kind == "multiselect" and isinstance(answer, list):
        folded = option_key(message)
        for option in answer:
            if len(option_key(option)) >= 4 and option_key(option) in folded:
                return option
    return None


def _number_in(message: str, answer: Any) -> str | None:
    if not lookup("number").valid(answer) or abs(answer) < SMALLEST_LEAK:
        return None
    for token in _NUMBER.findall(message):
        try:
            value = float(token.replace(",", ""))
        except ValueError:
            continue
        if value == answer:
            return format_number(answer, grouped=True)
    return None
