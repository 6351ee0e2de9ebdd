"""`python -m web.worker`: a grading worker for the Redis queue (run as many as you like).

It needs only this package (the `grader` package plus `web.models`/`web.db`), `DATABASE_URL`
and `REDIS_URL`; nothing from the web process. Options: `--queue NAME` (default
`stride-grading`, or `STRIDE_GRADING_QUEUE`), `--burst` (exit once the queue is empty).

Each job runs in a forked work-horse (RQ's default `Worker`), which RQ kills when it exceeds the
job timeout. At startup and after every job the worker reaps jobs abandoned by dead workers, so
their submissions are requeued (or failed with a message) instead of staying "grading".

The worker refuses to start (exit status 3, with the reason) unless student code can be isolated
(`grader.sandbox.require_isolation`: bubblewrap works, or `STRIDE_SANDBOX=unsafe-no-isolation`).
It reads jobs as JSON only, never pickle.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys

from web.queue import DEFAULT_QUEUE, RedisQueue, redacted, worker_sessions

NO_ISOLATION_EXIT = 3


def build_worker(reaper: RedisQueue):
    """An RQ `Worker` on the reaper's queue that reaps lost jobs after each job it runs."""
    from rq import Worker
    from rq.serializers import JSONSerializer

    class ReapingWorker(Worker):
        def execute_job(self, job, queue):  # in the worker itself, after the work-horse exits
            super().execute_job(job, queue)
            _reap_quietly(reaper)

    name = f"{socket.gethostname()}-{os.getpid()}-{reaper.name}"  # who graded what, in logs
    return ReapingWorker([reaper.queue], connection=reaper.connection, name=name,
                         serializer=JSONSerializer)


def _reap_quietly(reaper: RedisQueue) -> None:
    try:
        reaper.reap()
    except Exception:  # the database or Redis may be briefly away; the next reap catches up
        logging.getLogger(__name__).exception("reaping lost grading jobs failed")


def _isolation_or_none():
    """The isolation to grade with, or None after saying why there is none."""
    from grader.sandbox import IsolationUnavailable, require_isolation

    try:
        isolation = require_isolation()
    except IsolationUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return None
    if isolation.warning():
        print(f"WARNING: {isolation.warning()}", file=sys.stderr, flush=True)
    return isolation


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m web.worker", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queue", default=os.environ.get("STRIDE_GRADING_QUEUE", DEFAULT_QUEUE))
    parser.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    args = parser.parse_args(argv)
    missing = [name for name in ("DATABASE_URL", "REDIS_URL") if not os.environ.get(name)]
    if missing:
        print(f"error: set {' and '.join(missing)} (see docs/deploy.md)", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    isolation = _isolation_or_none()
    if isolation is None:
        return NO_ISOLATION_EXIT
    from web.jobs import JobTiming

    reaper = RedisQueue(worker_sessions(), os.environ["REDIS_URL"], args.queue,
                        JobTiming.from_config({}))
    marked = reaper.reap()
    if marked:
        print(f"Requeued or failed {marked} submission(s) whose grading job was lost.", flush=True)
    print(f"Grading worker {os.getpid()} listening on queue {args.queue!r} at "
          f"{redacted(os.environ['REDIS_URL'])} ({isolation.mode})", flush=True)
    build_worker(reaper).work(burst=args.burst)
    return 0


if __name__ == "__main__":
    sys.exit(main())
