"""Every worked instance of the course's topic list, reproduced by a template of the bank.

Each test fixes a template's parameters to the instance (as `grader preview ID --set ...` does)
and checks the expected answer, so the bank and the course notes cannot drift apart.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from grader.bank import TOPICS, load_bank
from grader.variants import Variant, generate

TOPICS_MD = Path("/work/shared/topics.md")


@pytest.fixture(scope="module")
def bank():
    return load_bank()


def answer(bank, problem_id: str, seed: int = 0, **overrides) -> object:
    return generate(bank.problems[problem_id], seed, overrides).answer


def variant(bank, problem_id: str, seed: int = 0, **overrides) -> Variant:
    return generate(bank.problems[problem_id], seed, overrides)


def test_every_topic_has_a_template(bank):
    covered = {p.topic for p in bank.problems.values()}
    assert covered == set(TOPICS)
    assert len(bank.problems) >= 40


@pytest.mark.skipif(not TOPICS_MD.exists(), reason="the course's topic list is not available")
def test_topic_slugs_match_the_course_list():
    slugs = re.findall(r"^\| \d+ \| `([a-z0-9-]+)` \|", TOPICS_MD.read_text(), re.M)
    assert tuple(slugs) == TOPICS


# --- 1 fc-vs-conv-params ---------------------------------------------------------------------

def test_fc_layer_on_300x300x3_image(bank):
    assert answer(bank, "fc-params-image", n=300, c=3, units=100) == 27_000_100


def test_thousand_by_thousand_connections_log10(bank):
    assert answer(bank, "fc-connections-log10", a=3, b=3) == 12


def test_one_11x11_filter_without_bias(bank):
    assert answer(bank, "conv-filter-no-bias", f=11, c=1) == 121


# --- 2 conv-params ---------------------------------------------------------------------------

def test_ten_3x3x3_filters(bank):
    assert answer(bank, "conv-params-layer", f=3, c=3, k=10) == 280


def test_hundred_5x5_filters_on_rgb(bank):
    assert answer(bank, "conv-params-rgb", f=5, k=100) == 7_600
    assert answer(bank, "conv-params-layer", f=5, c=3, k=100) == 7_600


# --- 3 conv-output-volume --------------------------------------------------------------------

def test_63x63x16_with_32_filters_7x7_stride_2(bank):
    assert answer(bank, "conv-output-volume", n=63, c=16, k=32, f=7, s=2, p=0) == [29, 29, 32]


def test_6x6_image_3x3_filter(bank):
    assert answer(bank, "conv-output-size-valid", n=6, f=3) == 4


# --- 4 padding, 5 same-padding -----------------------------------------------------------------

def test_15x15x8_padded_by_2(bank):
    assert answer(bank, "padding-volume", n=15, c=8, p=2) == [19, 19, 8]


def test_same_padding_for_7x7(bank):
    assert answer(bank, "same-padding-p", f=7) == 3
    assert answer(bank, "padding-needed", n=20, f=7) == 3


def test_same_padding_keeps_the_size(bank):
    assert answer(bank, "same-padding-output", n=32, c=3, k=16, f=5) == [32, 32, 16]


# --- 6 pool-output-volume ----------------------------------------------------------------------

def test_max_pool_32x32x16(bank):
    assert answer(bank, "pool-output-volume", n=32, c=16, f=2, s=2) == [16, 16, 16]


def test_pool_5x5_f3_s1(bank):
    assert answer(bank, "pool-output-size", n=5, f=3, s=1) == 3


# --- 7 pooling-facts ---------------------------------------------------------------------------

def test_pooling_does_take_part_in_backprop(bank):
    seen = {}
    for seed in range(60):
        v = variant(bank, "pooling-facts-tf", seed)
        seen[v.prompt] = v.answer
    backprop = [a for prompt, a in seen.items() if "no effect on backpropagation" in prompt]
    channels = [a for prompt, a in seen.items() if "keeps the number of channels n_C" in prompt]
    assert backprop == [False]
    assert channels == [True]


def test_average_of_a_2x2_block(bank):
    assert answer(bank, "pooling-average-block", x=[[1, 3], [5, 6]]) == pytest.approx(3.75)


# --- 8 one-by-one-conv ----------------------------------------------------------------------------

def test_one_by_one_changes_channels_not_height_width(bank):
    assert answer(bank, "one-by-one-shape", n=28, c=192, k=32) == [28, 28, 32]
    statements = {variant(bank, "one-by-one-tf", s).prompt: variant(bank, "one-by-one-tf", s).answer
                  for s in range(40)}
    assert [a for p, a in statements.items() if "can change the number of channels" in p] == [True]
    assert [a for p, a in statements.items() if "can shrink the height" in p] == [False]


# --- 9 why-convolutions -----------------------------------------------------------------------------

def test_why_convolutions_has_right_and_plausible_wrong_options(bank):
    texts = set()
    for seed in range(40):
        v = variant(bank, "why-conv-multiselect", seed)
        texts.update(v.options)
        assert 1 <= len(v.answer) < len(v.options)
    assert any(t.startswith("Parameter sharing: a feature detector") for t in texts)
    assert any(t.startswith("Sparsity of connections: each output") for t in texts)
    assert any("gradient descent sets most of the weights to zero" in t for t in texts)
    assert any("another task" in t for t in texts)  # sharing is not transfer learning
    assert any("translation invariance" in t for t in texts)


def test_sparsity_is_not_zero_weights(bank):
    v = variant(bank, "why-conv-sparsity")
    assert v.answer.startswith("Each output value depends only on the few input values")
    tags = {m.tag for m in v.mistakes}
    assert {"sparsity-is-zero-weights", "confused-with-sharing"} <= tags


# --- 10 conv1d ------------------------------------------------------------------------------------

def test_full_convolution_of_123_with_21(bank):
    assert answer(bank, "conv1d-full", x=[1, 2, 3], w=[2, 1]) == [2, 5, 8, 3]


def test_convolution_without_padding(bank):
    assert answer(bank, "conv1d-valid", x=[1, 2, 3], w=[2, 1]) == [5, 8]


def test_flipped_filter_no_padding_and_one_zero(bank):
    x, w = [1, 3, -1, 1, -3], [1, 0, -1]
    assert answer(bank, "conv1d-flipped-filter", x=x, w=w, pad=0) == [2, 2, 2]
    assert answer(bank, "conv1d-flipped-filter", x=x, w=w, pad=1) == [-3, 2, 2, 2, 1]


# --- 11 conv2d ----------------------------------------------------------------------------------------

IMAGE = [[1, 2, 1], [2, 1, 1], [1, 1, 1]]
KERNEL = [[1, 0.5], [0.5, 1]]


def test_3x3_image_with_2x2_filter(bank):
    assert answer(bank, "conv2d-valid-matrix", x=IMAGE, w=KERNEL) == [[4, 4], [4, 3]]
    assert answer(bank, "conv2d-true-convolution", x=IMAGE, w=KERNEL) == [[4, 4], [4, 3]]


def test_element_sum_is_15(bank):
    assert answer(bank, "conv2d-sum", x=IMAGE, w=KERNEL) == 15


# --- 12 edge-detection -----------------------------------------------------------------------------

def test_vertical_edge_on_bright_left_half(bank):
    v = variant(bank, "edge-vertical-step", bright=10, dark=0, left_bright=True)
    assert v.answer == [[0, 30, 30, 0]] * 4
    assert [f.name for f in v.figures] == ["image X", "filter K"]
    assert v.figures[0].matrix[0] == (10, 10, 10, 0, 0, 0)


def test_dark_to_light_gives_minus_30(bank):
    v = variant(bank, "edge-vertical-step", bright=10, dark=0, left_bright=False)
    assert v.answer == [[0, -30, -30, 0]] * 4


def test_horizontal_filter_is_the_transpose(bank):
    v = variant(bank, "edge-horizontal", bright=10)
    assert v.params["w"] == [[1, 1, 1], [0, 0, 0], [-1, -1, -1]]
    assert v.answer == [[0] * 4, [30] * 4, [30] * 4, [0] * 4]


@pytest.mark.parametrize(("weights", "expected"), [([1, 2, 1], 40), ([3, 10, 3], 160)])
def test_sobel_and_scharr_weightings(bank, weights, expected):
    assert answer(bank, "edge-weighted-response", weights=weights, bright=10) == expected


@pytest.mark.parametrize(("turns", "expected"), [
    (0, "vertical edges, bright on the left and dark on the right"),
    (1, "horizontal edges, dark on top and bright below"),
    (2, "vertical edges, dark on the left and bright on the right"),
    (3, "horizontal edges, bright on top and dark below"),
])
def test_which_edges_a_rotated_filter_detects(bank, turns, expected):
    v = variant(bank, "edge-which-edges", base=[[1, 0, -1]] * 3, turns=turns)
    assert v.answer == expected
    assert expected in v.options


# --- 13 conv-over-volume -------------------------------------------------------------------------

def test_filter_depth_equals_input_channels(bank):
    assert answer(bank, "volume-filter-depth", n=6, c=3, k=2, f=3) == 3


def test_k_filters_give_k_channels(bank):
    assert answer(bank, "volume-output-shape", n=6, c=3, k=2) == [4, 4, 2]


def test_red_channel_filter_has_zeros_elsewhere(bank):
    prompts = {variant(bank, "volume-red-channel", s).prompt: variant(bank, "volume-red-channel",
                                                                        s).answer
               for s in range(40)}
    assert [a for p, a in prompts.items() if "only in the red channel" in p] == [True]


# --- 14 network-table -----------------------------------------------------------------------------

LENET = dict(n=32, c=3, f1=5, k1=8, f2=5, k2=16, u3=120, u4=84, classes=10)


@pytest.mark.parametrize(("row", "shape"), [
    (0, [28, 28, 8]), (1, [14, 14, 8]), (2, [10, 10, 16]), (3, [5, 5, 16]),
])
def test_lenet_shapes(bank, row, shape):
    assert answer(bank, "lenet-activation-shape", row=row, **LENET) == shape


@pytest.mark.parametrize(("row", "size", "params"), [
    (0, 6272, 608), (1, 1568, 0), (2, 1600, 3216), (3, 400, 0), (4, 120, 48_120),
    (5, 84, 10_164), (6, 10, 850),
])
def test_lenet_sizes_and_params(bank, row, size, params):
    assert answer(bank, "lenet-activation-size", row=row, **LENET) == size
    assert answer(bank, "lenet-params", row=row, **LENET) == params


# --- 15 continuous-convolution --------------------------------------------------------------------

def test_equal_pulses_give_a_triangle_unequal_a_trapezoid(bank):
    assert answer(bank, "pulse-shape", w1=2, w2=2) == "a triangle"
    assert answer(bank, "pulse-shape", w1=1, w2=3).startswith("a trapezoid")


def test_area_is_the_product_of_areas(bank):
    assert answer(bank, "pulse-area", h1=2, w1=3, h2=1, w2=4) == 24


def test_pulse_peak_and_support(bank):
    assert answer(bank, "pulse-peak", h1=2, w1=3, h2=1, w2=4) == 6
    assert answer(bank, "pulse-support", w1=3, w2=4) == 7


# --- 16 strided-floor --------------------------------------------------------------------------------

def test_strided_output_takes_the_floor(bank):
    # (7 + 0 - 3) / 3 = 1.33..: floor -> 1 + 1 = 2 (rounding would also say 2; ceiling 3)
    assert answer(bank, "strided-floor-size", n=7, f=3, s=3, p=0) == 2
    # (10 - 3) / 2 = 3.5: floor -> 4, rounding -> 5
    v = variant(bank, "strided-floor-size", n=10, f=3, s=2, p=0)
    assert v.answer == 4
    assert {m.tag: m.value for m in v.mistakes}["round-instead-of-floor"] == 5


# --- 17 correlation-vs-convolution -----------------------------------------------------------------

def test_convolution_flips_correlation_does_not(bank):
    x, w = [1, 2, 3, 4, 5], [1, 0, -1]
    assert answer(bank, "corr-vs-conv-1d", x=x, w=w) == [-2, -2, -2]
    assert answer(bank, "conv-vs-corr-1d", x=x, w=w) == [2, 2, 2]


def test_associativity_statement_is_true(bank):
    prompts = {variant(bank, "corr-conv-facts", s).prompt: variant(bank, "corr-conv-facts",
                                                                     s).answer
               for s in range(40)}
    assert [a for p, a in prompts.items() if "associative" in p] == [True]
    assert [a for p, a in prompts.items() if "frameworks flip the kernel" in p] == [False]


# --- 18 adaptive-pooling ----------------------------------------------------------------------------

@pytest.mark.parametrize(("i", "o", "kernel", "stride"), [(10, 3, 4, 3), (7, 2, 4, 3),
                                                          (64, 7, 10, 9)])
def test_adaptive_pooling_stride_and_kernel(bank, i, o, kernel, stride):
    assert answer(bank, "adaptive-stride", i=i, o=o) == stride
    assert answer(bank, "adaptive-kernel", i=i, o=o) == kernel


def test_adaptive_average_of_a_vector(bank):
    assert answer(bank, "adaptive-avg-vector", i=6, o=3, x=[1, 3, 5, 7, 9, 11]) == [2, 6, 10]


# --- 19 counting-layers -----------------------------------------------------------------------------

def test_lenet5_has_five_layers(bank):
    v = variant(bank, "counting-layers-count", blocks=2, fc=2)
    assert v.answer == 5
    assert {m.tag: m.value for m in v.mistakes}["pooling-counted-as-layer"] == 7


def test_lenet_total_parameters(bank):
    assert answer(bank, "lenet-total-params", **LENET) == 608 + 3216 + 48_120 + 10_164 + 850


def test_padded_corner_sees_only_four_pixels(bank):
    ones = [[1] * 4] * 4
    assert answer(bank, "conv2d-padded-corner", x=ones, w=[[1] * 3] * 3, i=0, j=0) == 4
    assert answer(bank, "conv2d-padded-corner", x=ones, w=[[1] * 3] * 3, i=0, j=3) == 4


def test_stacked_convolutions_each_count(bank):
    assert answer(bank, "counting-layers-mixed", convs=2, blocks=2, fc=2) == 7


def test_pooling_a_rectangle(bank):
    assert answer(bank, "pool-output-rectangular", n_h=32, n_w=20, c=16, f=2, s=2) == [16, 10, 16]
