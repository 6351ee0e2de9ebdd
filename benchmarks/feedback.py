"""Feedback coverage of the shipped bank: how many classic wrong answers get a named mistake.

Run with ``.venv/bin/python benchmarks/feedback.py [--seeds 100]``. For every template and seed
it builds the wrong answers the course's classic misconceptions produce, independently of the
bank's mistake lists: for shapes the dimensions channels first and height and width swapped; for
vectors and matrices the result reversed, transposed, flipped along each axis and one position
short; for every type the values of the general expression detectors (the division not floored,
the log not taken, the entries not summed, the biases left out, another convolution mode, no
padding, stride 1, a channel factor). Each is typed as a student would and graded twice, side by
side: with the general detectors (now) and with only the template's own mistakes and the
built-in families (before). It also types an arithmetic slip per variant (one entry off by 7).

Printed: the share of misconceptions named, wrong answers accepted (must be 0), misconceptions
misnamed (named with another detector's tag, must be 0), slips given a misconception name
(must be 0), the share of computed templates with at least two mistakes and of wrong options
with an explanation.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from grader.answers import REGISTRY, format_value, lookup  # noqa: E402
from grader.answers import detectors as d  # noqa: E402
from grader.answers.options import option_key  # noqa: E402
from grader.bank import load_bank  # noqa: E402
from grader.errors import FormatError  # noqa: E402
from grader.expressions import same_value  # noqa: E402
from grader.grading import grade_raw  # noqa: E402
from grader.variants import Variant, generate  # noqa: E402

VERBOSE = "-v" in sys.argv
COMPUTED = ("integer", "number", "shape", "vector", "matrix")


def structural(v: Variant) -> list[tuple[str, Any]]:
    a = v.answer
    if v.answer_type == "shape" and len(a) >= 3:
        return [(d.CHANNELS_FIRST.tag, [*a[:-3], a[-1], a[-3], a[-2]]),
                (d.HEIGHT_WIDTH_SWAPPED.tag, [*a[:-3], a[-2], a[-3], a[-1]])]
    if v.answer_type == "vector":
        return [(d.REVERSED.tag, a[::-1]), (d.POSITION_MISSING.tag, a[:-1])]
    if v.answer_type == "matrix":
        return [(d.TRANSPOSED.tag, [list(c) for c in zip(*a, strict=True)]),
                (d.ROWS_REVERSED.tag, a[::-1]), (d.COLUMNS_REVERSED.tag, [r[::-1] for r in a]),
                (d.ROTATED.tag, [r[::-1] for r in a[::-1]]), (d.POSITION_MISSING.tag, a[:-1])]
    return []


def typed(v: Variant, value: Any) -> str | None:
    for name in (v.answer_type, "number", "vector", "matrix"):
        if lookup(name).valid(value):
            return format_value(name, value, v.options if name == v.answer_type else None)
    return None


def slip(v: Variant) -> Any:
    a = v.answer
    if v.answer_type in ("integer", "number"):
        return a + 7
    if v.answer_type == "matrix":
        return [[a[0][0] + 7, *a[0][1:]], *a[1:]]
    return [a[0] + 7, *a[1:]]


def without_general(v: Variant) -> Variant:
    return dataclasses.replace(v, mistakes=tuple(m for m in v.mistakes
                                                 if m.message not in MESSAGES))


MESSAGES = {det.message for det in d.DETECTORS}


def run(seeds: int) -> None:
    bank = load_bank()
    counts = dict.fromkeys(("cases", "named_now", "named_before", "accepted", "misnamed",
                            "slips", "slips_named", "unreadable"), 0)
    tags: dict[str, set[str]] = {}
    options = explained = 0
    for problem in bank.problems.values():
        for seed in range(seeds):
            v = generate(problem, seed)
            tags.setdefault(problem.id, set()).update(m.tag for m in v.mistakes)
            options, explained = _options(v, options, explained)
            if v.answer_type not in COMPUTED:
                continue
            cases = structural(v) + [(m.tag, m.value) for m in v.mistakes
                                     if m.message in MESSAGES]
            for tag, value in cases:
                if same_value(value, v.answer) or not value:
                    continue
                text = typed(v, value)
                if text is None:
                    continue
                counts["cases"] += 1
                now = _grade(v, text)
                before = _grade(without_general(v), text)
                if now is None:
                    counts["unreadable"] += 1
                    continue
                counts["accepted"] += now.correct
                counts["named_now"] += now.mistake is not None
                counts["named_before"] += (before is not None and before.mistake is not None
                                           and before.kind is None)  # no structural detector
                own = {m.tag for m in v.mistakes if same_value(m.value, value)}
                generic = {d.DIMENSIONS_REORDERED.tag, d.REARRANGED.tag} if sum(
                    same_value(value, other) for _, other in structural(v)) > 1 else set()
                if now.mistake in d.DETECTOR_TAGS and now.mistake != tag and now.mistake not in (
                        own | generic):
                    counts["misnamed"] += 1
                    if VERBOSE:
                        print("misnamed", v.problem_id, v.seed, tag, now.mistake, value, v.answer)
            text = typed(v, slip(v))
            result = _grade(v, text) if text else None
            if result is not None:
                counts["slips"] += 1
                counts["slips_named"] += result.mistake in d.DETECTOR_TAGS and not any(
                    same_value(m.value, slip(v)) for m in v.mistakes)
    computed = [pid for pid, p in bank.problems.items() if p.answer_type in COMPUTED]
    covered = sum(len(tags[pid]) >= 2 for pid in computed)
    c = counts
    print(f"bank: {len(bank.problems)} templates x {seeds} seeds; answer types: "
          f"{', '.join(REGISTRY)}")
    print(f"classic misconceptions typed: {c['cases']} ({c['unreadable']} refused as format "
          "errors)")
    print(f"  named, with the general detectors: {c['named_now']} "
          f"({c['named_now'] / c['cases']:.1%})")
    print(f"  named, template mistakes and families only: {c['named_before']} "
          f"({c['named_before'] / c['cases']:.1%}); ratio "
          f"{c['named_now'] / max(c['named_before'], 1):.2f}x")
    print(f"  wrong answers accepted: {c['accepted']}; misnamed: {c['misnamed']}")
    print(f"arithmetic slips typed: {c['slips']}; given a misconception name: {c['slips_named']}")
    print(f"computed templates with >= 2 mistakes: {covered} of {len(computed)} "
          f"({covered / len(computed):.0%})")
    print(f"wrong options (choice, multiselect, true/false) with an explanation: {explained} of "
          f"{options} ({explained / max(options, 1):.0%})")


def _grade(v: Variant, text: str):
    try:
        return grade_raw(v, text)
    except FormatError:
        return None


def _options(v: Variant, options: int, explained: int) -> tuple[int, int]:
    if v.answer_type == "truefalse":
        return options + 1, explained + any(m.value is (not v.answer) for m in v.mistakes)
    if v.answer_type not in ("choice", "multiselect") or not v.options:
        return options, explained
    right = {option_key(t) for t in (v.answer if isinstance(v.answer, list) else [v.answer])}
    for text in v.options:
        if option_key(text) in right:
            continue
        options += 1
        explained += any(
            (isinstance(m.value, str) and option_key(m.value) == option_key(text))
            or (isinstance(m.value, list) and option_key(text) in {option_key(str(x))
                                                                  for x in m.value})
            for m in v.mistakes)
    return options, explained


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("-v", action="store_true", help="print every misnamed case")
    run(parser.parse_args().seeds)


if __name__ == "__main__":
    main()
