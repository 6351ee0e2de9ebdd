"""The pure matching half of the diagnosis: standalone, and matching the parts of a candidate
(crops, strides, one channel, one example) as well as whole outputs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from grader import reference
from grader.code import diagnosis, matching

MATCHING = Path(matching.__file__)


def test_matching_loads_from_its_file_alone_with_numpy_and_the_standard_library_only():
    code = (
        "import importlib.util, sys\n"
        "before = set(sys.modules)\n"
        f"spec = importlib.util.spec_from_file_location('matching', {str(MATCHING)!r})\n"
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
        "roots = {name.split('.')[0] for name in set(sys.modules) - before}\n"
        "print(sorted(r for r in roots if r not in sys.stdlib_module_names))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "['numpy']"


def _conv_case(seed: int = 0, stride: int = 1, pad: int = 1) -> tuple:
    rng = np.random.default_rng(seed)
    A, W = rng.standard_normal((3, 6, 6, 3)), rng.standard_normal((3, 3, 3, 4))
    return A, W, rng.standard_normal((1, 1, 1, 4)), {"stride": stride, "pad": pad}


FLIPPED = "kernel flipped"


def _flipped(case: tuple) -> np.ndarray:
    A, W, b, hp = case
    return reference.conv_forward(A, W[::-1, ::-1], b, hp)[0]


def test_candidates_are_evaluated_sentence_array_pairs_of_the_function():
    case = _conv_case()
    found = diagnosis.candidates("conv_forward", case, {}, "output", False)
    assert found and all(isinstance(s, str) and isinstance(a, np.ndarray) for s, a in found)
    [flipped] = [a for s, a in found if FLIPPED in s]
    np.testing.assert_allclose(flipped, _flipped(case))


def test_a_bug_in_channel_0_only_is_named_with_where():
    case = _conv_case()
    expected = reference.conv_forward(*case)[0]
    got = expected.copy()
    got[..., 0] = _flipped(case)[..., 0]
    hint = diagnosis.explain_values("conv_forward", case, {}, "output", got, expected)
    assert hint.startswith("Channel 0 is wrong and the other channels are right. ")
    assert FLIPPED in hint
    hidden = diagnosis.explain_values("conv_forward", case, {}, "output", got, expected,
                                      hidden=True)
    assert hidden.startswith("One channel is wrong and the others are right. ")
    assert "0" not in hidden.split(".")[0]


def test_a_bug_on_one_example_while_the_others_are_right_is_named():
    case = _conv_case()
    expected = reference.conv_forward(*case)[0]
    got = expected.copy()
    got[1] = _flipped(case)[1]
    hint = diagnosis.explain_values("conv_forward", case, {}, "output", got, expected)
    assert hint.startswith("Example 1 is wrong and the other examples are right. ")
    assert FLIPPED in hint


def test_a_mix_of_two_wrong_things_in_one_channel_is_not_blamed_on_a_family():
    case = _conv_case()
    expected = reference.conv_forward(*case)[0]
    got = expected.copy()
    got[..., 0] = _flipped(case)[..., 0]
    got[0, 0, 0, 1] += 5.0  # another channel wrong in a way no family explains
    hint = diagnosis.explain_values("conv_forward", case, {}, "output", got, expected) or ""
    assert FLIPPED not in hint


def test_a_strided_part_of_a_candidate_is_matched():
    rng = np.random.default_rng(2)
    big = rng.standard_normal((2, 8, 8, 3))
    expected = rng.standard_normal((2, 4, 4, 3))
    got = big[:, ::2, ::2, :]
    assert matching.match(got, [("the strided bug", big)], expected) == "the strided bug"
    assert matching.match(got + 1.0, [("the strided bug", big)], expected) is None


def test_a_crop_at_an_offset_is_matched_and_a_right_part_is_never_blamed():
    rng = np.random.default_rng(3)
    padded = rng.standard_normal((1, 6, 6, 2))
    got, expected = padded[:, :4, :4], padded[:, 1:5, 1:5]
    assert matching.match(got, [("unpadded from 0", padded)], expected) == "unpadded from 0"
    # The right answer is itself a part of this candidate: the candidate explains nothing.
    assert matching.match(expected, [("unpadded from 0", padded)], expected) is None
    shifted = padded[:, 2:6, 2:6]
    assert matching.match(shifted, [("a shift", padded)], expected) == "a shift"


def test_a_candidate_equal_to_the_right_answer_is_skipped():
    expected = np.arange(8.0).reshape(2, 2, 2, 1)
    assert matching.match(expected, [("no change", expected.copy())], expected) is None


def test_explain_gives_the_integer_sentence_then_the_match_then_the_words():
    expected = np.linspace(0.1, 3.3, 36).reshape(1, 6, 6, 1)
    assert matching.explain(expected.astype(int), expected, []) == matching.INTEGER_ARRAY
    assert matching.explain(expected * 2, expected, [("doubled", expected * 2)]) == "doubled"
    got = expected.copy()
    got[0, 3, 4, 0] += 1
    assert matching.explain(got, expected, []).startswith("1 of 36 positions are wrong")
