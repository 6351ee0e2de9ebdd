"""Start-up benchmark: whole processes, side by side in one run, median of several rounds.

Run with ``.venv/bin/python benchmarks/startup.py [--rounds 9]``. Compared, each as a fresh
process, round-robin (so load on the machine hits all alike):

* ``python -c "import numpy"``: the floor, and the unit of the target;
* ``grader check`` of the fresh exercise file (``exercises/conv_step_by_step.py``);
* the student kit's check of the same file (``python -m stride_kit check``), from a kit built
  (``grader kit``) into a temporary folder;
* for scale, ``grader list`` (the problem bank's machinery) and the kit's check of a correct
  solution (which starts one child process per batch of tests).

Target: ``grader check`` of the stub and the kit's check each at most 2x ``import numpy``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET = 2.0


def _commands() -> dict[str, list[str]]:
    python = sys.executable
    grader = [python, "-m", "grader"]
    stub = str(ROOT / "exercises" / "conv_step_by_step.py")
    solved = str(ROOT / "tests" / "submissions" / "correct_vectorized.py")
    return {
        "import numpy": [python, "-c", "import numpy"],
        "grader check (stub)": [*grader, "check", stub],
        "kit check (stub)": [python, "-m", "stride_kit", "check", stub],
        "grader list": [*grader, "list"],
        "kit check (solved, runs)": [python, "-m", "stride_kit", "check", solved],
    }


def _time(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                   cwd=ROOT, check=False)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    from grader.code import EXERCISES
    from grader.kit.build import build_kit

    with tempfile.TemporaryDirectory() as folder:
        wheel = build_kit(EXERCISES, Path(folder))
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(Path(folder) / "kit")
        env = {**os.environ, "PYTHONPATH": str(Path(folder) / "kit")}
        commands = _commands()
        times: dict[str, list[float]] = {name: [] for name in commands}
        for command in commands.values():  # warm the file cache once, untimed
            _time(command, env)
        for _ in range(args.rounds):
            for name, command in commands.items():
                times[name].append(_time(command, env))
    floor = statistics.median(times["import numpy"])
    print(f"{args.rounds} rounds, load average {os.getloadavg()[0]:.1f}")
    print(f"{'command':<28}{'median ms':>10}{'min ms':>9}{'x numpy':>9}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<28}{median * 1000:>10.0f}{min(values) * 1000:>9.0f}"
              f"{median / floor:>9.2f}")
    met = all(statistics.median(times[n]) <= TARGET * floor
              for n in ("grader check (stub)", "kit check (stub)"))
    print(f"target (stub checks <= {TARGET:g}x import numpy): {'met' if met else 'NOT met'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
