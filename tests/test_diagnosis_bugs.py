"""Classic bugs injected one at a time into a correct course-style solution: each is caught by a
failing test of the right function and named by its diagnosis; a correct file gets none."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from grader import reference
from grader.code import diagnosis, grade_source, matching
from grader.sandbox import SandboxLimits, SandboxPool

SUBMISSIONS = Path(__file__).resolve().parent / "submissions"
CORRECT = (SUBMISSIONS / "correct_loops.py").read_text()
VECTORIZED = (SUBMISSIONS / "correct_vectorized.py").read_text()
LIMITS = SandboxLimits(wall_s=5.0, cpu_s=20.0, memory_mb=512, import_wall_s=5.0)


@pytest.fixture(scope="module")
def pool():
    pool = SandboxPool(1)
    yield pool
    pool.shutdown()


def inject(func: str, old: str, new: str) -> str:
    """The correct solution with ``old`` replaced by ``new`` inside ``func`` only."""
    start = CORRECT.index(f"\ndef {func}(")
    end = CORRECT.find("\ndef ", start + 1)
    end = len(CORRECT) if end < 0 else end
    body = CORRECT[start:end]
    assert old in body, (func, old)
    return CORRECT[:start] + body.replace(old, new) + CORRECT[end:]


def _both(func: str, pairs: list[tuple[str, str]]) -> str:
    """The correct solution with each (old, new) replaced inside ``func``; a ``func`` of
    "vectorized:name" edits the vectorized solution."""
    source = CORRECT
    if func.startswith("vectorized:"):
        source, func = VECTORIZED, func.removeprefix("vectorized:")
    for old, new in pairs:
        start = source.index(f"\ndef {func}(")
        end = source.find("\ndef ", start + 1)
        end = len(source) if end < 0 else end
        assert old in source[start:end], (func, old)
        source = source[:start] + source[start:end].replace(old, new) + source[end:]
    return source


START = [("vert_start = h * stride", "vert_start = h"),
         ("horiz_start = w * stride", "horiz_start = w")]
END = [("vert_end = vert_start + f", "vert_end = vert_start + stride"),
       ("horiz_end = horiz_start + f", "horiz_end = horiz_start + stride")]
MASK = "mask = x == np.max(x)"
MAX_BRANCH = "mask * dA[i, h, w, c])"

# (id, function graded, function the bug is in, [(old, new), ...], words of the diagnosis)
BUGS = [
    ("conv start h", "conv_forward", "conv_forward", START, "h * stride"),
    ("conv slice end from stride", "conv_forward", "conv_forward", END, "vert_start + f"),
    ("conv kernel flipped", "conv_forward", "conv_forward",
     [("weights = W[:, :, :, c]", "weights = W[::-1, ::-1, :, c]")], "kernel flipped"),
    ("conv bias missing", "conv_forward", "conv_forward",
     [("biases = b[:, :, :, c]", "biases = 0 * b[:, :, :, c]")], "without the bias"),
    ("conv bias doubled", "conv_forward", "conv_forward",
     [("biases = b[:, :, :, c]", "biases = 2 * b[:, :, :, c]")], "bias added twice"),
    ("step bias per element", "conv_single_step", "conv_single_step",
     [("s = np.multiply(a_slice_prev, W)", "s = np.multiply(a_slice_prev, W) + b"),
      ("Z = Z + b.item()", "Z = Z")], "every element"),
    ("step bias missing", "conv_single_step", "conv_single_step",
     [("Z = Z + b.item()", "Z = Z")], "without the bias"),
    ("step bias doubled", "conv_single_step", "conv_single_step",
     [("Z = Z + b.item()", "Z = Z + 2 * b.item()")], "bias added twice"),
    ("step kernel flipped", "conv_single_step", "conv_single_step",
     [("np.multiply(a_slice_prev, W)", "np.multiply(a_slice_prev, W[::-1, ::-1])")],
     "kernel flipped"),
    ("conv bias per element", "conv_forward", "conv_single_step",
     [("s = np.multiply(a_slice_prev, W)", "s = np.multiply(a_slice_prev, W) + b"),
      ("Z = Z + b.item()", "Z = Z")], "every element"),
    ("conv stride from pad key", "conv_forward", "conv_forward",
     [('stride = hparameters["stride"]', 'stride = hparameters["pad"]')],
     "stride from hparameters['stride']"),
    ("conv pad from stride key", "conv_forward", "conv_forward",
     [('pad = hparameters["pad"]', 'pad = hparameters["stride"]')], "hparameters['stride']"),
    ("conv true division in size", "conv_forward", "conv_forward",
     [("n_H = int((n_H_prev + 2 * pad - f) / stride) + 1",
       "n_H = (n_H_prev + 2 * pad - f) / stride + 1")], "use //"),
    ("conv missing +1", "conv_forward", "conv_forward",
     [("n_H = int((n_H_prev + 2 * pad - f) / stride) + 1",
       "n_H = int((n_H_prev + 2 * pad - f) / stride)"),
      ("n_W = int((n_W_prev + 2 * pad - f) / stride) + 1",
       "n_W = int((n_W_prev + 2 * pad - f) / stride)")], "the +1"),
    ("conv NCHW", "conv_forward", "conv_forward",
     [("Z = np.zeros((m, n_H, n_W, n_C))", "Z = np.zeros((m, n_C, n_H, n_W))"),
      ("Z[i, h, w, c] =", "Z[i, c, h, w] =")], "NCHW"),
    ("conv input not padded", "conv_forward", "conv_forward",
     [("A_prev_pad = zero_pad(A_prev, pad)", "A_prev_pad = A_prev")],
     "windows slide over the unpadded input"),
    ("conv padded but windows cut from the unpadded input", "conv_forward", "conv_forward",
     [("a_prev_pad = A_prev_pad[i]", "a_prev_pad = A_prev[i]")],
     "windows slide over the unpadded input"),
    ("conv size rounded up with ceil", "conv_forward", "conv_forward",
     [("n_H = int((n_H_prev + 2 * pad - f) / stride) + 1",
       "n_H = int(np.ceil((n_H_prev + 2 * pad - f) / stride)) + 1"),
      ("n_W = int((n_W_prev + 2 * pad - f) / stride) + 1",
       "n_W = int(np.ceil((n_W_prev + 2 * pad - f) / stride)) + 1")], "not up with np.ceil"),
    ("conv size rounded up with -(-n // s)", "conv_forward", "conv_forward",
     [("n_H = int((n_H_prev + 2 * pad - f) / stride) + 1",
       "n_H = -(-(n_H_prev + 2 * pad - f) // stride) + 1")], "not up with np.ceil"),
    ("conv integer array", "conv_forward", "conv_forward",
     [("Z = np.zeros((m, n_H, n_W, n_C))", "Z = np.zeros((m, n_H, n_W, n_C), dtype=int)")],
     "truncates"),
    ("pad channel axis", "zero_pad", "zero_pad",
     [("(0, 0)), mode", "(pad, pad)), mode")], "channel axis"),
    ("pad all axes", "zero_pad", "zero_pad",
     [("((0, 0), (pad, pad), (pad, pad), (0, 0))",
       "((pad, pad), (pad, pad), (pad, pad), (pad, pad))")], "batch and channel axes"),
    ("pad one side", "zero_pad", "zero_pad",
     [("((0, 0), (pad, pad), (pad, pad), (0, 0))", "((0, 0), (pad, 0), (pad, 0), (0, 0))")],
     "one side"),
    ("conv input padded on the batch axis too", "conv_forward", "zero_pad",
     [("((0, 0), (pad, pad), (pad, pad), (0, 0))",
       "((pad, pad), (pad, pad), (pad, pad), (0, 0))")], "batch axis too"),
    ("conv input padded on one side by 2 * pad", "conv_forward", "zero_pad",
     [("((0, 0), (pad, pad), (pad, pad), (0, 0))",
       "((0, 0), (2 * pad, 0), (2 * pad, 0), (0, 0))")], "one side only"),
    ("conv input padded after only by 2 * pad", "conv_forward", "zero_pad",
     [("((0, 0), (pad, pad), (pad, pad), (0, 0))",
       "((0, 0), (0, 2 * pad), (0, 2 * pad), (0, 0))")], "one side only"),
    ("conv input padded on the channel axis too", "conv_forward", "zero_pad",
     [("(0, 0)), mode", "(pad, pad)), mode")], "pads only height and width"),
    ("conv input padded on one side only", "conv_forward", "zero_pad",
     [("((0, 0), (pad, pad), (pad, pad), (0, 0))", "((0, 0), (pad, 0), (pad, 0), (0, 0))")],
     "pads only height and width"),
    ("conv backward input padded on the batch axis too", "conv_backward", "zero_pad",
     [("((0, 0), (pad, pad), (pad, pad), (0, 0))",
       "((pad, pad), (pad, pad), (pad, pad), (0, 0))")], "batch axis too"),
    ("conv backward input padded on one side by 2 * pad", "conv_backward", "zero_pad",
     [("((0, 0), (pad, pad), (pad, pad), (0, 0))",
       "((0, 0), (2 * pad, 0), (2 * pad, 0), (0, 0))")], "one side only"),
    ("pool start h", "pool_forward", "pool_forward", START, "h * stride"),
    ("pool f from the stride key", "pool_forward", "pool_forward",
     [('f = hparameters["f"]', 'f = hparameters["stride"]')], "windows of size stride"),
    ("pool true division in size", "pool_forward", "pool_forward",
     [("n_H = int(1 + (n_H_prev - f) / stride)", "n_H = 1 + (n_H_prev - f) / stride")],
     "use //"),
    ("pool max computes the mean", "pool_forward", "pool_forward",
     [("A[i, h, w, c] = np.max(a_prev_slice)", "A[i, h, w, c] = np.mean(a_prev_slice)")],
     "check how you use the mode"),
    ("pool average computes the max", "pool_forward", "pool_forward",
     [("A[i, h, w, c] = np.mean(a_prev_slice)", "A[i, h, w, c] = np.max(a_prev_slice)")],
     "check how you use the mode"),
    ("pool slice end from stride", "pool_forward", "pool_forward", END, "vert_start + f"),
    ("pool modes swapped", "pool_forward", "pool_forward",
     [('if mode == "max"', 'if mode == "average"'),
      ('elif mode == "average"', 'elif mode == "max"')], "check how you use the mode"),
    ("pool integer division", "pool_forward", "pool_forward",
     [("np.mean(a_prev_slice)", "np.sum(a_prev_slice) // (f * f)")], "rounded down"),
    ("pool stride = f", "pool_forward", "pool_forward",
     [('stride = hparameters["stride"]', 'stride = hparameters["f"]')], "not f"),
    ("pool NCHW", "pool_forward", "pool_forward",
     [("A = np.zeros((m, n_H, n_W, n_C))", "A = np.zeros((m, n_C, n_H, n_W))"),
      ("A[i, h, w, c] = np.max", "A[i, c, h, w] = np.max"),
      ("A[i, h, w, c] = np.mean", "A[i, c, h, w] = np.mean")], "NCHW"),
    ("conv backward start h", "conv_backward", "conv_backward", START, "h * stride"),
    ("conv backward slice end from stride", "conv_backward", "conv_backward", END,
     "vert_start + f"),
    ("conv backward = not +=", "conv_backward", "conv_backward",
     [("da_prev_pad[vert_start:vert_end, horiz_start:horiz_end, :] +=",
       "da_prev_pad[vert_start:vert_end, horiz_start:horiz_end, :] =")], "instead of +="),
    ("conv backward dW =", "conv_backward", "conv_backward",
     [("dW[:, :, :, c] += a_slice", "dW[:, :, :, c] = a_slice")], "not ="),
    ("conv backward db =", "conv_backward", "conv_backward",
     [("db[:, :, :, c] += dZ", "db[:, :, :, c] = dZ")], "not ="),
    ("conv backward unpad [pad:-pad]", "conv_backward", "conv_backward",
     [("da_prev_pad[pad:pad + n_H_prev, pad:pad + n_W_prev, :]",
       "da_prev_pad[pad:-pad, pad:-pad, :]")], "X[pad:-pad]"),
    ("conv backward kernel flipped", "conv_backward", "conv_backward",
     [("W[:, :, :, c] * dZ", "W[::-1, ::-1, :, c] * dZ")], "kernel flipped"),
    ("conv backward dW over m", "conv_backward", "conv_backward",
     [("dW[:, :, :, c] += a_slice * dZ[i, h, w, c]",
       "dW[:, :, :, c] += a_slice * dZ[i, h, w, c] / m")], "dividing by m"),
    ("conv backward db over m", "conv_backward", "conv_backward",
     [("db[:, :, :, c] += dZ[i, h, w, c]", "db[:, :, :, c] += dZ[i, h, w, c] / m")],
     "dividing by m"),
    ("conv backward db over axes 1, 2, 3", "conv_backward", "conv_backward",
     [("    return dA_prev, dW, db", "    db = np.sum(dZ, axis=(1, 2, 3))\n    return dA_prev, dW, db")],
     "summed over axes (1, 2, 3)"),
    ("conv backward db over every axis", "conv_backward", "conv_backward",
     [("    return dA_prev, dW, db", "    db = np.sum(dZ)\n    return dA_prev, dW, db")],
     "summed over every axis"),
    ("conv backward db over height and width only", "conv_backward", "conv_backward",
     [("    return dA_prev, dW, db",
       "    db = np.sum(dZ, axis=(1, 2), keepdims=True)\n    return dA_prev, dW, db")],
     "summed over axes (1, 2)"),
    ("conv backward db without keepdims", "conv_backward", "conv_backward",
     [("    return dA_prev, dW, db",
       "    db = np.sum(dZ, axis=(0, 1, 2))\n    return dA_prev, dW, db")], "keepdims=True"),
    ("conv backward db over positions", "conv_backward", "conv_backward",
     [("db[:, :, :, c] += dZ[i, h, w, c]", "db[:, :, :, c] += dZ[i, h, w, c] / (n_H * n_W)")],
     "number of positions"),
    ("conv backward dW over positions", "conv_backward", "conv_backward",
     [("dW[:, :, :, c] += a_slice * dZ[i, h, w, c]",
       "dW[:, :, :, c] += a_slice * dZ[i, h, w, c] / (n_H * n_W)")], "number of positions"),
    ("conv backward dW over the input channels", "conv_backward", "vectorized:conv_backward",
     [('np.einsum("mhwc,mhwn->cn"', 'np.einsum("mhwc,mhwn->n"')], "over the input channels"),
    ("conv backward dW over the filters", "conv_backward", "vectorized:conv_backward",
     [('np.einsum("mhwc,mhwn->cn", A_pad[:, rows, cols, :], dZ)',
       'np.einsum("mhwc,mhwn->c", A_pad[:, rows, cols, :], dZ)[:, None]')], "over the filters"),
    ("conv backward pad from stride key", "conv_backward", "conv_backward",
     [('pad = hparameters["pad"]', 'pad = hparameters["stride"]')], "hparameters['stride']"),
    ("pool backward start h", "pool_backward", "pool_backward", START, "h * stride"),
    ("pool backward stride = f", "pool_backward", "pool_backward",
     [('stride = hparameters["stride"]', 'stride = hparameters["f"]')], "not f"),
    ("pool backward distribute integer division", "pool_backward", "distribute_value",
     [("dz / (n_H * n_W)", "dz // (n_H * n_W)")], "integer division"),
    ("pool backward distribute by the sum", "pool_backward", "distribute_value",
     [("dz / (n_H * n_W)", "dz / (n_H + n_W)")], "n_H + n_W"),
    ("pool backward distribute not divided", "pool_backward", "distribute_value",
     [("dz / (n_H * n_W)", "dz")], "does not divide"),
    ("pool backward mask by >= mean", "pool_backward", "create_mask_from_window",
     [(MASK, "mask = x >= np.mean(x)")], "at or above the window's mean"),
    ("pool backward mask along one axis", "pool_backward", "create_mask_from_window",
     [(MASK, "mask = x == np.max(x, axis=0)")], "without an axis"),
    ("pool backward slice end from stride", "pool_backward", "pool_backward",
     [("vert_end = vert_start + f", "vert_end = vert_start + stride"),
      ("horiz_end = horiz_start + f", "horiz_end = horiz_start + stride"),
      ("shape = (f, f)", "shape = (stride, stride)")], "vert_start + f"),
    ("pool backward = not +=", "pool_backward", "pool_backward",
     [("horiz_start:horiz_end, c] += (\n                            mask",
       "horiz_start:horiz_end, c] = (\n                            mask")], "+=, not ="),
    ("pool backward argmax-style =", "pool_backward", "pool_backward",
     [("dA_prev[i, vert_start:vert_end, horiz_start:horiz_end, c] += (\n"
       "                            mask * dA[i, h, w, c])",
       "dA_prev[i, vert_start:vert_end, horiz_start:horiz_end, c][mask] = dA[i, h, w, c]")],
     "each window's maximum"),
    ("pool backward modes swapped", "pool_backward", "pool_backward",
     [('if mode == "max"', 'if mode == "average"'),
      ('elif mode == "average"', 'elif mode == "max"')], "this test uses mode"),
    ("distribute by one side", "distribute_value", "distribute_value",
     [("dz / (n_H * n_W)", "dz / n_H")], "one side"),
    ("distribute by the sum", "distribute_value", "distribute_value",
     [("dz / (n_H * n_W)", "dz / (n_H + n_W)")], "n_H + n_W"),
    ("distribute not divided", "distribute_value", "distribute_value",
     [("dz / (n_H * n_W)", "dz")], "does not divide"),
    ("distribute integer division", "distribute_value", "distribute_value",
     [("dz / (n_H * n_W)", "dz // (n_H * n_W)")], "integer division"),
    ("pool backward distribute by one side", "pool_backward", "distribute_value",
     [("dz / (n_H * n_W)", "dz / n_H")], "one side"),
    ("mask by mean", "create_mask_from_window", "create_mask_from_window",
     [(MASK, "mask = x > np.mean(x)")], "mean"),
    ("mask by >= mean", "create_mask_from_window", "create_mask_from_window",
     [(MASK, "mask = x >= np.mean(x)")], "mean"),
    ("mask along one axis", "create_mask_from_window", "create_mask_from_window",
     [(MASK, "mask = x == np.max(x, axis=0)")], "without an axis"),
    ("mask strict >", "create_mask_from_window", "create_mask_from_window",
     [(MASK, "mask = x > np.max(x)")], "all False"),
    ("pool backward mask by mean", "pool_backward", "create_mask_from_window",
     [(MASK, "mask = x > np.mean(x)")], "mean"),
]


def _failed(report, func):
    [function] = [f for f in report.functions if f.name == func]
    return [t for t in function.tests if not t.passed]


@pytest.mark.parametrize(("graded", "where", "pairs", "named"),
                         [b[1:] for b in BUGS], ids=[b[0] for b in BUGS])
def test_each_classic_bug_is_caught_and_named(pool, graded, where, pairs, named):
    source = _both(where, pairs)
    report = grade_source(source, limits=LIMITS, pool=pool, functions=[graded])
    failed = _failed(report, graded)
    assert failed, f"the bug in {where} was not caught by a test of {graded}"
    diagnoses = [t.diagnosis or "" for t in failed]
    assert any(named in d for d in diagnoses), diagnoses


@pytest.mark.parametrize("name", ["correct_loops.py", "correct_vectorized.py"])
def test_a_correct_file_gets_no_diagnosis(pool, name):
    report = grade_source((SUBMISSIONS / name).read_text(), limits=LIMITS, pool=pool)
    assert [(f.name, t.name, t.diagnosis) for f in report.functions for t in f.tests
            if t.diagnosis or not t.passed] == []


def test_the_table_covers_every_function_with_windows():
    assert {b[1] for b in BUGS} >= {"conv_forward", "pool_forward", "conv_backward",
                                   "pool_backward", "distribute_value",
                                   "create_mask_from_window", "zero_pad", "conv_single_step"}


def _conv_case(seed: int = 0) -> tuple:
    rng = np.random.default_rng(seed)
    A, W = rng.standard_normal((2, 6, 6, 3)), rng.standard_normal((3, 3, 3, 2))
    return A, W, rng.standard_normal((1, 1, 1, 2)), {"stride": 1, "pad": 1}


def _conv_output(seed: int = 0) -> np.ndarray:
    return reference.conv_forward(*_conv_case(seed))[0]


def test_where_words_name_the_pattern_of_right_and_wrong_cells():
    expected = _conv_output()
    got = expected.copy()
    got[:, 1:, 1:, :] += 1.0
    assert matching.describe_where(got, expected) == (
        "Row 0 and column 0 are right, every other position is wrong: check how the window "
        "moves (its start is h * stride and w * stride).")
    border = expected.copy()
    border[:, 0, :, :] -= 2.0
    assert "only the border is wrong" in matching.describe_where(border, expected)


def test_where_words_tell_a_wrong_later_example():
    expected = _conv_output()
    got = expected.copy()
    got[1] = 0.0
    assert matching.describe_where(got, expected).startswith(
        "Example 0 is right and every later example is wrong")


def test_where_words_give_positions_only_on_public_tests():
    expected = _conv_output()
    got = expected.copy()
    got[1, 2, 3, 0] += 1.0
    text = matching.describe_where(got, expected)
    assert re.fullmatch(r"1 of 36 positions are wrong, in rows 2 and columns 3; the rest are "
                        r"right\.", text), text
    assert matching.describe_where(got, expected, hidden=True) is None


def test_noise_everywhere_gets_no_words_and_no_bug():
    expected = _conv_output()
    noise = expected + np.random.default_rng(1).standard_normal(expected.shape)
    assert matching.describe_where(noise, expected) is None


def test_a_mask_marking_one_of_equal_maxima_is_told_the_tie_rule():
    x = np.array([[1.0, 3.0], [3.0, 0.0]])
    expected = x == np.max(x)
    first = np.array([[False, True], [False, False]])
    hint = diagnosis.explain_values("create_mask_from_window", (x,), {}, "output", first,
                                    expected)
    assert hint is not None and "marks every maximum" in hint


def test_a_bug_that_changes_nothing_on_a_test_is_not_named():
    # At stride 1 a window start of h is right: a wrong block must not be blamed on it.
    case = _conv_case()
    expected = reference.conv_forward(*case)[0]
    got = expected.copy()
    got[:, 2:4, 2:4, :] = 0.0
    hint = diagnosis.explain_values("conv_forward", case, {}, "output", got, expected)
    assert hint == ("4 of 36 positions are wrong, in rows 2, 3 and columns 2, 3; the rest are "
                    "right.")


def test_the_window_start_bug_is_named_in_the_backward_pass_too():
    rng = np.random.default_rng(3)
    A, W = rng.standard_normal((2, 5, 5, 2)), rng.standard_normal((2, 2, 2, 3))
    hp = {"stride": 2, "pad": 1}
    dZ = rng.standard_normal((2, 3, 3, 3))
    got = diagnosis._conv_backward_variant(dZ, A, W, hp, step=1)[1]
    expected = reference.conv_backward(dZ, (A, W, np.zeros((1, 1, 1, 3)), hp))[1]
    hint = diagnosis.explain_values("conv_backward", (dZ, (A, W, np.zeros((1, 1, 1, 3)), hp)),
                                    {}, "dW", got, expected)
    assert hint is not None and "h * stride" in hint


def _conv_args(n_H: int, n_W: int, f: int, stride: int, pad: int, n_C_prev: int = 3) -> tuple:
    A, W = np.zeros((2, n_H, n_W, n_C_prev)), np.zeros((f, f, n_C_prev, 4))
    return A, W, np.zeros((1, 1, 1, 4)), {"stride": stride, "pad": pad}


@pytest.mark.parametrize(("geometry", "message", "named"), [
    # the loop's slice times W, either order, and a vectorized slice over the batch
    ((7, 5, 3, 3, 2), "operands could not be broadcast together with shapes (3,2,3) (3,3,3) ",
     diagnosis.UNPADDED),
    ((7, 5, 3, 3, 2), "operands could not be broadcast together with shapes (3,3,3) (3,2,3) ",
     diagnosis.UNPADDED),
    ((7, 5, 3, 3, 2), "operands could not be broadcast together with shapes (2,3,2,3) (3,3,3) ",
     diagnosis.UNPADDED),
    ((7, 5, 3, 3, 2), "operands could not be broadcast together with shapes (2,3,3) (3,3,3) ",
     diagnosis.CEIL_OVERHANG),
    ((6, 5, 3, 2, 0), "operands could not be broadcast together with shapes (2,3,3) (3,3,3) ",
     diagnosis.CEIL_OVERHANG),
    # windows of the stride's size (f = 3, stride 2): neither bug cuts a 2 by 2 window here
    ((5, 7, 3, 2, 1), "operands could not be broadcast together with shapes (2,2,3) (3,3,3) ",
     None),
    ((6, 6, 3, 1, 0), "operands could not be broadcast together with shapes (2,3,3) (3,3,3) ",
     None),  # no padding and a floor that is exact: no window hangs over
])
def test_a_window_past_the_edge_names_the_missing_padding_or_the_ceil(geometry, message,
                                                                       named):
    n_H, n_W, f, stride, pad = geometry
    said = diagnosis.explain_exception("conv_forward", _conv_args(n_H, n_W, f, stride, pad), {},
                                       "ValueError", message, [])
    if named is None:
        assert said not in (diagnosis.UNPADDED, diagnosis.CEIL_OVERHANG)
    else:
        assert said == named
