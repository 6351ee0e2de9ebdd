"""Benchmark of code grading, end to end, in one run.

Measures, on this machine:

* the bare floor: a fresh ``python -c "import numpy"`` subprocess (what a cold sandbox costs
  before it runs anything), and a cold ``bwrap ... python -c "import numpy"`` when bubblewrap
  is installed (the simpler "one sandbox per job" design);
* a trivial job through the warm worker (fork a child, run one call);
* ``grade_source`` of a correct vectorized submission of the forward functions (zero_pad,
  conv_single_step, conv_forward, pool_forward; public and hidden tests, plus the speed test),
  p50 and p95 over 50 runs, and the same for a loop-based correct submission;
* ``grade_source`` of a course-style notebook (``.ipynb``: the course's first cell of imports
  and magics, a test cell with prints and plots after each function) against the same
  functions as a ``.py``, p50 of each in the same run (target: within 10 ms of each other);
* throughput with 2 workers grading submissions from 2 threads;
* a noisy neighbour: with 3 workers, two threads grade correct submissions while a third grades
  one student's hostile files in turn (a FIFO in the output area, an endless loop, a disk
  flood); the correct submissions' p99 latency and their throughput against the same pool
  when quiet, printed as a ratio.

Run with ``.venv/bin/python benchmarks/grading.py`` (``--runs N`` to change 50). Targets:
p50 <= 50 ms for the vectorized submission, >= 20 submissions/s with 2 workers; beside a hostile
neighbour, p99 < 5 s and >= 50% of the quiet throughput.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import numpy as np
from nbformat.v4 import new_code_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.code import grade_source  # noqa: E402
from grader.sandbox import SandboxLimits, SandboxPool, TestCall, run_calls  # noqa: E402
from grader.sandbox import bwrap_binary as bwrap_path  # noqa: E402
from grader.sandbox.runner import bwrap_command  # noqa: E402

FORWARD = ["zero_pad", "conv_single_step", "conv_forward", "pool_forward"]
SUBMISSIONS = ROOT / "tests" / "submissions"
HOSTILE = ROOT / "tests" / "hostile"
NEIGHBOUR = ("fifo_in_output_area.py", "infinite_loop.py", "disk_flood_many_files.py")
NEIGHBOUR_LIMITS = SandboxLimits(wall_s=1.0, cpu_s=2.0, import_wall_s=1.0, disk_mb=32)


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return statistics.median(ordered) * 1000, p95 * 1000


def _time(fn, runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def course_notebook(py_source: str) -> str:
    """``py_source``'s functions as the course's notebook: import cell, a test cell per function."""
    import ast

    first = ("import numpy as np\nimport h5py\nimport matplotlib.pyplot as plt\n"
             "from public_tests import *\n%matplotlib inline\n%load_ext autoreload\n")
    cells = [new_code_cell(first)]
    for node in ast.parse(py_source).body:
        segment = ast.get_source_segment(py_source, node)
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            cells[0].source += segment + "\n"
        elif isinstance(node, ast.FunctionDef):
            cells.append(new_code_cell(segment))
            cells.append(new_code_cell(
                f"np.random.seed(1)\nx = np.random.randn(2, 5, 5, 3)\nprint({node.name})\n"
                f"{node.name}_test({node.name})\nplt.imshow(x[0, :, :, 0])\n"))
    return nbformat.writes(new_notebook(cells=cells))


def bare_floor(runs: int) -> list[float]:
    return _time(lambda: subprocess.run([sys.executable, "-c", "import numpy"], check=True),
                 runs)


def cold_bwrap(runs: int) -> list[float] | None:
    bwrap = bwrap_path()
    if not bwrap:
        return None
    cmd = bwrap_command(bwrap)
    cmd = cmd[: cmd.index("-I") + 1] + ["-c", "import sys; sys.path.insert(0, '/sandbox/site');"
                                        " import numpy"]
    return _time(lambda: subprocess.run(cmd, check=True), runs)


def _correct_stream(source: str, count: int, pool: SandboxPool) -> tuple[list[float], float]:
    """Grade ``count`` correct submissions from 2 threads: latencies and submissions/s."""
    def one(_: int) -> float:
        start = time.perf_counter()
        grade_source(source, functions=FORWARD, pool=pool)
        return time.perf_counter() - start

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as executor:
        latencies = list(executor.map(one, range(count)))
    return latencies, count / (time.perf_counter() - start)


def noisy_neighbour(source: str, count: int) -> dict[str, float]:
    """Correct submissions quiet, then beside a stream of hostile ones, on one 3-worker pool."""
    pool = SandboxPool(3)
    _correct_stream(source, 6, pool)  # start the workers
    _, quiet = _correct_stream(source, count, pool)
    stop, hostile = threading.Event(), [0]

    def neighbour() -> None:
        files = [(HOSTILE / name).read_text() for name in NEIGHBOUR]
        while not stop.is_set():
            grade_source(files[hostile[0] % len(files)], functions=["conv_single_step"],
                         include_hidden=False, limits=NEIGHBOUR_LIMITS, pool=pool)
            hostile[0] += 1

    thread = threading.Thread(target=neighbour)
    thread.start()
    try:
        latencies, noisy = _correct_stream(source, count, pool)
    finally:
        stop.set()
        thread.join()
        pool.shutdown()
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
    return {"quiet": quiet, "noisy": noisy, "p99_ms": p99 * 1000, "hostile": hostile[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    runs = parser.parse_args().runs
    vectorized = (SUBMISSIONS / "correct_vectorized.py").read_text()
    loops = (SUBMISSIONS / "correct_loops.py").read_text()
    pool = SandboxPool(2)
    grade_source(vectorized, functions=FORWARD, pool=pool)  # start the workers
    grade_source(vectorized, functions=FORWARD, pool=pool)
    rows = []

    floor = bare_floor(max(runs // 2, 5))
    rows.append(("bare floor: python -c 'import numpy'", *_percentiles(floor)))
    cold = cold_bwrap(max(runs // 2, 5))
    if cold:
        rows.append(("cold bwrap + python -c 'import numpy'", *_percentiles(cold)))
    trivial = _time(lambda: run_calls("def f(x):\n    return x\n",
                                      [TestCall("t0", "f", (np.ones(3),))], pool=pool), runs)
    rows.append(("warm worker: one trivial call", *_percentiles(trivial)))
    vec = _time(lambda: grade_source(vectorized, functions=FORWARD, pool=pool), runs)
    rows.append(("grade: vectorized forward functions", *_percentiles(vec)))
    loop = _time(lambda: grade_source(loops, functions=FORWARD, pool=pool), runs)
    rows.append(("grade: loop-based forward functions", *_percentiles(loop)))
    course = (SUBMISSIONS / "course_vectorized.py").read_text()
    notebook = course_notebook(course)
    as_py, as_nb = [], []
    for _ in range(runs):  # interleaved, so a busy moment of the machine hits both alike
        as_py += _time(lambda: grade_source(course, functions=FORWARD, pool=pool), 1)
        as_nb += _time(lambda: grade_source(notebook, functions=FORWARD, pool=pool), 1)
    rows.append(("grade: course functions as .py", *_percentiles(as_py)))
    rows.append(("grade: same functions as course .ipynb", *_percentiles(as_nb)))

    count = max(runs, 20)
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as executor:
        list(executor.map(lambda _: grade_source(vectorized, functions=FORWARD, pool=pool),
                          range(count)))
    throughput = count / (time.perf_counter() - start)
    pool.shutdown()
    noise = noisy_neighbour(vectorized, max(runs * 2, 40))

    print(f"sandbox: {'bubblewrap' if bwrap_path() else 'rlimits only (no bwrap)'}; "
          f"{runs} runs each\n")
    print(f"| {'measurement':44s} | {'p50 ms':>8s} | {'p95 ms':>8s} |")
    print(f"|{'-' * 46}|{'-' * 10}|{'-' * 10}|")
    for name, p50, p95 in rows:
        print(f"| {name:44s} | {p50:8.1f} | {p95:8.1f} |")
    vec_p50 = _percentiles(vec)[0]
    print(f"\nvectorized p50 / bare floor p50: {vec_p50 / _percentiles(floor)[0]:.2f}")
    notebook_gap = _percentiles(as_nb)[0] - _percentiles(as_py)[0]
    print(f"course notebook p50 - .py p50: {notebook_gap:+.1f} ms (target within 10 ms)")
    print(f"throughput, 2 workers, vectorized forward submissions: {throughput:.1f} per second")
    ratio = noise["noisy"] / noise["quiet"]
    print(f"noisy neighbour, 3 workers: correct submissions {noise['quiet']:.1f}/s quiet, "
          f"{noise['noisy']:.1f}/s beside {noise['hostile']} hostile gradings "
          f"(ratio {ratio:.2f}); p99 {noise['p99_ms']:.0f} ms")
    print(f"targets: p50 <= 50 ms -> {'met' if vec_p50 <= 50 else 'MISSED'}; "
          f">= 20/s -> {'met' if throughput >= 20 else 'MISSED'}; "
          f"neighbour p99 < 5 s -> {'met' if noise['p99_ms'] < 5000 else 'MISSED'}; "
          f"neighbour ratio >= 0.50 -> {'met' if ratio >= 0.5 else 'MISSED'}")


if __name__ == "__main__":
    main()
