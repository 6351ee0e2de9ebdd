"""Per-problem statistics over plain data, the one home of item analysis (difficulty,
discrimination, common wrong answers, histograms): no database, no Flask, easy to test.

The input is one `Attempt` per stored submission; the web layer builds them from rows. Scores are
fractions of the item's points (0..1), as stored on `Submission.score`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

GROUP_FRACTION = 0.27  # Kelley's upper and lower 27 % groups
DEFAULT_BINS = 10


@dataclass(frozen=True)
class Attempt:
    """One graded submission of one student to one problem."""

    user_id: int
    attempt: int
    score: float
    correct: bool
    answer: str  # how the answer was read (canonical text), falling back to the raw text
    mistake: str | None = None


@dataclass(frozen=True)
class WrongAnswer:
    answer: str
    mistake: str | None
    count: int


@dataclass(frozen=True)
class MistakeCount:
    """How often one named mistake (an expected mistake's or a general detector's tag) was
    made: wrong answers in all and students who made it at least once."""

    tag: str
    count: int
    students: int


@dataclass(frozen=True)
class ProblemStats:
    """What the statistics page shows for one problem of a set."""

    students: int  # students with at least one submission
    attempts: int  # submissions in all
    first_try_correct: float | None  # fraction of students right on attempt 1
    mean_score: float | None  # mean over students of their best score
    discrimination: float | None  # upper minus lower group mean best score
    wrong_answers: tuple[WrongAnswer, ...]
    best_scores: tuple[float, ...]
    mistakes: tuple[MistakeCount, ...] = ()  # wrong answers grouped by the mistake named
    unnamed: int = 0  # wrong answers that matched no named mistake


def best_scores(attempts: Iterable[Attempt]) -> dict[int, float]:
    """Each student's best score."""
    best: dict[int, float] = {}
    for a in attempts:
        best[a.user_id] = max(best.get(a.user_id, 0.0), float(a.score))
    return best


def first_try_correct(attempts: Iterable[Attempt]) -> float | None:
    """Fraction of students whose first attempt was correct (None when nobody answered)."""
    first: dict[int, Attempt] = {}
    for a in attempts:
        if a.user_id not in first or a.attempt < first[a.user_id].attempt:
            first[a.user_id] = a
    if not first:
        return None
    return sum(1 for a in first.values() if a.correct) / len(first)


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def discrimination(item_scores: Mapping[int, float], totals: Mapping[int, float],
                   fraction: float = GROUP_FRACTION) -> float | None:
    """Upper-minus-lower discrimination index of one item.

    Parameters
    ----------
    item_scores : mapping of user id to the student's score on the item (0..1)
    totals : mapping of user id to the student's total score on the whole set
    fraction : size of each group as a fraction of the students, 0 < fraction <= 0.5

    Returns
    -------
    float or None
        ``mean(item score | upper group) - mean(item score | lower group)``, in [-1, 1];
        None with fewer than two students.

    Notes
    -----
    Students are ranked by their set total (ties broken by user id, so the result is
    deterministic); each group has ``max(1, round(fraction * n))`` students. Students who never
    answered the item count as 0 on it when they have a total.
    """
    if not 0 < fraction <= 0.5:
        raise ValueError(f"fraction must be in (0, 0.5], got {fraction!r}")
    ranked = sorted(totals, key=lambda uid: (-totals[uid], uid))
    if len(ranked) < 2:
        return None
    size = max(1, round(fraction * len(ranked)))
    upper = [item_scores.get(uid, 0.0) for uid in ranked[:size]]
    lower = [item_scores.get(uid, 0.0) for uid in ranked[-size:]]
    return sum(upper) / size - sum(lower) / size


def common_wrong_answers(attempts: Iterable[Attempt], limit: int = 5) -> tuple[WrongAnswer, ...]:
    """The most frequent wrong answers with the mistake tag they matched, most common first."""
    counts: Counter[tuple[str, str | None]] = Counter(
        (a.answer.strip(), a.mistake) for a in attempts if not a.correct)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0][0], kv[0][1] or ""))
    return tuple(WrongAnswer(answer, mistake, n) for (answer, mistake), n in ranked[:limit])


def mistake_counts(attempts: Iterable[Attempt]) -> tuple[MistakeCount, ...]:
    """Wrong answers grouped by the mistake they were named with, most frequent first (ties by
    tag); answers that matched no mistake are left out (see :func:`unnamed_wrong`)."""
    counts: Counter[str] = Counter()
    students: dict[str, set[int]] = {}
    for a in attempts:
        if not a.correct and a.mistake:
            counts[a.mistake] += 1
            students.setdefault(a.mistake, set()).add(a.user_id)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return tuple(MistakeCount(tag, n, len(students[tag])) for tag, n in ranked)


def unnamed_wrong(attempts: Iterable[Attempt]) -> int:
    """How many wrong answers matched no named mistake."""
    return sum(1 for a in attempts if not a.correct and not a.mistake)


def merge_mistakes(groups: Iterable[Sequence[MistakeCount]]) -> tuple[MistakeCount, ...]:
    """Mistake counts of several problems added up (students summed per problem: a student who
    makes the mistake on two problems counts twice), most frequent first."""
    counts: Counter[str] = Counter()
    students: Counter[str] = Counter()
    for group in groups:
        for m in group:
            counts[m.tag] += m.count
            students[m.tag] += m.students
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return tuple(MistakeCount(tag, n, students[tag]) for tag, n in ranked)


def topic_mistakes(cards: Iterable[Mapping]) -> tuple[tuple[str, tuple[MistakeCount, ...]], ...]:
    """Per topic (in the order topics first appear), the mistakes of its problems added up;
    ``cards`` are the statistics page's cards (``problem`` with a ``topic``, ``stats``)."""
    by_topic: dict[str, list[Sequence[MistakeCount]]] = {}
    for card in cards:
        problem = card.get("problem")
        topic = getattr(problem, "topic", None) or "(problem no longer in the bank)"
        by_topic.setdefault(topic, []).append(card["stats"].mistakes)
    return tuple((topic, merge_mistakes(groups)) for topic, groups in by_topic.items())


def problem_stats(attempts: Sequence[Attempt], totals: Mapping[int, float]) -> ProblemStats:
    """All the statistics of one problem; `totals` ranks students for the discrimination."""
    best = best_scores(attempts)
    return ProblemStats(
        students=len(best), attempts=len(attempts),
        first_try_correct=first_try_correct(attempts),
        mean_score=mean(list(best.values())),
        discrimination=discrimination(best, totals) if best else None,
        wrong_answers=common_wrong_answers(attempts),
        best_scores=tuple(sorted(best.values())),
        mistakes=mistake_counts(attempts),
        unnamed=unnamed_wrong(attempts),
    )


def histogram(values: Iterable[float], bins: int = DEFAULT_BINS) -> tuple[int, ...]:
    """Counts of values in [0, 1] over `bins` equal bins; 1.0 falls in the last bin."""
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins!r}")
    counts = [0] * bins
    for value in values:
        if not 0.0 <= value <= 1.0 or math.isnan(value):
            raise ValueError(f"scores must be fractions in [0, 1], got {value!r}")
        counts[min(int(value * bins), bins - 1)] += 1
    return tuple(counts)


def histogram_svg(values: Iterable[float], bins: int = DEFAULT_BINS, *, width: int = 360,
                  height: int = 150, label: str = "Best score per student") -> Markup:
    """An inline SVG bar chart of `histogram(values)` (presentation attributes only, no CSS)."""
    counts = histogram(values, bins)
    top = max(counts) or 1
    left, right, bottom, pad = 28, 16, 22, 6
    plot_w, plot_h = width - left - right, height - bottom - pad
    bar_w = plot_w / bins
    parts = [f'<svg class="histogram" xmlns="http://www.w3.org/2000/svg" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(label)}"><title>{escape(label)}</title>',
             f'<line x1="{left}" y1="{pad + plot_h}" x2="{width - right}" y2="{pad + plot_h}" '
             'stroke="#667" stroke-width="1"/>',
             f'<text x="{left - 4}" y="{pad + 10}" text-anchor="end" font-size="10" '
             f'fill="#556">{top}</text>',
             f'<text x="{left - 4}" y="{pad + plot_h}" text-anchor="end" font-size="10" '
             'fill="#556">0</text>']
    for i, count in enumerate(counts):
        h = plot_h * count / top
        x = left + i * bar_w
        parts.append(f'<rect x="{x + 1:.1f}" y="{pad + plot_h - h:.1f}" width="{bar_w - 2:.1f}" '
                     f'height="{h:.1f}" fill="#3451b2"><title>{_bin_label(i, bins)}: {count}'
                     '</title></rect>')
    for i in range(0, bins + 1, max(1, bins // 5)):
        parts.append(f'<text x="{left + i * bar_w:.1f}" y="{height - 6}" text-anchor="middle" '
                     f'font-size="10" fill="#556">{round(100 * i / bins)}%</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _bin_label(i: int, bins: int) -> str:
    low, high = round(100 * i / bins), round(100 * (i + 1) / bins)
    return f"{low}–{high}%"
