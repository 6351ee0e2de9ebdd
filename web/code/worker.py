"""`python -m web.code.worker`: the one home of the grading worker for the Redis queue (run as many as you like).

It needs only this package (the `grader` package plus `web.models`/`web.db`), `DATABASE_URL`
and `REDIS_URL`; nothing from the web process (its settings come from the environment, read
once by `web.settings.Settings.from_environ`). Options: `--queue NAME` (default
`stride-grading`, or `STRIDE_GRADING_QUEUE`), `--burst` (exit once the queue is empty).

Each job runs in a forked work-horse (RQ's default `Worker`), which RQ kills when it exceeds the
job timeout. At startup and after every job the worker reaps jobs abandoned by dead workers, so
their submissions are requeued (or failed with a message) instead of staying "grading".

The worker refuses to start (exit status 3, with the reason) unless student code can be isolated
(`grader.sandbox.require_isolation`: bubblewrap works, or `STRIDE_SANDBOX=unsafe-no-isolation`).
It reads jobs as JSON only, never pickle. While it lives it records its isolation mode in Redis
(`stride:worker-mode:<name>`, refreshed by its heartbeat), so the web app's banner can tell staff
when a worker grades without isolation.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys

from rq import Worker
from rq.serializers import JSONSerializer

from grader.sandbox import Isolation, IsolationUnavailable, require_isolation
from web.code.rq import (
    JOB_FUNCTION,
    SCORE_JOB_FUNCTION,
    RedisQueue,
    forget_worker_mode,
    record_worker_mode,
    redacted,
    worker_sessions,
)
from web.settings import Settings

NO_ISOLATION_EXIT = 3


def refusal(job) -> str | None:
    """Why `job` must not run, or None for a genuine grading job.

    A job names the function RQ imports and calls, so JSON alone does not make a forged job
    harmless (it could name `os.system`): only `grade_job(<submission id>)` and
    `score_job(<outbox row id>)`, with no keyword arguments and no callbacks, are ever run.
    """
    try:
        func, args, kwargs = job.func_name, job.args, job.kwargs
    except Exception as exc:  # noqa: BLE001 - undecodable data (e.g. a pickle): never run it
        return f"its data cannot be read as JSON ({type(exc).__name__})"
    if func not in (JOB_FUNCTION, SCORE_JOB_FUNCTION):
        return f"it names {str(func)[:80]!r}, not {JOB_FUNCTION} or {SCORE_JOB_FUNCTION}"
    if kwargs or len(args) != 1 or type(args[0]) is not int:
        return "its arguments are not one id"
    callbacks = ("_success_callback_name", "_failure_callback_name", "_stopped_callback_name")
    if any(getattr(job, name, None) for name in callbacks):
        return "it carries callbacks"
    return None


def build_worker(reaper: RedisQueue, isolation: Isolation):
    """An RQ `Worker` on the reaper's queue that runs only genuine grading jobs (`refusal`),
    reaps lost jobs after each job, and records its `isolation` in Redis while it lives
    (`web.code.rq.record_worker_mode`: refreshed with every heartbeat, removed at its death),
    so the web app can warn staff when a worker grades without isolation."""
    class ReapingWorker(Worker):
        def register_birth(self):
            super().register_birth()
            record_worker_mode(self.connection, self.name, reaper.name, isolation,
                               self.worker_ttl + 60)

        def heartbeat(self, timeout=None, pipeline=None):
            super().heartbeat(timeout, pipeline)
            record_worker_mode(pipeline if pipeline is not None else self.connection, self.name,
                               reaper.name, isolation, timeout or self.worker_ttl + 60)

        def register_death(self):
            forget_worker_mode(self.connection, self.name)
            super().register_death()

        def execute_job(self, job, queue):  # in the worker itself, before any work-horse
            reason = refusal(job)
            if reason is not None:
                logging.getLogger(__name__).warning("refused job %s: %s", job.id, reason)
                self.handle_job_failure(job, queue, exc_string=f"refused: {reason}")
                return
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
    try:
        isolation = require_isolation()
    except IsolationUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return None
    if isolation.warning():
        print(f"WARNING: {isolation.warning()}", file=sys.stderr, flush=True)
    return isolation


def main(argv: list[str] | None = None) -> int:
    """Check the settings and the isolation, reap, then grade jobs until stopped."""
    settings = Settings.from_environ()
    parser = argparse.ArgumentParser(prog="python -m web.code.worker", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queue", default=settings.grading_queue)
    parser.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    args = parser.parse_args(argv)
    missing = [name for name, value in (("DATABASE_URL", settings.database_url),
                                        ("REDIS_URL", settings.redis_url)) if not value]
    if missing:
        print(f"error: set {' and '.join(missing)} (see docs/deploy.md)", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    isolation = _isolation_or_none()
    if isolation is None:
        return NO_ISOLATION_EXIT
    reaper = RedisQueue(worker_sessions(), settings.redis_url, args.queue, settings.timing)
    marked = reaper.reap()
    if marked:
        print(f"Requeued or failed {marked} submission(s) whose grading job was lost.", flush=True)
    print(f"Grading worker {os.getpid()} listening on queue {args.queue!r} at "
          f"{redacted(settings.redis_url)} ({isolation.mode})", flush=True)
    # The scheduler runs the LMS score jobs' retries when their backoff is over.
    build_worker(reaper, isolation).work(burst=args.burst, with_scheduler=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
