"""The in-process grading backend: the one home of `GradingPool`, a thread pool of tasks.

The embedded default (no `REDIS_URL`): each web process grades its own submissions in a few
threads, each task running `web.code.task.grade_submission`. A monitor thread keeps the pool's
rows' heartbeats fresh and reaps rows other processes left stalled.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from web.code.task import (
    UNFINISHED,
    QueuePlace,
    as_datetime,
    beat,
    database_place,
    grade_submission,
    reap_stalled,
    release_groups,
    scope_of,
    waiting_groups,
)
from web.settings import DEFAULT_TIMING, JobTiming

log = logging.getLogger(__name__)


class GradingPool:
    """A small ThreadPoolExecutor grading submissions by id, with a monitor thread that keeps
    its rows' heartbeats fresh and reaps rows other processes left stalled."""

    def __init__(self, sessions: sessionmaker[Session], workers: int = 2,
                 timing: JobTiming = DEFAULT_TIMING) -> None:
        self._sessions, self.timing = sessions, timing
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grading")
        self._futures: dict[int, Future] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._monitor: threading.Thread | None = None
        self._monitor_pid = 0

    def submit(self, submission_id: int) -> Future | None:
        """Grade a handed-over submission in a pool thread (None once the pool is shut down)."""
        self.start_monitor()
        try:
            future = self._executor.submit(self._run, submission_id)
        except RuntimeError:  # shutting down: the row's heartbeat goes stale, another reaps it
            log.warning("grading pool is shut down; code submission %s waits", submission_id)
            return None
        with self._lock:
            self._futures[submission_id] = future
        future.add_done_callback(lambda f: self._forget(submission_id, f))
        return future

    def _forget(self, submission_id: int, future: Future) -> None:
        with self._lock:
            if self._futures.get(submission_id) is future:
                del self._futures[submission_id]

    def _run(self, submission_id: int) -> None:
        next_id = grade_submission(self._sessions, submission_id, self.timing)
        if next_id is not None:
            self.submit(next_id)

    def held(self) -> list[int]:
        with self._lock:
            return list(self._futures)

    def reap(self, now: datetime | float | None = None, submission_id: int | None = None) -> int:
        """Requeue or fail stalled rows (all, or around one submission); dispatch what frees."""
        now = as_datetime(now)
        with self._sessions() as session:
            scope = scope_of(session, submission_id)
            changed, groups = reap_stalled(session, self.timing, now, UNFINISHED, scope,
                                           exclude=self.held())
            session.commit()
            released = release_groups(session, groups | waiting_groups(session, scope), now)
            session.commit()
        for next_id in released:
            self.submit(next_id)
        return changed

    def start_monitor(self) -> None:
        """Start (or, in a forked child, restart) the heartbeat-and-reap thread."""
        with self._lock:
            if self._monitor is not None and self._monitor_pid == os.getpid() and \
                    self._monitor.is_alive():
                return
            self._monitor_pid = os.getpid()
            self._monitor = threading.Thread(target=self._watch, name="grading-monitor",
                                             daemon=True)
            self._monitor.start()

    def _watch(self) -> None:
        while not self._stop.wait(self.timing.heartbeat_s):
            try:
                with self._sessions() as session:
                    beat(session, self.held())
                    session.commit()
                self.reap()
            except Exception:  # the database may be briefly away; the next round catches up
                log.exception("grading monitor round failed")

    def place(self, session: Session, submission_id: int) -> QueuePlace:
        """Queue depth and this submission's place in line, from the database (id order)."""
        return database_place(session, submission_id)

    def wait_all(self, timeout: float | None = None) -> None:
        """Block until every job, including the ones they start, has finished (tests, shutdown)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                pending = [f for f in self._futures.values() if not f.done()]
            left = None if deadline is None else deadline - time.monotonic()
            if not pending or (left is not None and left <= 0):
                return
            wait(pending, timeout=left)

    def shutdown(self) -> None:
        self._stop.set()
        self._executor.shutdown(wait=True, cancel_futures=False)
