"""Benchmark of the problem bank: a full lint run, and generating + grading one variant.

Run with ``.venv/bin/python benchmarks/bank.py [--variants 500] [--jobs N]``. Targets:
lint of the whole bank with 500 variants per template under 10 s; generate + grade of one
variant under 1 ms median.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from grader.bank import DEFAULT_PROBLEMS_DIR, load_bank  # noqa: E402
from grader.grading import describe_answer, grade_raw  # noqa: E402
from grader.lint import lint_problems  # noqa: E402
from grader.variants import generate  # noqa: E402


def time_lint(variants: int, jobs: int) -> tuple[float, float, int, int, int]:
    """Wall-clock seconds, CPU seconds of this process (meaningful for jobs=1), templates,
    distinct variants checked, findings."""
    start, cpu = time.perf_counter(), time.process_time()
    bank = load_bank()
    reports = lint_problems(bank.problems, variants, jobs, DEFAULT_PROBLEMS_DIR)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    findings = sum(len(r.findings) for r in reports.values())
    distinct = sum(r.distinct for r in reports.values())
    return elapsed, cpu, len(bank.problems), distinct, findings


def time_generate_and_grade(rounds: int) -> tuple[float, float, dict[str, float]]:
    """Median and 90th percentile (ms) of generate + grade, over every problem and many seeds;
    the typed answer is the correct one in its displayed form, prepared outside the timing."""
    bank = load_bank()
    samples: list[float] = []
    per_problem: dict[str, float] = {}
    for problem in bank.problems.values():
        own = []
        for seed in range(rounds):
            typed = describe_answer(generate(problem, seed))
            start = time.perf_counter()
            grade_raw(generate(problem, seed), typed)
            own.append(time.perf_counter() - start)
        per_problem[problem.id] = statistics.median(own) * 1e3
        samples.extend(own)
    samples.sort()
    return (statistics.median(samples) * 1e3, samples[int(0.9 * len(samples))] * 1e3,
            per_problem)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--variants", type=int, default=500)
    parser.add_argument("--jobs", type=int, default=min(4, os.cpu_count() or 1))
    parser.add_argument("--rounds", type=int, default=50, help="seeds per problem for timing")
    parser.add_argument("--repeat", type=int, default=3, help="lint runs per setting")
    args = parser.parse_args()

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} CPU(s), load average {load}, "
          f"Python {sys.version.split()[0]}")
    for jobs in sorted({1, args.jobs}):
        runs = [time_lint(args.variants, jobs) for _ in range(args.repeat)]
        elapsed, cpu, problems, distinct, findings = min(runs)
        walls = ", ".join(f"{r[0]:.2f}" for r in runs)
        total = problems * args.variants
        cpu_note = f", CPU {cpu:.2f} s" if jobs == 1 else ""
        print(f"lint, {jobs} process(es): {problems} templates x {args.variants} seeds = {total} "
              f"seeds ({distinct} distinct variants checked, each with its answer and every "
              f"mistake graded): best of {args.repeat} {elapsed:.2f} s{cpu_note} (runs: {walls} s), "
              f"{findings} finding(s); target < 10 s: {'ok' if elapsed < 10 else 'MISSED'}")
    median, p90, per_problem = time_generate_and_grade(args.rounds)
    slowest = sorted(per_problem.items(), key=lambda kv: -kv[1])[:3]
    print(f"generate + grade one variant: median {median:.3f} ms, 90th percentile {p90:.3f} ms "
          f"over {len(per_problem)} templates x {args.rounds} seeds; target median < 1 ms: "
          f"{'ok' if median < 1 else 'MISSED'}")
    print("slowest templates (median ms): " + ", ".join(f"{k} {v:.2f}" for k, v in slowest))


if __name__ == "__main__":
    main()
