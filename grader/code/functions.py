"""The course's graded functions: the one home of a code-exercise function's record.

Each :class:`CourseFunction` says how to build the function's inputs from a case's parameters
(deterministic in the case's seed), how to call the trusted reference on them, and what the
outputs that are compared are called. A result kind (one of ``grader.code.spec.RESULT_KINDS``,
named by the exercise spec) says which parts of the return value are brought back from the
sandbox and checked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from grader import reference

SAVED_ITEMS = {"tuple0": (0,), "grads": (0, 1, 2)}  # None (the default): the whole value

Inputs = tuple[tuple, dict]
Builder = Callable[[Mapping, np.random.Generator], Inputs]


@dataclass(frozen=True)
class CourseFunction:
    """One graded function: its input builder, its reference and its compared outputs.

    ``outputs`` names the compared outputs in order: one name for an array, a scalar, a mask
    or the first item of an (output, cache) tuple; three for a backward pass's gradients.
    """

    name: str
    build: Builder
    reference: Callable[..., Any]
    outputs: tuple[str, ...] = ("output",)


def saved_items(kind: str) -> tuple[int, ...] | None:
    """The items of a tuple result that are brought back (None: the whole value)."""
    return SAVED_ITEMS.get(kind)


def _rand(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape)


def _conv_inputs(p: Mapping, rng: np.random.Generator) -> tuple:
    A = _rand(rng, p["m"], p["n_H"], p["n_W"], p["n_C_prev"])
    W = _rand(rng, p["f"], p["f"], p["n_C_prev"], p["n_C"])
    b = _rand(rng, 1, 1, 1, p["n_C"])
    return A, W, b, {"stride": int(p["stride"]), "pad": int(p["pad"])}


def _pool_inputs(p: Mapping, rng: np.random.Generator) -> tuple:
    shape = (p["m"], p["n_H"], p["n_W"], p["n_C"])
    if "levels" in p:
        # Few distinct values, so most pooling windows hold several equal maxima.
        A = rng.integers(0, int(p["levels"]), size=shape).astype(np.float64)
    else:
        A = _rand(rng, *shape)
    return A, {"f": int(p["f"]), "stride": int(p["stride"])}


def _window(p: Mapping, rng: np.random.Generator) -> Inputs:
    """One pooling window: given by the case (to place tied maxima) or drawn at random."""
    if "window" in p:
        return (np.array(p["window"], dtype=np.float64),), {}
    return (_rand(rng, p["n_H"], p["n_W"]),), {}


def _build_conv_backward(p: Mapping, rng: np.random.Generator) -> Inputs:
    cache = _conv_inputs(p, rng)
    Z, _ = reference.conv_forward(*cache)
    return (_rand(rng, *Z.shape), cache), {}


def _build_pool_backward(p: Mapping, rng: np.random.Generator) -> Inputs:
    cache = _pool_inputs(p, rng)
    A, _ = reference.pool_forward(*cache, mode=p["mode"])
    return (_rand(rng, *A.shape), cache), {"mode": p["mode"]}


def _signal(p: Mapping, rng: np.random.Generator, ndim: int) -> Inputs:
    if "x" in p:
        x, k = np.array(p["x"]), np.array(p["k"])
    elif ndim == 1:
        x, k = _rand(rng, p["n"]), _rand(rng, p["f"])
    else:
        x, k = _rand(rng, p["n_H"], p["n_W"]), _rand(rng, p["f_H"], p["f_W"])
    return (x, k), {"mode": p["mode"], "pad": int(p.get("pad", 0))}


def _edge_image(p: Mapping, rng: np.random.Generator) -> Inputs:
    if p.get("image") == "halves":
        image = np.zeros((p["n_H"], p["n_W"]))
        image[:, : p["n_W"] // 2] = 10.0
    else:
        image = _rand(rng, p["n_H"], p["n_W"])
    return (image,), {"direction": p["direction"]}


def edge_filter(direction: str) -> np.ndarray:
    """The 3x3 edge filter of the course: vertical, or its transpose for horizontal edges."""
    vertical = np.array([[1.0, 0.0, -1.0]] * 3)
    return vertical if direction == "vertical" else vertical.T


def _detect_edges(image: np.ndarray, direction: str) -> np.ndarray:
    return reference.correlate2d(image, edge_filter(direction), mode="valid")


def _records(*functions: CourseFunction) -> dict[str, CourseFunction]:
    return {f.name: f for f in functions}


FUNCTIONS: dict[str, CourseFunction] = _records(
    CourseFunction("zero_pad", lambda p, r: (
        (_rand(r, p["m"], p["n_H"], p["n_W"], p["n_C"]), int(p["pad"])), {}),
        reference.zero_pad),
    CourseFunction("conv_single_step", lambda p, r: (
        (_rand(r, p["f"], p["f"], p["n_C_prev"]), _rand(r, p["f"], p["f"], p["n_C_prev"]),
         _rand(r, 1, 1, 1)), {}), reference.conv_single_step),
    CourseFunction("conv_forward", lambda p, r: (_conv_inputs(p, r), {}),
                   reference.conv_forward, ("Z",)),
    CourseFunction("pool_forward", lambda p, r: (_pool_inputs(p, r), {"mode": p["mode"]}),
                   reference.pool_forward, ("A",)),
    CourseFunction("conv_backward", _build_conv_backward, reference.conv_backward,
                   ("dA_prev", "dW", "db")),
    CourseFunction("create_mask_from_window", _window, reference.create_mask_from_window),
    CourseFunction("distribute_value", lambda p, r: (
        (float(p["dz"]), (int(p["n_H"]), int(p["n_W"]))), {}), reference.distribute_value),
    CourseFunction("pool_backward", _build_pool_backward, reference.pool_backward),
    CourseFunction("convolve1d", lambda p, r: _signal(p, r, 1), reference.convolve1d),
    CourseFunction("correlate1d", lambda p, r: _signal(p, r, 1), reference.correlate1d),
    CourseFunction("convolve2d", lambda p, r: _signal(p, r, 2), reference.convolve2d),
    CourseFunction("correlate2d", lambda p, r: _signal(p, r, 2), reference.correlate2d),
    CourseFunction("detect_edges", _edge_image, _detect_edges),
)


def reference_call(func: str, args: tuple, kwargs: Mapping) -> Any:
    """Call the trusted reference on (copies of) the inputs."""
    return FUNCTIONS[func].reference(*_copy(args), **_copy(dict(kwargs)))


def _copy(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, tuple):
        return tuple(_copy(v) for v in value)
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value


def expected_outputs(kind: str, func: str, result: Any) -> list[tuple[str, np.ndarray]]:
    """(name, expected array) pairs that the student's return value is checked against."""
    names = FUNCTIONS[func].outputs
    if kind == "tuple0":
        return [(names[0], np.asarray(result[0]))]
    if kind == "grads":
        return [(n, np.asarray(r)) for n, r in zip(names, result, strict=True)]
    return [("output", np.asarray(result))]
