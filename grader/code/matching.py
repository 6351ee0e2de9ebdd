"""Matching a wrong output against candidate buggy outputs: the pure half of the diagnosis.

This module imports nothing but NumPy and the standard library (no reference code, nothing
else from ``grader``), so it can run wherever a student's output and a list of candidates are
at hand. :mod:`grader.code.diagnosis` computes the candidates from the reference; this module
only compares.

Contract (stable):

- A :data:`Candidate` is ``(sentence, array)``: the sentence names one classic bug, the array
  is the output that bug gives on the test's inputs.
- :func:`match` returns the sentence of the first candidate that ``got`` equals, whole or by one
  of its *parts*: a crop at any offset (a bug that moves the windows keeps the output's size
  and gives a part of the larger buggy result), a strided part, or (with ``expected``) the
  candidate in some channels or examples while the others are right, which prefixes the
  sentence with where ("Channel 0 is wrong and the other channels are right."). A candidate,
  or a part of one, that equals ``expected`` is never blamed. None when nothing matches.
- :func:`describe_where` says where a same-shaped output is wrong, in words, or None.
- :func:`explain` is the whole pure diagnosis of a wrong value: the integer-array sentence,
  else :func:`match`, else (same shape) :func:`describe_where`.
- ``hidden=True`` (a hidden test) leaves every position and index out of the sentences.
- Values are compared as float64 with ``rtol=RTOL, atol=ATOL`` (:func:`same`, :func:`close`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np

Candidate = tuple[str, np.ndarray]  # (the sentence naming a bug, the output that bug gives)

RTOL, ATOL = 1e-5, 1e-7
MAX_STRIDE = 3  # strided parts taken every 2nd and 3rd row and column

INTEGER_ARRAY = ("Your result is an integer array, which truncates values: create arrays with "
                 "np.zeros(shape) (float) and avoid integer division //.")


def same(got: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Element-wise: True where ``got`` equals ``expected`` within the matching tolerance."""
    return np.isclose(np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64),
                      rtol=RTOL, atol=ATOL)


def close(got: np.ndarray, other: np.ndarray) -> bool:
    """``got`` and ``other`` have one shape and equal values (a non-empty output)."""
    got, other = np.asarray(got), np.asarray(other)
    return got.shape == other.shape and got.size > 0 and bool(same(got, other).all())


# ----------------------------------------------------------------------------------- parts
def parts(candidate: np.ndarray, shape: tuple[int, ...]) -> Iterator[np.ndarray]:
    """The candidate itself, then its crops and strided parts that have ``shape``.

    Crops start at the top-left and then at every other offset; strided parts take every
    k-th position of each axis longer than ``shape`` (k up to :data:`MAX_STRIDE`), cropped.
    """
    candidate = np.asarray(candidate)
    if candidate.ndim != len(shape):
        return
    if candidate.shape == shape:
        yield candidate
        return
    if any(c < g for c, g in zip(candidate.shape, shape, strict=True)):
        return
    yield from _crops(candidate, shape)
    for k in range(2, MAX_STRIDE + 1):
        step = tuple(slice(None, None, k) if c > g else slice(None)
                     for c, g in zip(candidate.shape, shape, strict=True))
        strided = candidate[step]
        if strided.shape != candidate.shape and all(
                s >= g for s, g in zip(strided.shape, shape, strict=True)):
            yield strided[tuple(slice(0, g) for g in shape)]


def _crops(candidate: np.ndarray, shape: tuple[int, ...]) -> Iterator[np.ndarray]:
    spare = [c - g for c, g in zip(candidate.shape, shape, strict=True)]
    offsets = np.ndindex(*(s + 1 for s in spare))
    for start in offsets:  # (0, 0, ...) first: the top-left crop
        yield candidate[tuple(slice(o, o + g) for o, g in zip(start, shape, strict=True))]


# ---------------------------------------------------------------------------------- matching
def match(got: np.ndarray, candidates: Iterable[Candidate],
          expected: np.ndarray | None = None, *, hidden: bool = False) -> str | None:
    """The sentence of the first candidate ``got`` equals, whole or by a part; else None.

    With ``expected``, a candidate equal to it is skipped (a bug that changes nothing on this
    test cannot be told apart from it), parts are taken only when ``got`` has the expected
    shape, and a 4-D ``got`` that equals a candidate in some channels or examples and
    ``expected`` in the others is named too, with where.
    """
    got = np.asarray(got)
    seen: list[Candidate] = []
    for sentence, array in candidates:
        array = np.asarray(array)
        if expected is not None and close(expected, array):
            continue
        seen.append((sentence, array))
        if _whole_or_part(got, array, expected):
            return sentence
    if expected is None or got.ndim != 4 or got.shape != np.shape(expected):
        return None
    for sentence, array in seen:
        if array.shape == got.shape:
            where = _partly(got, np.asarray(expected), array, hidden)
            if where is not None:
                return f"{where} {sentence}"
    return None


def _whole_or_part(got: np.ndarray, array: np.ndarray, expected: np.ndarray | None) -> bool:
    if expected is not None and got.shape != np.shape(expected):
        return close(got, array)  # a wrong shape is named only by a whole candidate
    for part in parts(array, got.shape):
        if expected is not None and close(expected, part):
            continue  # this part is right: it cannot name a bug
        if close(got, part):
            return True
    return False


AXES = ((3, "channel", "channels"), (0, "example", "examples"))


def _partly(got: np.ndarray, expected: np.ndarray, candidate: np.ndarray,
            hidden: bool) -> str | None:
    """Where ``got`` is the candidate in some slices of an axis and right in all the others."""
    for axis, one, many in AXES:
        n = got.shape[axis]
        if n < 2:
            continue
        is_right = [close(np.take(got, k, axis), np.take(expected, k, axis)) for k in range(n)]
        is_bug = [close(np.take(got, k, axis), np.take(candidate, k, axis)) for k in range(n)]
        wrong = [k for k in range(n) if is_bug[k] and not is_right[k]]
        if wrong and len(wrong) < n and all(r or b for r, b in zip(is_right, is_bug,
                                                                   strict=True)):
            return _where_words(wrong, one, many, hidden)
    return None


def _where_words(wrong: Sequence[int], one: str, many: str, hidden: bool) -> str:
    if hidden:
        return (f"One {one} is wrong and the others are right." if len(wrong) == 1 else
                f"Some {many} are wrong and the others are right.")
    if len(wrong) == 1:
        return f"{one.capitalize()} {wrong[0]} is wrong and the other {many} are right."
    return f"{many.capitalize()} {_spans(np.asarray(wrong))} are wrong and the others are right."


def explain(got: np.ndarray, expected: np.ndarray, candidates: Iterable[Candidate], *,
            hidden: bool = False) -> str | None:
    """The sentence naming the bug behind a wrong value, else where it is wrong, else None."""
    got, expected = np.asarray(got), np.asarray(expected)
    if got.dtype.kind in "iu" and expected.dtype.kind == "f":
        return INTEGER_ARRAY
    named = match(got, candidates, expected, hidden=hidden)
    if named is not None or got.shape != expected.shape:
        return named
    return describe_where(got, expected, hidden=hidden)


# ----------------------------------------------------------------------------- where, in words
def _wrong_cells(got: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """(n_H, n_W) booleans: True where any example or channel is wrong (4-D outputs)."""
    bad = ~same(got, expected)
    return bad.any(axis=(0, 3)) if bad.ndim == 4 else bad


def _spans(indices: np.ndarray) -> str:
    return ", ".join(str(int(i)) for i in indices[:6]) + (", ..." if len(indices) > 6 else "")


def describe_where(got: np.ndarray, expected: np.ndarray, *, hidden: bool = False
                   ) -> str | None:
    """Where a same-shaped output is wrong, in words, when the wrong cells form a pattern.

    None when everything is wrong without a pattern (nothing useful to say) or the output is
    not a grid. A hidden test gets only the sentences without positions.
    """
    if got.ndim not in (2, 4) or got.shape[-2 if got.ndim == 2 else 1] < 2:
        return None
    bad = _wrong_cells(got, expected)
    if not bad.any():
        return None
    if not bad[0].any() and not bad[:, 0].any() and bad[1:, 1:].all():
        return ("Row 0 and column 0 are right, every other position is wrong: check how the "
                "window moves (its start is h * stride and w * stride).")
    if bad[-1].all() and bad[:, -1].all() and not bad[:-1, :-1].any():
        return ("Only the last row and column are wrong: check where each window ends and "
                "the output size.")
    inner = bad[1:-1, 1:-1]
    if bad.shape[0] > 2 and bad.shape[1] > 2 and not inner.any():
        return "The inside is right and only the border is wrong: check the padding."
    if got.ndim == 4 and got.shape[0] > 1:
        right = same(got, expected)
        if right[0].all() and not right[1:].any():
            return ("Example 0 is right and every later example is wrong: check the loop over "
                    "the examples (i), and that each example starts from fresh arrays.")
    if got.ndim == 4:
        right = same(got, expected).all(axis=(0, 1, 2))
        if right.any() and not right.all() and bad.all():
            return ("Some channels are right and others wrong: check that each filter c uses "
                    "its own W[..., c] and b[..., c].")
    if bad.all() or hidden:
        return None
    rows = np.flatnonzero(bad.any(axis=1))
    cols = np.flatnonzero(bad.any(axis=0))
    return (f"{int(bad.sum())} of {bad.size} positions are wrong, in rows {_spans(rows)} and "
            f"columns {_spans(cols)}; the rest are right.")
