"""Built-in mistake families: the classic slips, given to every formula problem for free.

A family is a pair of expressions over the *standard parameter names* plus the feedback:

- ``correct``: what the problem must be asking for the family to apply (checked per variant:
  the family is used only when this value equals the variant's answer, so a family never
  attaches itself to a question it does not fit);
- ``wrong``: the value a student who makes the slip would give (dropped for a variant where it
  happens to equal the correct answer).

Standard names (a problem may map its own names onto them with ``roles:``):

==========  =====================================================================
``n``       input height and width (square); or ``n_h`` and ``n_w``
``c``       input channels (n_C_prev)
``f``       filter (or pooling window) size
``s``       stride (1 when the problem has none)
``p``       padding on each side (0 when the problem has none)
``k``       number of filters
``n_in``    inputs of a fully connected layer; ``units``: its units
``x, w``    1D/2D input and kernel; ``mode`` ("valid" when absent); ``pad`` (0 when absent)
==========  =====================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from grader.expressions import Expr, compile_expr, same_value, to_jsonable

STANDARD_DEFAULTS: dict[str, Any] = {"s": 1, "p": 0, "mode": "valid", "pad": 0}


@dataclass(frozen=True, eq=False)
class Family:
    """One built-in mistake: applies where ``correct`` equals the answer, suggests ``wrong``."""

    tag: str
    correct: Expr
    wrong: Expr
    message: str
    kinds: frozenset[str]

    @property
    def names(self) -> frozenset[str]:
        return self.correct.names | self.wrong.names

    def wrong_value(self, context: Mapping[str, Any], answer: Any, memo: dict[str, Any]) -> Any:
        """The slip's value for this variant, or None when the family does not fit it.

        ``memo`` caches expression values for one variant (see ``Expr.evaluate_cached``).
        """
        if not same_value(to_jsonable(self.correct.evaluate_cached(context, memo)), answer):
            return None
        return self.wrong.evaluate_cached(context, memo)


SCALAR = frozenset({"integer", "number", "choice"})
SHAPE = frozenset({"shape", "vector", "choice"})
ARRAY = frozenset({"vector", "matrix", "choice"})


def _family(tag: str, correct: str, wrong: str, message: str, kinds: frozenset[str] = SCALAR
            ) -> Family:
    """``kinds``: the answer types the family can apply to (others skip it without evaluating)."""
    where = f"built-in mistake family {tag!r}"
    return Family(tag, compile_expr(correct, where), compile_expr(wrong, where), message, kinds)


_SIZE = "output_size(n, f, s, p)"
_H = "output_size(n_h, f, s, p)"
_W = "output_size(n_w, f, s, p)"

MSG = {
    "plus-one": "Check the size formula: after counting how many strides fit, add 1 for the "
                "filter's first position: floor((n + 2p - f) / s) + 1.",
    "round": "It looks like you rounded (n + 2p - f) / s to the nearest whole number. A filter "
             "position that would hang over the edge is not used, so take the floor.",
    "floor": "A dimension that is not a whole number is the value before rounding down: only "
             "whole steps count (a window that would hang over the edge is not used), so take "
             "the floor of (n + 2p - f) / s before adding 1.",
    "ceil": "It looks like you rounded (n + 2p - f) / s up. A filter position that would hang "
            "over the edge is not used, so take the floor.",
    "pad-once": "Padding adds p zeros on both sides of each axis, so the padded size is n + 2p, "
                "not n + p.",
    "stride": "The stride moves the filter s steps at a time; divide (n + 2p - f) by s before "
              "adding 1.",
    "no-pad": "Remember the padding: the filter slides over the padded input of size n + 2p.",
    "depth": "The depth of a conv layer's output is the number of filters, not the number of "
             "input channels: each filter produces one channel.",
    "pool-depth": "Pooling works on each channel separately, so it keeps the number of "
                  "channels; only the height and width shrink.",
    "bias": "Each filter (or unit) also has a bias; count it too.",
    "channels": "A filter spans all the input channels: it has f x f x n_C_prev weights, "
                "not f x f.",
    "bias-mult": "Add the biases (one per filter or unit) to the weights; don't multiply.",
    "one-bias": "Every filter (and every unit) has a bias of its own, so a layer has as many "
                "biases as filters or units, not one for the whole layer.",
    "depth-product": "Each filter spans all the input channels and gives one output channel: "
                     "the input's channels set each filter's depth, the number of filters sets "
                     "the output's.",
    "padded-size": "That is the size of the padded input; the filter then slides over it, so "
                   "count the positions it can take: floor((n + 2p - f) / s) + 1.",
    "one-filter": "That is the count for one filter; the layer has several.",
    "fc-bias": "A fully connected layer has one bias per unit (output), not one per input.",
    "one-side": "Zero padding adds p on both sides: p rows on top and p at the bottom, p columns "
                "on the left and p on the right.",
    "pad-depth": "Padding only applies to height and width; the channels are never padded.",
    "same-total": "That is the total padding along an axis; 'same' padding puts half of it on "
                  "each side: p = (f - 1) / 2.",
    "same-up": "For an odd f, 'same' padding is p = (f - 1) / 2; check your rounding.",
    "flipped": "It looks like you flipped the kernel. Cross-correlation (what deep learning "
               "calls convolution) slides the filter as it is, without flipping.",
    "unflipped": "It looks like you did not flip the kernel. True convolution flips it first: "
                 "(f * g)[n] = sum over m of f[m] g[n - m].",
    "pool-params": "A pooling layer has no parameters: its window size, stride and mode are "
                   "fixed hyperparameters, and nothing in it is learned.",
    "log10": "That is the logarithm of the number of inputs alone; count the connections: every "
             "input connects to every hidden unit.",
}


def _size_families() -> tuple[Family, ...]:
    return (
        _family("plus-one-forgotten", _SIZE, "(n + 2*p - f) // s", MSG["plus-one"]),
        _family("round-instead-of-floor", _SIZE, "round((n + 2*p - f) / s) + 1", MSG["round"]),
        _family("ceil-instead-of-floor", _SIZE, "ceil((n + 2*p - f) / s) + 1", MSG["ceil"]),
        _family("pad-counted-once", _SIZE, "(n + p - f) // s + 1", MSG["pad-once"]),
        _family("stride-ignored", _SIZE, "n + 2*p - f + 1", MSG["stride"]),
        _family("padding-ignored", _SIZE, "(n - f) // s + 1", MSG["no-pad"]),
        _family("padded-size-given", _SIZE, "n + 2*p if p > 0 else None", MSG["padded-size"]),
    )


def _shape_families(correct: str, depth: str) -> tuple[Family, ...]:
    slips = {
        "plus-one-forgotten": ("(N + 2*p - f) // s", "plus-one"),
        "round-instead-of-floor": ("round((N + 2*p - f) / s) + 1", "round"),
        "ceil-instead-of-floor": ("ceil((N + 2*p - f) / s) + 1", "ceil"),
        "pad-counted-once": ("(N + p - f) // s + 1", "pad-once"),
        "stride-ignored": ("N + 2*p - f + 1", "stride"),
        "padding-ignored": ("(N - f) // s + 1", "no-pad"),
        "floor-not-taken": ("(N + 2*p - f) / s + 1", "floor"),
    }
    return tuple(
        _family(tag, correct,
                f"[{axis.replace('N', 'n_h')}, {axis.replace('N', 'n_w')}, {depth}]", MSG[key],
                SHAPE)
        for tag, (axis, key) in slips.items()
    )


def _conv_shape_families() -> tuple[Family, ...]:
    correct = "conv_output_shape(n_h, n_w, f, s, p, k)"
    return (
        _family("channels-instead-of-filters", correct, f"[{_H}, {_W}, c]", MSG["depth"],
                SHAPE),
        _family("channels-multiplied", correct, f"[{_H}, {_W}, c * k]", MSG["depth-product"],
                SHAPE),
        *_shape_families(correct, "k"),
    )


def _pool_shape_families() -> tuple[Family, ...]:
    correct = "pool_output_shape(n_h, n_w, c, f, s)"
    return (
        _family("pooling-changes-depth", correct, f"[{_H}, {_W}, output_size(c, f, s)]",
                MSG["pool-depth"], SHAPE),
        _family("pooling-depth-halved", correct, f"[{_H}, {_W}, c // s]", MSG["pool-depth"],
                SHAPE),
        *_shape_families(correct, "c"),
    )


def _pool_params_families() -> tuple[Family, ...]:
    return (
        _family("pooling-params-counted", "pool_params()", "f * f * c", MSG["pool-params"]),
        _family("pooling-params-counted-with-bias", "pool_params()", "(f * f * c + 1) * c",
                MSG["pool-params"]),
    )


def _padding_families() -> tuple[Family, ...]:
    return (
        _family("pad-one-side-only", "n + 2*p", "n + p", MSG["one-side"]),
        _family("pad-one-side-only", "[n_h + 2*p, n_w + 2*p, c]", "[n_h + p, n_w + p, c]",
                MSG["one-side"], SHAPE),
        _family("padding-changes-depth", "[n_h + 2*p, n_w + 2*p, c]",
                "[n_h + 2*p, n_w + 2*p, c + 2*p]", MSG["pad-depth"], SHAPE),
    )


def _same_padding_families() -> tuple[Family, ...]:
    return (
        _family("pad-counted-once", "same_padding(f)", "f - 1", MSG["same-total"]),
        _family("same-padding-rounded-up", "same_padding(f)", "(f + 1) // 2", MSG["same-up"]),
    )


def _conv_params_families() -> tuple[Family, ...]:
    correct = "conv_params(f, c, k)"
    return (
        _family("bias-forgotten", correct, "f * f * c * k", MSG["bias"]),
        _family("input-channels-forgotten", correct, "(f * f + 1) * k", MSG["channels"]),
        _family("biases-multiplied", correct, "f * f * c * k * k", MSG["bias-mult"]),
        _family("one-filter-only", correct, "f * f * c + 1", MSG["one-filter"]),
        _family("one-bias-for-layer", correct, "f * f * c * k + 1", MSG["one-bias"]),
    )


def _fc_families() -> tuple[Family, ...]:
    correct = "n_in * units + units"
    return (
        _family("bias-forgotten", correct, "n_in * units", MSG["bias"]),
        _family("fc-bias-per-input", correct, "n_in * units + n_in", MSG["fc-bias"]),
        _family("biases-multiplied", correct, "n_in * units * units", MSG["bias-mult"]),
        _family("one-bias-for-layer", correct, "n_in * units + 1", MSG["one-bias"]),
        _family("log10-wrong-count", "log10(n_in * units)", "log10(n_in)", MSG["log10"]),
    )


def _flip_families(dim: str) -> tuple[Family, ...]:
    corr, conv = f"correlate{dim}(x, w, mode, pad)", f"convolve{dim}(x, w, mode, pad)"
    corr_sum, conv_sum = f"matsum({corr})", f"matsum({conv})"
    left, right = "pad_sides(x, pad, 0)", "pad_sides(x, 0, pad)"
    return (
        _family("kernel-flipped", corr, conv, MSG["flipped"], ARRAY),
        _family("kernel-not-flipped", conv, corr, MSG["unflipped"], ARRAY),
        _family("kernel-flipped", corr_sum, conv_sum, MSG["flipped"]),
        _family("kernel-not-flipped", conv_sum, corr_sum, MSG["unflipped"]),
        *(_family("pad-one-side-only", corr, f"correlate{dim}({side}, w, mode)", MSG["one-side"],
                  ARRAY) for side in (left, right)),
        *(_family("pad-one-side-only", conv, f"convolve{dim}({side}, w, mode)", MSG["one-side"],
                  ARRAY) for side in (left, right)),
    )


def _build() -> dict[str, tuple[Family, ...]]:
    size, conv_shape, pool_shape = _size_families(), _conv_shape_families(), _pool_shape_families()
    conv_params, fc = _conv_params_families(), _fc_families()
    flip1, flip2 = _flip_families("1d"), _flip_families("2d")
    return {
        "conv-output-volume": size + conv_shape,
        "strided-floor": size + conv_shape,
        "padding": _padding_families() + size + conv_shape,
        "same-padding": _same_padding_families(),
        "pool-output-volume": size + pool_shape + _pool_params_families(),
        "pooling-facts": _pool_params_families(),
        "conv-params": conv_params,
        "fc-vs-conv-params": conv_params + fc,
        "network-table": size + conv_shape + pool_shape + conv_params + fc
        + _pool_params_families(),
        "one-by-one-conv": conv_shape + conv_params,
        "conv-over-volume": conv_shape + conv_params,
        "conv1d": flip1,
        "conv2d": flip2,
        "edge-detection": flip2,
        "correlation-vs-convolution": flip1 + flip2,
    }


FAMILIES: dict[str, tuple[Family, ...]] = _build()
"""Built-in families by topic slug."""

FAMILY_TAGS: frozenset[str] = frozenset(f.tag for fams in FAMILIES.values() for f in fams)


def families_for(topic: str, answer_type: str, available: frozenset[str],
                 exclude: frozenset[str] = frozenset()) -> tuple[Family, ...]:
    """The families of ``topic`` that fit ``answer_type`` and whose names are all defined."""
    return tuple(
        f for f in FAMILIES.get(topic, ())
        if f.tag not in exclude and answer_type in f.kinds and f.names <= available
    )


def standard_context(env: Mapping[str, Any]) -> dict[str, Any]:
    """Fill in the standard names a problem leaves implicit (n_h/n_w from n, s=1, p=0, ...)."""
    extra: dict[str, Any] = {k: v for k, v in STANDARD_DEFAULTS.items() if k not in env}
    if "n" in env:
        for axis in ("n_h", "n_w"):
            if axis not in env:
                extra[axis] = env["n"]
    return extra
