"""The likely-bug search: the one home of naming the bug behind a wrong code-exercise output.

Runs in the trusted grader on the grader's own copies of a test's inputs. Each *bug family*
is the reference with one classic mistake, written as a small function of the inputs (kernel
flipped, bias missing or doubled or per element, window start h instead of h * stride, window
end from the stride, = instead of +=, mask by the mean or along one axis, distribute_value by
one side, hyperparameters read from the wrong key, NCHW output, windows cut from the unpadded
input, ...); only the families of the
function under test run. Comparing the student's output with the families' outputs and their
parts (crops, strides, channels, examples), and saying where an output is wrong in words when
no family matches, is :mod:`grader.code.matching`, which imports no reference code.

Contract (stable):

- :func:`candidates` ``(func, args, kwargs, name, hidden) -> list[(sentence, array)]``: the
  evaluated outputs of the families of ``func`` on a test's inputs, for the compared output
  ``name``; this is what :func:`grader.code.matching.explain` matches against.
- :func:`explain_values` names the bug behind a wrong value (``matching.explain`` over the
  candidates, evaluated lazily); :func:`explain_shape`, :func:`size_formula` and
  :func:`explain_exception` explain wrong shapes and exceptions (a window that cannot
  broadcast with W, of a shape only windows past the unpadded input's edge or sizes rounded
  up cut, names that bug); :func:`picture_of` cuts one
  example and one channel of a wrong output for the report's picture (public tests only).

Hidden tests get the same diagnoses, except that no sentence states the test's settings (its
mode, its pad) or positions: with ``hidden=True`` those sentences say "the other mode" instead,
or are worded without the setting, or are left out.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np

from grader import reference
from grader.code.functions import edge_filter
from grader.code.matching import Candidate, explain, same
from grader.code.report import Picture
from grader.sandbox import Frame

FORGOT_CACHE = ("{func} must return two things, (output, cache): it looks like you forgot to "
                "return the cache that the backward pass needs.")
SCALAR_HINT = ("conv_single_step should return one number: np.sum(...) + b is an array of shape "
               "(1, 1, 1) because b is; add b.item() (or float(b[0, 0, 0])) instead.")
FLOAT_B = ("float(b) on the (1, 1, 1) bias raises TypeError since NumPy 2.4 (it was only a "
           "warning before): use b.item() or np.squeeze(b) to get the number.")
EMPTY_SLICE = ("At pad = 0, X[pad:-pad] is X[0:0], an empty slice: crop the padding with "
               "X[pad:pad + n_H_prev, pad:pad + n_W_prev] (or skip cropping when pad is 0).")
# The same advice without the test's setting, for hidden tests (their pad is not told).
EMPTY_SLICE_HIDDEN = ("X[pad:-pad] is empty when pad is 0 (it is X[0:0]): crop the padding "
                      "with X[pad:X.shape[0] - pad] (or X[pad:pad + n_H_prev]), which works "
                      "for every pad.")


def empty_slice(hidden: bool) -> str:
    """The [pad:-pad] advice; a hidden test's wording does not say that its pad is 0."""
    return EMPTY_SLICE_HIDDEN if hidden else EMPTY_SLICE
OVERWRITE = ("Pooling windows overlap here (stride < f), so several windows send gradient to "
             "the same input: accumulate with +=, not =.")

Mutation = tuple[str, Callable[[], Any]]

WINDOW_START = ("the window's start must move by stride: vert_start = h * stride and "
                "horiz_start = w * stride, not h and w.")
WINDOW_END = ("the window must end f past its start (vert_end = vert_start + f), not stride "
              "past it.")


# ------------------------------------------------------------------------- bug families
# Padding the wrong axes, as the convolution then sees its input: (what to say, the input
# padded that way but for the pad the convolution still adds, that pad). The batch axis padded
# too shifts the examples (example i reads a zero one, or another); one side padded with
# 2 * pad keeps the output's size but moves every window.
PAD_AXES = "pad only height and width, on both sides: ((0, 0), (pad, pad), (pad, pad), (0, 0))."


def _wrong_pads(A: np.ndarray, pad: int) -> list[tuple[str, np.ndarray, int]]:
    if pad == 0:
        return []
    none = (0, 0)
    batch = np.pad(A, ((pad, pad), none, none, none))[: A.shape[0]]
    before = np.pad(A, (none, (2 * pad, 0), (2 * pad, 0), none))
    after = np.pad(A, (none, (0, 2 * pad), (0, 2 * pad), none))
    batch_words = ("an input padded along the batch axis too (example i then reads a padding "
                   "example or another example): " + PAD_AXES)
    side_words = "an input padded on one side only (zeros before, or after): " + PAD_AXES
    once = [np.pad(A, (none, side, side, none)) for side in ((pad, 0), (0, pad))]
    return [(batch_words, batch, pad), (side_words, before, 0), (side_words, after, 0),
            *((side_words, wrong, 0) for wrong in once)]


# Each family is the reference with one classic mistake, written as a small function of the
# test's inputs. The search compares the student's output with each family's output and with
# its parts (a crop, when a bug changes the size), in every function the bug can occur in.
def _conv_mutations(A: np.ndarray, W: np.ndarray, b: np.ndarray, hp: Mapping) -> list[Mutation]:
    def z(A=A, W=W, b=b, **changes: int) -> np.ndarray:
        return reference.conv_forward(A, W, b, {**hp, **changes})[0]

    m, n_H, n_W, n_C = z().shape
    f, n_C_prev = W.shape[0], W.shape[2]
    padded = [(f"Your output matches the convolution of {words}",
               partial(z, A=wrong, pad=pad)) for words, wrong, pad in _wrong_pads(A, hp["pad"])]
    return padded + [
        ("Your output matches a convolution with the kernel flipped: deep-learning "
         "'convolution' is cross-correlation, so don't flip W.", lambda: z(W=W[::-1, ::-1])),
        ("Your output matches the convolution without the bias: add b[..., c] for each filter.",
         lambda: z(b=np.zeros_like(b))),
        ("Your output matches the convolution with the bias added twice: add b once per output.",
         lambda: z(b=2 * b)),
        ("Your output matches the bias added to every element of the window before the sum: "
         "add b once, after np.sum(a_slice_prev * W).", lambda: z(b=b * f * f * n_C_prev)),
        ("Your output matches the convolution with pad read from hparameters['stride']: read "
         "pad from hparameters['pad'].", lambda: z(pad=hp["stride"])),
        ("Your output matches a convolution with stride 1 (the window does not move by the "
         "stride): " + WINDOW_START, lambda: z(stride=1)),
        ("Your output matches the convolution with stride read from hparameters['pad']: read "
         "stride from hparameters['stride'].", lambda: z(stride=hp["pad"])),
        ("Your output matches windows of one pixel, each times the whole kernel: "
         + WINDOW_END, lambda: z(W=W.sum(axis=(0, 1), keepdims=True))),
        ("Your output matches a convolution without padding: pad A_prev with zero_pad first.",
         lambda: z(pad=0)),
        *([(UNPADDED, lambda: _unpadded_windows(A, W, b, hp))] if hp["pad"] else []),
        ("Your output has the channels before height and width (NCHW): the course's layout is "
         "(m, n_H, n_W, n_C).", lambda: z().transpose(0, 3, 1, 2)),
        ("Your output has the right values but misses the last row and column: don't forget "
         "the +1 in floor((n + 2p - f) / s) + 1.", lambda: z()[:, : n_H - 1, : n_W - 1]),
        ("Your values are truncated to whole numbers: keep Z a float array and avoid //.",
         lambda: np.trunc(z())),
    ]


# conv_forward's windows slid over the unpadded input (zero_pad forgotten, or A_prev[i] taken
# instead of A_prev_pad[i]) while the output size counts the padding: the last windows run
# past the input's edge, and come out short (a short side of 1 still broadcasts with W, so the
# values are silently wrong; any other short side raises). And the size rounded up (np.ceil):
# the last window hangs over the padded input's edge.
UNPADDED = ("Your windows slide over the unpadded input: the output size counts the padding, "
            "but the windows are cut from A_prev itself, so the last ones run past its edge. "
            "Pad first, A_prev_pad = zero_pad(A_prev, pad), and cut every window from "
            "A_prev_pad[i], not A_prev[i].")
CEIL_OVERHANG = ("Your last window hangs over the edge of the padded input: the output size "
                 "must round down, n_H = floor((n_H_prev + 2 * pad - f) / stride) + 1 (with "
                 "int(...) or //), not up with np.ceil.")


def _unpadded_windows(A: np.ndarray, W: np.ndarray, b: np.ndarray, hp: Mapping) -> np.ndarray:
    """The course's loop over windows cut from the unpadded ``A``, for the padded output size:
    a short window is multiplied by W with NumPy's broadcasting (and raises when it cannot)."""
    f, s, p = W.shape[0], hp["stride"], hp["pad"]
    m, n_H_prev, n_W_prev, _ = A.shape
    n_H, n_W = (n_H_prev + 2 * p - f) // s + 1, (n_W_prev + 2 * p - f) // s + 1
    Z = np.zeros((m, n_H, n_W, W.shape[3]))
    for h in range(n_H):
        for w in range(n_W):
            window = A[:, h * s:h * s + f, w * s:w * s + f, :, None]
            Z[:, h, w, :] = np.sum(window * W[None], axis=(1, 2, 3)) + b.reshape(-1)
    return Z


def _unbroadcastable_windows(n: tuple[int, int], counts: tuple[int, int], f: int, s: int
                             ) -> set[tuple[int, int]]:
    """The (rows, columns) of the windows h * s : h * s + f over an ``n`` input, for ``counts``
    output positions, that cannot broadcast with an f by f kernel."""
    def sides(size: int, count: int) -> set[int]:
        return {max(0, min(k * s + f, size) - min(k * s, size)) for k in range(count)}

    rows, cols = sides(n[0], counts[0]), sides(n[1], counts[1])
    return {(r, c) for r in rows for c in cols if r not in (1, f) or c not in (1, f)}


def _overhanging_window(args: tuple, exc_msg: str) -> str | None:
    """UNPADDED or CEIL_OVERHANG when a broadcast error's window shape is one that bug cuts."""
    try:
        A, W, _, hp = args
        (_, n_H, n_W, n_C_prev), f, s, p = A.shape, W.shape[0], int(hp["stride"]), int(hp["pad"])
    except (TypeError, ValueError, KeyError, AttributeError):
        return None
    if s <= 0:
        return None
    shapes = [tuple(int(k) for k in found.replace(" ", "").split(",") if k)
              for found in re.findall(r"\(([\d, ]+)\)", exc_msg)]
    seen = {shape[-3:-1] for shape in shapes if len(shape) >= 3 and shape[-1] == n_C_prev}
    floor = ((n_H + 2 * p - f) // s + 1, (n_W + 2 * p - f) // s + 1)
    ceil = tuple(math.ceil((n + 2 * p - f) / s) + 1 for n in (n_H, n_W))
    if p and seen & _unbroadcastable_windows((n_H, n_W), floor, f, s):
        return UNPADDED
    if ceil != floor and seen & _unbroadcastable_windows((n_H + 2 * p, n_W + 2 * p), ceil, f, s):
        return CEIL_OVERHANG
    return None


def _pool_mutations(A: np.ndarray, hp: Mapping, mode: str, hidden: bool) -> list[Mutation]:
    other = "average" if mode == "max" else "max"

    def a(mode: str = mode, **changes: int) -> np.ndarray:
        return reference.pool_forward(A, {**hp, **changes}, mode=mode)[0]

    swapped = ("Your output matches the other pooling mode" if hidden else
               f"Your output matches {other} pooling, but this test asks for {mode} pooling")
    mutations = [
        (f"{swapped}: check how you use the mode argument.", lambda: a(mode=other)),
        ("Your output matches pooling with stride 1 (the window does not move by the "
         "stride): " + WINDOW_START, lambda: a(stride=1)),
        ("Your output matches pooling with stride = f: use hparameters['stride'], not f.",
         lambda: a(stride=hp["f"])),
        ("Your output matches pooling over windows of size stride: " + WINDOW_END,
         lambda: a(f=hp["stride"])),
        ("Your output has the channels before height and width (NCHW): the course's layout is "
         "(m, n_H, n_W, n_C).", lambda: a().transpose(0, 3, 1, 2)),
    ]
    f = hp["f"]
    zeros_for = "one of the modes" if hidden else f"mode={mode!r}"
    mutations.append((f"Your output is all zeros for {zeros_for}: nothing was computed, so check "
                      "that your mode test matches the strings 'max' and 'average' exactly "
                      "(not 'avg' or 'mean').", lambda: np.zeros_like(a())))
    if f > 1:
        mutations.append(("Your output matches windows one short (f - 1 wide): a slice's end "
                          "is already left out, so vert_end = vert_start + f, without - 1.",
                          lambda: a(f=f - 1)))
    if mode == "average":
        mutations.append(("Your averages are rounded down: integer division // truncates; use "
                          "np.mean(window) or / (f * f).", lambda: np.floor(a())))
        mutations.append(("Your output is each window's sum, not its average: divide by the "
                          "window's f * f values (or use np.mean).", lambda: a() * f * f))
        mutations.append(("Your output divides each window's sum by f: an average divides by "
                          "all f * f values of the window (or use np.mean).", lambda: a() * f))
    return mutations


def _conv_backward_variant(dZ: np.ndarray, A: np.ndarray, W: np.ndarray, hp: Mapping, *,
                           step: int | None = None, overwrite: bool = False,
                           flip: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The course's loop conv_backward (vectorized over examples and filters), with a bug.

    ``step`` is how far the window moves (the stride unless a bug says otherwise);
    ``overwrite`` writes dA_prev's window with = (the last filter wins) instead of +=.
    """
    f, pad = W.shape[0], hp["pad"]
    step = hp["stride"] if step is None else step
    kernel = W[::-1, ::-1] if flip else W
    A_pad = np.pad(A, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    dA_pad = np.zeros_like(A_pad, dtype=np.float64)
    dW = np.zeros(W.shape)
    for h in range(dZ.shape[1]):
        for w in range(dZ.shape[2]):
            rows, cols = slice(h * step, h * step + f), slice(w * step, w * step + f)
            g = dZ[:, h, w, :]
            if overwrite:
                dA_pad[:, rows, cols, :] = kernel[None, ..., -1] * g[:, None, None, None, -1]
            else:
                dA_pad[:, rows, cols, :] += np.einsum("fgkc,mc->mfgk", kernel, g)
            dW += np.einsum("mfgk,mc->fgkc", A_pad[:, rows, cols, :], g)
    n_H, n_W = A.shape[1], A.shape[2]
    db = dZ.sum(axis=(0, 1, 2)).reshape(1, 1, 1, -1)
    return dA_pad[:, pad:pad + n_H, pad:pad + n_W, :], dW, db


def _all_zeros(pad: int, hidden: bool) -> str:
    """dA_prev all zeros; a hidden test gets one sentence for every pad (it does not tell it)."""
    write = "check that you write the cropped da_prev_pad into dA_prev[i]"
    if hidden:
        return f"dA_prev is all zeros: {write}. {EMPTY_SLICE_HIDDEN}"
    return "dA_prev is all zeros: " + (EMPTY_SLICE if pad == 0 else write + ".")


def _conv_backward_mutations(name: str, dZ: np.ndarray, cache: tuple, hidden: bool
                             ) -> list[Mutation]:
    A, W, b, hp = cache
    index = {"dA_prev": 0, "dW": 1, "db": 2}[name]

    def grads(dZ=dZ, A=A, W=W) -> tuple:
        return reference.conv_backward(dZ, (A, W, b, hp))

    def variant(**bug: Any) -> np.ndarray:
        return _conv_backward_variant(dZ, A, W, hp, **bug)[index]

    m = A.shape[0]
    mutations: list[Mutation] = [
        (f"{name} matches the gradient with windows that do not move by the stride: "
         + WINDOW_START, lambda: variant(step=1)),
        (f"{name} matches the gradient with pad read from hparameters['stride']: read pad "
         "from hparameters['pad'].",
         lambda: _conv_backward_variant(dZ, A, W, {**hp, "pad": hp["stride"]})[index]),
    ]
    if name == "dA_prev":
        mutations.append((_all_zeros(hp["pad"], hidden), lambda: np.zeros_like(A)))
        mutations.append(("dA_prev matches the gradient with the kernel flipped: use W as it "
                          "is, as in the forward pass.", lambda: grads(W=W[::-1, ::-1])[0]))
        mutations.append(("dA_prev matches windows written with = instead of +=: windows "
                          "overlap and every filter adds to them, so accumulate with +=.",
                          lambda: variant(overwrite=True)))
    if name in ("dW", "db"):
        last = (f"{name} matches the last example's gradient alone: it must be summed over the "
                f"batch (use +=, and don't reset {name} inside the loop over examples).")
        mutations.append((last, lambda: grads(dZ=dZ[-1:], A=A[-1:])[index]))
        mutations.append((f"{name} matches the average over the batch: the course's {name} is "
                          "the sum over the batch, without dividing by m.",
                          lambda: grads()[index] / m))
    if name in ("dW", "db"):
        n_H, n_W = dZ.shape[1], dZ.shape[2]
        mutations.append((f"{name} matches the gradient divided by the number of positions "
                          f"n_H * n_W: the course's {name} is the sum over every position, "
                          "without dividing.", lambda: grads()[index] / (n_H * n_W)))
        mutations.append((f"{name} matches the mean over the examples and positions: the "
                          f"course's {name} is the sum, without dividing by m * n_H * n_W.",
                          lambda: grads()[index] / (m * n_H * n_W)))
    if name == "dW":
        # Before the wrong pads: at a large pad the last window and a padded batch both give
        # zeros, and = instead of += is by far the more common bug.
        mutations.append(("dW matches the last window's term alone: accumulate with += over "
                          "every window, not =.", lambda: _last_window_dW(dZ, A, W, hp)))
        mutations += _dW_axes(dZ, A, W, b, hp)
    if name == "db":
        mutations += _db_axes(dZ)
        mutations.append(("db looks like the sum over the wrong axes: sum dZ over the batch, "
                          "height and width (axes 0, 1, 2).",
                          lambda: dZ.sum(axis=(1, 2, 3)).reshape(-1)[: b.size].reshape(b.shape)))
        mutations.append(("db is the sum over every axis, channels too: sum dZ over axes 0, 1 "
                          "and 2 only, one value per filter.",
                          lambda: np.full(b.shape, dZ.sum())))
        mutations.append(("db matches the last position's term alone: accumulate with += "
                          "over every position, not =.",
                          lambda: dZ[-1, -1, -1, :].reshape(b.shape)))
    return mutations


def _dW_axes(dZ: np.ndarray, A: np.ndarray, W: np.ndarray, b: np.ndarray, hp: Mapping
             ) -> list[Mutation]:
    """dW summed over the wrong axes, and dW of an input padded on the wrong axes."""
    def dW(A=A, **changes: int) -> np.ndarray:
        return reference.conv_backward(dZ, (A, W, b, {**hp, **changes}))[1]

    def per_example() -> np.ndarray:
        return np.stack([reference.conv_backward(dZ[i:i + 1], (A[i:i + 1], W, b, hp))[1]
                         for i in range(A.shape[0])])

    mutations: list[Mutation] = [
        ("dW is summed over the input channels too (every input channel gets their sum): "
         "keep the channel axis, dW[:, :, :, c] += a_slice * dZ[i, h, w, c] has shape "
         "(f, f, n_C_prev).",
         lambda: np.broadcast_to(dW().sum(axis=2, keepdims=True), W.shape)),
        ("dW is summed over the filters too (every filter gets their sum): each filter c has "
         "its own gradient, dW[..., c], from dZ[..., c] alone.",
         lambda: np.broadcast_to(dW().sum(axis=3, keepdims=True), W.shape)),
        ("dW is summed over the input channels too: keep the channel axis, dW has W's shape "
         "(f, f, n_C_prev, n_C).", lambda: dW().sum(axis=2)),
        ("dW has one gradient per example: sum over the batch too (axis 0), so dW has W's "
         "shape (f, f, n_C_prev, n_C).", per_example),
    ]
    mutations += [(f"dW matches the gradient of {words}", partial(dW, A=wrong, pad=pad))
                  for words, wrong, pad in _wrong_pads(A, hp["pad"])]
    return mutations


DB_AXES = (0, 1, 2)


def _db_axes(dZ: np.ndarray) -> list[Mutation]:
    """db as dZ summed over every wrong set of axes, with and without keepdims."""
    right = ("sum dZ over the batch, height and width only, np.sum(dZ, axis=(0, 1, 2), "
             "keepdims=True): one value per filter, in b's shape (1, 1, 1, n_C).")
    mutations: list[Mutation] = [
        ("db has the right sums but not b's shape (1, 1, 1, n_C): keep the summed axes with "
         "keepdims=True, or reshape with .reshape(1, 1, 1, -1).",
         lambda: dZ.sum(axis=DB_AXES))]
    for size in range(1, 5):
        for axes in itertools.combinations(range(4), size):
            if axes == DB_AXES:
                continue
            words = "every axis" if size == 4 else f"axes {axes}"
            for keep in (True, False):
                mutations.append((f"db is dZ summed over {words}: {right}",
                                  partial(dZ.sum, axis=axes, keepdims=keep)))
    return mutations


def _last_window_dW(dZ: np.ndarray, A: np.ndarray, W: np.ndarray, hp: Mapping) -> np.ndarray:
    """dW written with = in the course's loop: each filter keeps its last window's term."""
    f, s, pad = W.shape[0], hp["stride"], hp["pad"]
    h, w = dZ.shape[1] - 1, dZ.shape[2] - 1
    window = np.pad(A[-1], ((pad, pad), (pad, pad), (0, 0)))[h * s:h * s + f, w * s:w * s + f]
    return window[..., None] * dZ[-1, h, w][None, None, None, :]


def _window_mask(window: np.ndarray, rule: str) -> np.ndarray:
    if rule == "mean":
        return window > window.mean()
    if rule == "mean_or_equal":
        return window >= window.mean()
    if rule in ("rows", "cols"):
        return window == window.max(axis=0 if rule == "rows" else 1, keepdims=True)
    if rule == "first":
        first = np.zeros(window.shape, dtype=bool)
        first[np.unravel_index(np.argmax(window), window.shape)] = True
        return first
    return window == window.max()


def _pool_backward_loop(dA: np.ndarray, A: np.ndarray, hp: Mapping, mode: str,
                        overwrite: bool = False, *, step: int | None = None,
                        size: int | None = None, argmax: bool = False, rule: str = "max",
                        share: Callable[[float, int, int], float] | None = None) -> np.ndarray:
    """The course's loop version of pool_backward, with one of its classic bugs.

    ``overwrite`` uses = for the whole window, ``argmax`` for the maxima only; ``step`` and
    ``size`` replace the window's move and size; ``rule`` is the mask; ``share`` what
    distribute_value gives each cell.
    """
    f, s = hp["f"], hp["stride"]
    step, size = s if step is None else step, f if size is None else size
    share = share or (lambda dz, n_H, n_W: dz / (n_H * n_W))
    out = np.zeros_like(A, dtype=np.float64)
    m, n_H, n_W, n_C = dA.shape
    for i in range(m):
        for h in range(n_H):
            for w in range(n_W):
                for c in range(n_C):
                    rows = slice(h * step, h * step + size)
                    cols = slice(w * step, w * step + size)
                    window = A[i, rows, cols, c]
                    if mode == "max":
                        mask = _window_mask(window, rule)
                        if argmax:
                            out[i, rows, cols, c][mask] = dA[i, h, w, c]
                            continue
                        grad = mask * dA[i, h, w, c]
                    else:
                        grad = np.full(window.shape, share(dA[i, h, w, c], *window.shape))
                    if overwrite:
                        out[i, rows, cols, c] = grad
                    else:
                        out[i, rows, cols, c] += grad
    return out


def _pool_backward_mutations(dA: np.ndarray, cache: tuple, mode: str, hidden: bool
                             ) -> list[Mutation]:
    A, hp = cache
    other = "average" if mode == "max" else "max"
    swapped = ("dA_prev matches the gradient of the other pooling mode: check how you use the "
               "mode argument." if hidden else
               f"dA_prev matches the {other}-pooling gradient, but this test uses mode={mode!r}.")

    def loop(**bug: Any) -> np.ndarray:
        return _pool_backward_loop(dA, A, hp, mode, **bug)

    mutations = [
        (OVERWRITE, lambda: loop(overwrite=True)),
        (swapped, lambda: reference.pool_backward(dA, cache, mode=other)),
        ("dA_prev matches windows that do not move by the stride: " + WINDOW_START,
         lambda: loop(step=1)),
        ("dA_prev matches windows of size stride: " + WINDOW_END,
         lambda: loop(size=hp["stride"])),
        ("dA_prev matches windows that move by f: use hparameters['stride'], not f, for the "
         "stride.", lambda: loop(step=hp["f"])),
    ]
    if mode == "max":
        mutations += [
            ("dA_prev matches gradients written with = at each window's maximum: windows "
             "overlap, so add the gradient (+= mask * dA) instead of setting it.",
             lambda: loop(argmax=True)),
            ("dA_prev matches a mask of the values above the window's mean: the mask marks "
             "the maximum, x == np.max(x).", lambda: loop(rule="mean")),
            ("dA_prev matches a mask of the values at or above the window's mean: the mask "
             "marks the maximum, x == np.max(x).", lambda: loop(rule="mean_or_equal")),
            ("dA_prev matches a mask of each column's (or row's) maximum: take the maximum of "
             "the whole window, np.max(x) without an axis.", lambda: loop(rule="rows")),
            ("dA_prev matches a mask of each column's (or row's) maximum: take the maximum of "
             "the whole window, np.max(x) without an axis.", lambda: loop(rule="cols")),
            ("dA_prev matches a mask that marks only the first of equal maxima (np.argmax): "
             "the course's rule, x == np.max(x), marks every maximum, and each gets the "
             "window's gradient.", lambda: loop(rule="first")),
        ]
    else:
        mutations += [(f"dA_prev matches a distribute_value that {text}", partial(loop, share=share))
                      for text, share in _SHARES]
    return mutations


# What a buggy distribute_value gives each cell of an (n_H, n_W) window, and what to say.
_SHARES: list[tuple[str, Callable[[float, int, int], float]]] = [
    ("does not divide: each cell should get dz / (n_H * n_W), not the whole dz (mind the "
     "parentheses: dz / n_H * n_W is dz again on a square window).", lambda dz, n_H, n_W: dz),
    ("computes dz / n_H * n_W, which divides by n_H and then multiplies by n_W: write "
     "dz / (n_H * n_W), with the parentheses.", lambda dz, n_H, n_W: dz / n_H * n_W),
    ("computes dz / n_W * n_H, which divides by n_W and then multiplies by n_H: write "
     "dz / (n_H * n_W), with the parentheses.", lambda dz, n_H, n_W: dz / n_W * n_H),
    ("divides by n_H + n_W: divide by the window's area n_H * n_W.",
     lambda dz, n_H, n_W: dz / (n_H + n_W)),
    ("divides by one side only: divide by n_H * n_W, the window's area.",
     lambda dz, n_H, n_W: dz / n_H),
    ("divides by one side only: divide by n_H * n_W, the window's area.",
     lambda dz, n_H, n_W: dz / n_W),
    ("uses integer division //, which rounds down: use dz / (n_H * n_W).",
     lambda dz, n_H, n_W: dz // (n_H * n_W)),
]


def _distribute_mutations(dz: float, shape: tuple[int, int]) -> list[Mutation]:
    return [(f"Your distribute_value {text}", lambda share=share: np.full(shape, share(dz, *shape)))
            for text, share in _SHARES]


def _mask_mutations(x: np.ndarray) -> list[Mutation]:
    first = np.zeros(x.shape, dtype=bool)
    first[np.unravel_index(np.argmax(x), x.shape)] = True
    return [
        ("Your mask marks the values above the window's mean: it must mark the maximum, "
         "x == np.max(x).", lambda: x > x.mean()),
        ("Your mask marks the values at or above the window's mean: it must mark the maximum, "
         "x == np.max(x).", lambda: x >= x.mean()),
        ("Your mask marks each column's maximum: take the maximum of the whole window, "
         "np.max(x) without an axis.", lambda: _window_mask(x, "rows")),
        ("Your mask marks each row's maximum: take the maximum of the whole window, "
         "np.max(x) without an axis.", lambda: _window_mask(x, "cols")),
        ("Your mask is all False: x > np.max(x) marks nothing; use x == np.max(x).",
         lambda: np.zeros(x.shape, dtype=bool)),
        ("Your mask marks only one of several equal maxima: the course's rule, x == np.max(x), "
         "marks every maximum.", lambda: first),
    ]


def _signal_mutations(func: str, x: np.ndarray, k: np.ndarray, mode: str, pad: int,
                      hidden: bool) -> list[Mutation]:
    flipped = func.replace("convolve", "tmp").replace("correlate", "convolve").replace(
        "tmp", "correlate")
    call = getattr(reference, func)
    mutations: list[Mutation] = [
        ("Your output matches " + ("cross-correlation (kernel not flipped): true convolution "
         "flips the kernel." if func.startswith("convolve") else "true convolution (kernel "
         "flipped): cross-correlation uses the kernel as it is."),
         lambda: getattr(reference, flipped)(x, k, mode=mode, pad=pad)),
    ]
    for other in ("full", "valid", "same"):
        if other != mode:
            sentence = ("Your output matches another mode than this test asks for: check how "
                        "you handle 'full', 'valid' and 'same'." if hidden else
                        f"Your output matches mode {other!r}; this test asks for {mode!r}.")
            mutations.append((sentence, lambda other=other: call(x, k, mode=other, pad=pad)))
    if pad:
        mutations.append(("Your output matches the result without the extra padding: pad adds "
                          "zeros on each side before the mode applies.",
                          lambda: call(x, k, mode=mode, pad=0)))
    if mode == "same" and any(n % 2 == 0 for n in np.shape(k)):
        mutations.insert(0, ("Your output matches the 'full' result cropped one position late: "
                             "'same' crops from (f - 1) // 2, not f // 2 (they differ for an "
                             "even kernel).", lambda: _same_from_half(call, x, k, pad)))
    return mutations


def _same_from_half(call: Callable, x: np.ndarray, k: np.ndarray, pad: int) -> np.ndarray:
    """'same' as the 'full' result cropped from f // 2 on each axis (instead of (f - 1) // 2)."""
    full = np.asarray(call(x, k, mode="full", pad=pad))
    sizes = [n + 2 * pad for n in np.shape(x)]
    return full[tuple(slice(f // 2, f // 2 + n) for f, n in zip(np.shape(k), sizes, strict=True))]


def _step_mutations(a: np.ndarray, W: np.ndarray, b: np.ndarray) -> list[Mutation]:
    return [
        ("Your value matches the step with the kernel flipped: don't flip W.",
         lambda: reference.conv_single_step(a, W[::-1, ::-1], b)),
        ("Your value is the sum without the bias: add b.", lambda: np.sum(a * W)),
        ("Your value has the bias added twice.", lambda: np.sum(a * W) + 2 * b.item()),
        ("Your value has the bias added to every element of the slice before the sum: add b "
         "once, after np.sum(a_slice_prev * W).", lambda: np.sum(a * W + b)),
    ]


def _edge_mutations(image: np.ndarray, direction: str) -> list[Mutation]:
    own = edge_filter(direction)
    other = edge_filter("horizontal" if direction == "vertical" else "vertical")
    return [
        ("Your output uses the filter of the other direction: the horizontal filter is the "
         "transpose of the vertical one.",
         lambda: reference.correlate2d(image, other, mode="valid")),
        ("Your output matches true convolution (the filter flipped), which negates edges: "
         "apply the filter as it is (cross-correlation).",
         lambda: reference.convolve2d(image, own, mode="valid")),
    ]


def _mutations(func: str, args: tuple, kwargs: Mapping, name: str, hidden: bool
               ) -> list[Mutation]:
    if func == "conv_forward":
        return _conv_mutations(*args)
    if func == "pool_forward":
        return _pool_mutations(args[0], args[1], kwargs.get("mode", "max"), hidden)
    if func == "conv_single_step":
        return _step_mutations(*args)
    if func == "conv_backward":
        return _conv_backward_mutations(name, *args, hidden)
    if func == "pool_backward":
        return _pool_backward_mutations(args[0], args[1], kwargs.get("mode", "max"), hidden)
    if func == "distribute_value":
        return _distribute_mutations(*args)
    if func == "create_mask_from_window":
        return _mask_mutations(args[0])
    if func in ("convolve1d", "correlate1d", "convolve2d", "correlate2d"):
        return _signal_mutations(func, args[0], args[1], kwargs["mode"], kwargs.get("pad", 0),
                                 hidden)
    if func == "detect_edges":
        return _edge_mutations(args[0], kwargs["direction"])
    return []


def candidates(func: str, args: tuple, kwargs: Mapping, name: str, hidden: bool
               ) -> list[Candidate]:
    """The bug families' outputs on a test's inputs, evaluated: ``(sentence, array)`` pairs.

    ``name`` is the compared output (``"output"``, or ``"dA_prev"``, ``"dW"``, ``"db"`` of a
    backward pass); ``hidden=True`` words the sentences without the test's settings. A family
    that does not apply to these inputs (it raises) is left out.
    """
    return list(_evaluated(_mutations(func, args, kwargs, name, hidden)))


def _evaluated(mutations: Sequence[Mutation]) -> Iterator[Candidate]:
    for sentence, make in mutations:
        try:
            with np.errstate(all="ignore"):
                array = np.asarray(make())
        except Exception:  # noqa: BLE001 - a family that does not apply simply does not match
            continue
        yield sentence, array


def explain_values(func: str, args: tuple, kwargs: Mapping, name: str, got: np.ndarray,
                   expected: np.ndarray, *, hidden: bool = False) -> str | None:
    """A sentence naming the bug when ``got`` matches a bug family, else where it is wrong.

    ``hidden=True`` (a hidden test) leaves the test's settings out of the sentence. The
    families are evaluated one at a time and the search stops at the first whole match.
    """
    return explain(got, expected, _evaluated(_mutations(func, args, kwargs, name, hidden)),
                   hidden=hidden)


# ---------------------------------------------------------------------------------- shapes
def _axis_sizes(n: int, f: int, s: int, p: int) -> dict[str, int]:
    return {
        "right": (n + 2 * p - f) // s + 1,
        "no_plus_one": (n + 2 * p - f) // s,
        "ceil": math.ceil((n + 2 * p - f) / s) + 1,
        "stride_ignored": n + 2 * p - f + 1,
        "pad_ignored": (n - f) // s + 1 if n >= f else -1,
        "pad_once": (n + p - f) // s + 1,
    }


SHAPE_SENTENCES = {
    "no_plus_one": "Your output size misses the +1: n_out = floor((n + 2p - f) / s) + 1.",
    "ceil": "Your output size rounds up: the formula floors, n_out = floor((n + 2p - f) / s) + 1.",
    "stride_ignored": "Your output has the size of a stride-1 result: divide by the stride in "
                      "the size formula and step the window by it.",
    "pad_ignored": "Your output has the size of an unpadded input: add 2 * pad in the size "
                   "formula and pad the input.",
    "pad_once": "Your output has the size of an input padded on one side only: pad both sides.",
}


def _geometry(func: str, args: tuple) -> tuple[int, int, int, int, int, int] | None:
    """(n_H, n_W, f, stride, pad, n_C) of a conv or pool test, else None."""
    if func in ("conv_forward",):
        A, W, _, hp = args
        return A.shape[1], A.shape[2], W.shape[0], hp["stride"], hp["pad"], W.shape[3]
    if func == "pool_forward":
        A, hp = args
        return A.shape[1], A.shape[2], hp["f"], hp["stride"], 0, A.shape[3]
    return None


def explain_shape(func: str, args: tuple, kwargs: Mapping, name: str,
                  got: tuple[int, ...], expected: tuple[int, ...], *, hidden: bool = False
                  ) -> str | None:
    """Name the mistake behind a wrong output shape, when a known one explains it.

    ``hidden=True`` words the sentences without the test's settings."""
    if func == "zero_pad":
        X, pad = args
        if got == tuple(n + 2 * pad for n in X.shape):
            return ("You padded the batch and channel axes too: pad only height and width, "
                    "with pad widths ((0, 0), (pad, pad), (pad, pad), (0, 0)).")
        if got == (X.shape[0], X.shape[1] + 2 * pad, X.shape[2] + 2 * pad, X.shape[3] + 2 * pad):
            return ("You padded the channel axis too: pad only height and width, with pad "
                    "widths ((0, 0), (pad, pad), (pad, pad), (0, 0)).")
        if got == (X.shape[0], X.shape[1] + pad, X.shape[2] + pad, X.shape[3]):
            return "You padded only one side: add pad zeros on both sides of each axis."
        return _padded_axes(X.shape, got, pad)
    if func == "conv_backward" and name == "dA_prev":
        pad = _pad_of(func, args) or 0
        if pad and got == (expected[0], expected[1] + 2 * pad, expected[2] + 2 * pad,
                           expected[3]):
            return STILL_PADDED
    if 0 in got and 0 not in expected:
        return ("Your output is empty along an axis. " + empty_slice(hidden)
                if func == "conv_backward" else "Your output is empty along an axis.")
    geometry = _geometry(func, args)
    if geometry is None or len(got) != 4:
        return None
    n_H, n_W, f, s, p, n_C = geometry
    if got == (expected[0], expected[3], expected[1], expected[2]):
        return ("Your output has the channels before height and width (NCHW): the course's "
                "layout is (m, n_H, n_W, n_C).")
    rows, cols = _axis_sizes(n_H, f, s, p), _axis_sizes(n_W, f, s, p)
    for key, sentence in SHAPE_SENTENCES.items():
        if got[1:3] == (rows[key], cols[key]) and got[1:3] != expected[1:3]:
            return sentence
    return None


AXES = ("the batch axis", "height", "width", "the channel axis")
STILL_PADDED = ("dA_prev still has the padding: crop it from da_prev_pad with "
                "da_prev_pad[pad:pad + n_H_prev, pad:pad + n_W_prev, :] (or dA_prev_pad[:, "
                "pad:-pad, pad:-pad, :] when pad > 0).")


def _padded_axes(shape: tuple[int, ...], got: tuple[int, ...], pad: int) -> str | None:
    """zero_pad's output grown by 2 * pad on some axes: which ones, in words."""
    if pad <= 0 or len(got) != 4 or len(shape) != 4:
        return None
    grown = [g - n for g, n in zip(got, shape, strict=True)]
    if any(d not in (0, 2 * pad) for d in grown):
        return None
    padded = [AXES[i] for i, d in enumerate(grown) if d]
    missed = [AXES[i] for i in (1, 2) if not grown[i]]
    words = " and ".join(padded) if padded else "no axis"
    also = f", but not {' and '.join(missed)}" if missed else ""
    return (f"You padded {words}{also}: pad only height and width, with pad widths "
            "((0, 0), (pad, pad), (pad, pad), (0, 0)) for the axes (m, n_H, n_W, n_C).")


def size_formula(func: str, args: tuple, kwargs: Mapping) -> str | None:
    """The output-size formula with the test's numbers, e.g. for a wrong-shape message."""
    if func == "zero_pad":
        (m, n_H, n_W, n_C), pad = args[0].shape, args[1]
        return (f"Only height and width grow: n_H + 2*pad = {n_H} + 2*{pad} = {n_H + 2 * pad}, "
                f"n_W + 2*pad = {n_W} + 2*{pad} = {n_W + 2 * pad}; m = {m} and n_C = {n_C} stay.")
    geometry = _geometry(func, args)
    if geometry is None:
        return None
    n_H, n_W, f, s, p, n_C = geometry
    parts = []
    for axis, n in (("n_H", n_H), ("n_W", n_W)):
        parts.append(f"{axis} = floor(({n} + 2*{p} - {f}) / {s}) + 1 = "
                     f"{(n + 2 * p - f) // s + 1}")
    return "; ".join(parts) + f"; n_C = {n_C}."


# ------------------------------------------------------------------------------ exceptions
def explain_exception(func: str, args: tuple, kwargs: Mapping, exc_type: str, exc_msg: str,
                      frames: Sequence[Frame], *, hidden: bool = False) -> str | None:
    """One sentence for the known pitfalls behind an exception, else None.

    ``hidden=True`` words the sentences without the test's settings."""
    code = " ".join(f.text for f in frames)
    pad = _pad_of(func, args)
    if exc_type == "TypeError" and ("converted to Python scalars" in exc_msg
                                    or "float(b" in code.replace(" ", "")):
        return FLOAT_B
    if pad == 0 and (":-pad" in code.replace(" ", "") or "(0," in exc_msg):
        return empty_slice(hidden)
    if exc_type == "RecursionError":
        return "Your function calls itself without end: replace the recursion with a loop."
    if "cannot be interpreted as an integer" in exc_msg or "slice indices must be" in exc_msg:
        return ("A / division gives a float (and so do np.floor and np.ceil): use // or "
                "int(...) for sizes and indices, e.g. n_H = (n_H_prev + 2 * pad - f) // stride "
                "+ 1.")
    key = _hparameter_key(func, exc_type, exc_msg)
    if key is not None:
        return key
    if "can only convert an array of size 1" in exc_msg and func == "conv_forward":
        return ("b.item() needs one number: give conv_single_step the bias of one filter, "
                "b[:, :, :, c], not the whole b.")
    if func == "conv_backward" and _still_padded(exc_msg, _pad_of(func, args)):
        return STILL_PADDED
    if "setting an array element with a sequence" in exc_msg:
        return ("A value that should be one number is an array: conv_single_step must return "
                "a scalar (use b.item()).")
    if exc_type == "IndexError" and func in ("conv_forward", "pool_forward", "pool_backward",
                                             "conv_backward"):
        return ("An index runs past the input: a window starts at h * stride and ends at "
                "h * stride + f, and the output size is floor((n + 2p - f) / s) + 1.")
    broadcast = ("could not be broadcast", "could not broadcast", "non-broadcastable")
    if any(words in exc_msg for words in broadcast) and func in ("conv_backward",
                                                                 "pool_backward"):
        return ("Shapes don't line up in a window: every slice must be f by f, from vert_start "
                "to vert_start + f (not + stride), like W[..., c] and the mask.")
    if "broadcast" in exc_msg and func == "conv_forward":
        overhang = _overhanging_window(args, exc_msg)
        if overhang is not None:
            return overhang
    if "could not be broadcast" in exc_msg and func == "conv_forward":
        return ("Shapes don't line up in a window: the slice a_prev_pad[vert_start:vert_end, "
                "horiz_start:horiz_end, :] must have shape (f, f, n_C_prev) like W[..., c]; "
                "check that zero_pad pads only height and width, on both sides.")
    return None


HPARAMETER_KEYS = {"conv_forward": ("stride", "pad"), "conv_backward": ("stride", "pad"),
                   "pool_forward": ("f", "stride"), "pool_backward": ("f", "stride")}


def _hparameter_key(func: str, exc_type: str, exc_msg: str) -> str | None:
    """A KeyError on a hyperparameter the function's hparameters do not hold."""
    keys = HPARAMETER_KEYS.get(func)
    key = exc_msg.strip().strip("'\"")
    if exc_type != "KeyError" or keys is None or key in keys or not key.isidentifier():
        return None
    held = " and ".join(repr(k) for k in keys)
    extra = (" Pooling pads nothing, and its window size is hparameters['f']."
             if func.startswith("pool") else " The window size f is W.shape[0].")
    return f"hparameters has no key {key!r}: {func}'s hparameters hold only {held}.{extra}"


def _still_padded(exc_msg: str, pad: int | None) -> bool:
    """"could not broadcast input array from shape (8,8,3) into shape (4,4,3)" at pad 2."""

    shapes = re.findall(r"shape \(([\d, ]+)\)", exc_msg)
    if not pad or len(shapes) != 2 or "broadcast" not in exc_msg:
        return False
    src, dst = ([int(n) for n in s.replace(" ", "").split(",") if n] for s in shapes)
    return (len(src) == len(dst) >= 3 and src[-1] == dst[-1]
            and [a - b for a, b in zip(src[-3:-1], dst[-3:-1], strict=True)] == [2 * pad] * 2)


def _pad_of(func: str, args: tuple) -> int | None:
    try:
        if func == "conv_forward":
            return int(args[3]["pad"])
        if func == "conv_backward":
            return int(args[1][3]["pad"])
        if func == "zero_pad":
            return int(args[1])
    except (IndexError, KeyError, TypeError, ValueError):
        return None
    return None


# --------------------------------------------------------------------------------- picture
PICTURE_MAX_SIDE = 12  # larger grids are not drawn: a picture must be readable at a glance


def picture_of(name: str, expected: np.ndarray, got: np.ndarray) -> Picture | None:
    """One example and one channel of a wrong output, for the report's shaded grids.

    For an (m, n_H, n_W, n_C) output (Z, A, dA_prev; not dW or db) it takes the example and channel with
    the most wrong cells; a 2-D output (a window, a mask) is drawn whole. None when the
    shapes differ, the output is not a grid, or it is too large to read.
    """
    if (got.shape != expected.shape or name in ("dW", "db") or got.dtype.kind not in "biuf"
            or expected.ndim not in (2, 4) or not np.all(np.isfinite(got))):
        return None  # only a finite numeric grid of the expected shape is drawn
    if expected.ndim == 4:
        bad = ~same(got, expected)
        i, c = np.unravel_index(np.argmax(bad.sum(axis=(1, 2))), (bad.shape[0], bad.shape[3]))
        title = f"example {int(i)}, channel {int(c)}"
        expected, got = expected[i, :, :, c], got[i, :, :, c]
    elif expected.ndim == 2:
        title = "the whole output"
    else:
        return None
    if max(expected.shape) > PICTURE_MAX_SIDE or expected.size == 0:
        return None
    wrong = ~same(got, expected)
    return Picture(title, _rounded(expected), _rounded(got),
                   tuple(tuple(bool(v) for v in row) for row in wrong))


def _rounded(grid: np.ndarray) -> tuple[tuple[float, ...], ...]:
    return tuple(tuple(float(f"{float(v):.4g}") for v in row) for row in grid.astype(np.float64))
