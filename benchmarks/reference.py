"""Time the NumPy reference against the plain loops, PyTorch (if installed) and the GEMM peak.

Run it with ``make bench`` or ``.venv/bin/python benchmarks/reference.py``. It prints one line per
measurement and a verdict per target:

- conv_forward: not slower than torch's float64 conv2d, at least 25% of the float64 GEMM peak,
  at least 100x faster than the loops;
- pool_forward: within 2x of torch's max_pool2d / avg_pool2d.

Every time is the best of about ``--repeat`` runs, in interleaved rounds after a warm-up. The loops are timed on a slice of
the batch (``--loop-samples`` samples) and scaled to the full batch, since their cost is linear
in the batch size; the output says so.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import loop_reference as loops  # noqa: E402

from grader.reference import (  # noqa: E402
    conv_backward,
    conv_forward,
    pool_backward,
    pool_forward,
)

try:  # torch is optional: the benchmark says so and carries on without it
    import torch
    import torch.nn.functional as F
except ImportError:  # pragma: no cover - depends on the machine
    torch = None


@dataclass(frozen=True)
class Case:
    """One layer to time: a conv (``hparameters`` {"stride", "pad"}) or a pooling layer."""

    name: str
    hparameters: dict
    mode: str = "max"


def best_times(fns: list[Callable[[], object]], repeat: int, rounds: int = 3) -> list[float]:
    """Best wall-clock time of each function over about ``repeat`` runs.

    The runs are split into ``rounds`` rounds; in each round every function runs a short
    consecutive batch, the first run of which is a warm-up. Interleaving the rounds means a burst
    of load from other processes slows all of them alike; batching means no function is timed
    right after another library's (torch's OpenMP threads keep spinning for a moment after each
    call and would steal the CPU from the next function).
    """
    per_round = max(1, -(-repeat // rounds))
    best = [float("inf")] * len(fns)
    for _ in range(rounds):
        for index, fn in enumerate(fns):
            fn()
            for _ in range(per_round):
                start = time.perf_counter()
                fn()
                best[index] = min(best[index], time.perf_counter() - start)
    return best


def gemm(n: int = 2048) -> tuple[Callable[[], object], int]:
    """A float64 n x n matrix product and its flop count, for the machine's BLAS peak."""
    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    return (lambda: X @ Y), 2 * n**3


def conv_flops(W: np.ndarray, Z: np.ndarray) -> int:
    """2 * m * n_H * n_W * f * f * n_C_prev * n_C: each multiply-add counts as two flops."""
    m, n_H, n_W, n_C = Z.shape
    return 2 * m * n_H * n_W * W.shape[0] * W.shape[1] * W.shape[2] * n_C


def time_loops(fn: Callable[[np.ndarray], object], X: np.ndarray, samples: int) -> float:
    """Time ``fn`` on the first ``samples`` samples once and scale to the whole batch."""
    part = X[:samples]
    start = time.perf_counter()
    fn(part)
    return (time.perf_counter() - start) * X.shape[0] / samples


def nchw(X: np.ndarray):
    """A torch tensor holding ``X`` (m, n_H, n_W, n_C) in torch's (m, n_C, n_H, n_W) layout."""
    return torch.from_numpy(np.ascontiguousarray(X.transpose(0, 3, 1, 2)))


def torch_conv(A: np.ndarray, W: np.ndarray, b: np.ndarray, hp: dict) -> Callable[[], object]:
    """torch's float64 conv2d on NCHW copies of the same data (copies made outside timing)."""
    At, Wt = nchw(A), torch.from_numpy(np.ascontiguousarray(W.transpose(3, 2, 0, 1)))
    bt = torch.from_numpy(b.reshape(-1).copy())
    return lambda: F.conv2d(At, Wt, bt, stride=hp["stride"], padding=hp["pad"])


def torch_pool(A: np.ndarray, hp: dict, mode: str) -> Callable[[], object]:
    """torch's float64 max_pool2d / avg_pool2d on an NCHW copy."""
    At = nchw(A)
    pool = F.max_pool2d if mode == "max" else F.avg_pool2d
    return lambda: pool(At, hp["f"], hp["stride"])


def max_difference(ours: np.ndarray, theirs) -> float:
    """Largest absolute difference between our NHWC output and torch's NCHW one."""
    return float(np.abs(theirs.numpy().transpose(0, 2, 3, 1) - ours).max())


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def bench_conv(case: Case, A, W, b, args) -> list[str]:
    hp = case.hparameters
    Z, _ = conv_forward(A, W, b, hp)
    product, product_flops = gemm()
    fns = [lambda: conv_forward(A, W, b, hp), product]
    if torch is not None:
        fns.append(torch_conv(A, W, b, hp))
    times = best_times(fns, args.repeat)
    ours, peak = times[0], product_flops / times[1] / 1e9
    gflops = conv_flops(W, Z) / ours / 1e9
    loop = time_loops(lambda X: loops.conv_forward(X, W, b, hp), A, args.loop_samples)
    lines = [
        f"conv_forward {case.name}: A {A.shape}, W {W.shape} -> Z {Z.shape}",
        f"  reference   {ours * 1e3:9.2f} ms  {gflops:6.1f} GFLOP/s = {100 * gflops / peak:5.1f}% "
        f"of the GEMM peak {peak:.1f} GFLOP/s measured alongside "
        f"(target >= 25%: {verdict(gflops >= 0.25 * peak)})",
        f"  loops       {loop * 1e3:9.0f} ms  (timed on {args.loop_samples} of {A.shape[0]} "
        f"samples, scaled)  reference is {loop / ours:5.0f}x faster "
        f"(target >= 100x: {verdict(loop / ours >= 100)})",
    ]
    if torch is not None:
        lines.append(
            f"  torch       {times[2] * 1e3:9.2f} ms  torch/reference = {times[2] / ours:5.2f} "
            f"(target >= 1, not slower than torch: {verdict(times[2] >= ours)}); "
            f"max |difference| {max_difference(Z, fns[2]()):.1e}")
    return lines


def bench_pool(case: Case, A, args) -> list[str]:
    hp = case.hparameters
    out, _ = pool_forward(A, hp, case.mode)
    fns = [lambda: pool_forward(A, hp, case.mode)]
    if torch is not None:
        fns.append(torch_pool(A, hp, case.mode))
    times = best_times(fns, args.repeat)
    ours = times[0]
    loop = time_loops(lambda X: loops.pool_forward(X, hp, case.mode), A, args.loop_samples)
    lines = [
        f"pool_forward {case.name}: A {A.shape} -> {out.shape}",
        f"  reference   {ours * 1e3:9.2f} ms",
        f"  loops       {loop * 1e3:9.0f} ms  (timed on {args.loop_samples} of {A.shape[0]} "
        f"samples, scaled)  reference is {loop / ours:5.0f}x faster",
    ]
    if torch is not None:
        lines.append(
            f"  torch       {times[1] * 1e3:9.2f} ms  reference/torch = {ours / times[1]:5.2f} "
            f"(target <= 2, within 2x of torch: {verdict(ours <= 2 * times[1])}); "
            f"max |difference| {max_difference(out, fns[1]()):.1e}")
    return lines


def bench_backward(A, W, b, P, args) -> list[str]:
    """Backward passes, for information (no targets): reference vs loops."""
    lines = []
    for hp in ({"stride": 1, "pad": 1}, {"stride": 2, "pad": 0}):
        Z, cache = conv_forward(A, W, b, hp)
        dZ = np.ones_like(Z)
        ours = best_times([lambda: conv_backward(dZ, cache)], args.repeat)[0]  # noqa: B023
        part = (A[:args.loop_samples], W, b, hp)
        loop = time_loops(lambda _: loops.conv_backward(dZ[:args.loop_samples], part), A,  # noqa: B023
                          args.loop_samples)
        lines.append(f"conv_backward stride {hp['stride']} pad {hp['pad']}: reference "
                     f"{ours * 1e3:8.2f} ms, loops {loop * 1e3:8.0f} ms (scaled), "
                     f"{loop / ours:5.0f}x faster")
    for mode in ("max", "average"):
        hp = {"f": 2, "stride": 2}
        out, cache = pool_forward(P, hp, mode)
        dA = np.ones_like(out)
        ours = best_times([lambda: pool_backward(dA, cache, mode)], args.repeat)[0]  # noqa: B023
        part = (P[:args.loop_samples], hp)
        loop = time_loops(lambda _: loops.pool_backward(dA[:args.loop_samples], part, mode),  # noqa: B023
                          P, args.loop_samples)
        lines.append(f"pool_backward {mode} f=2 s=2: reference {ours * 1e3:8.2f} ms, loops "
                     f"{loop * 1e3:8.0f} ms (scaled), {loop / ours:5.0f}x faster")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15, help="timed runs per measurement")
    parser.add_argument("--loop-samples", type=int, default=1,
                        help="samples of the batch the loop version runs on")
    parser.add_argument("--skip-backward", action="store_true",
                        help="leave out the (informational) backward timings")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    A = rng.standard_normal((16, 64, 64, 16))
    W = rng.standard_normal((3, 3, 16, 32))
    b = rng.standard_normal((1, 1, 1, 32))
    P = rng.standard_normal((16, 64, 64, 32))

    print(f"python {platform.python_version()}, numpy {np.__version__}, "
          f"torch {torch.__version__ if torch is not None else 'not installed (torch rows skipped)'}"
          f", {platform.machine()}, {os.cpu_count()} CPUs, float64 throughout, best of "
          f"{args.repeat} runs")
    print("load average before the run: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    if torch is not None:
        print(f"torch threads: {torch.get_num_threads()}")
    for case in (Case("stride 1 pad 1", {"stride": 1, "pad": 1}),
                 Case("stride 2 pad 0", {"stride": 2, "pad": 0})):
        print("\n".join(bench_conv(case, A, W, b, args)))
    for mode in ("max", "average"):
        case = Case(f"{mode} f=2 s=2", {"f": 2, "stride": 2}, mode=mode)
        print("\n".join(bench_pool(case, P, args)))
    if not args.skip_backward:
        print("\n".join(bench_backward(A, W, b, P, args)))


if __name__ == "__main__":
    main()
