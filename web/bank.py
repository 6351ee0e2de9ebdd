"""The web side of what can be asked: the one home of the app's loaded problem bank, of the bank
version every worker serves, looking up its sets and problems (404 with a sentence when absent),
due dates, and the list of code exercises.

One version for every worker and host: publishing (the instructor's reload) loads and checks the
YAML files, then stores their content hash and texts in the database (`BankVersion`). Every
worker checks the newest version at most once a second (at once on a Redis notification when
`REDIS_URL` is set) and, when it differs, loads it (from its own PROBLEMS_DIR when the files
there hash the same, else from the stored texts) and swaps to it in one assignment. A request
sees one version throughout (it is kept in `flask.g`).
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask, abort, current_app, g
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from grader.bank import Bank, BankError, load_bank, load_bank_in_part
from grader.bank.version import bank_files, content_digest, write_files
from grader.code import EXERCISES
from grader.errors import ProblemSpecError
from grader.lint_checks import Finding, publish_check
from web.db import session_factory, write_gate

INCIDENTS_SHOWN = 20  # the newest bank incidents listed on the instructor's dashboard
CHECK_INTERVAL = 1.0  # seconds between two looks at the published version, per worker
CHANNEL = "stride:bank-version"  # the Redis channel a publish is announced on
_lock = threading.Lock()


@dataclass
class _Sync:
    """One app's view of the published version (mutable, guarded by `lock`)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    checked: float = float("-inf")  # time.monotonic() of the last look
    notified: threading.Event = field(default_factory=threading.Event)
    folder: Path | None = None  # the private copy the served version was loaded from, if any
    listener: threading.Thread | None = None


@dataclass(frozen=True)
class Published:
    """The newest published version: its row id, content hash and when it was published."""

    id: int
    digest: str
    created_at: datetime


def get_bank():
    """The bank this request serves (grader.bank.Bank): loaded on first use, then kept in step
    with the published version (raises grader.bank.BankError when no bank could be loaded)."""
    if "stride_bank" in g:
        return g.stride_bank
    app = current_app._get_current_object()
    bank = app.extensions.get("stride_bank")
    if bank is None:
        with _lock:
            bank = app.extensions.get("stride_bank")
            if bank is None:
                bank = _first_load(app)
    else:
        bank = _follow(app, bank)
    g.stride_bank = bank
    return bank


def served_digest() -> str | None:
    """The content hash of the bank this worker serves (None: not loaded from a known version)."""
    return current_app.extensions.get("stride_bank_digest")


@dataclass(frozen=True)
class Reloaded:
    """A published bank, and the lint warnings its changed templates had (degenerate draws,
    feedback gaps: said to the instructor, but no reason to refuse)."""

    bank: Bank
    warnings: tuple[Finding, ...] = ()


def reload_bank(published_by_id: int | None = None) -> Reloaded:
    """Load the bank from PROBLEMS_DIR again, lint the templates of the files that changed since
    the version served, and publish it to every worker (raises grader.bank.BankError with every
    failing finding, each with file, line and seed; then nothing changes anywhere)."""
    app = current_app._get_current_object()
    root = _root(app)
    files = bank_files(root)
    digest = content_digest(files)
    bank = load_bank(root)
    if content_digest(bank_files(root)) != digest:
        raise BankError([f"{root}: the files changed while they were being loaded; reload again"])
    check = publish_check(changed_problems(bank, root, files, _served_files(app)), root)
    if check.failures:
        raise BankError([f"not published: {finding}" for finding in check.failures])
    _record(app, digest, files, published_by_id)
    _swap(app, bank, digest, None, files)
    g.stride_bank = bank
    return Reloaded(bank, check.warnings)


def changed_problems(bank, root: Path, files: dict[str, str], before: dict[str, str] | None):
    """The problems of `bank` whose file is new or changed since `before` (all when unknown)."""
    changed = [p for p in bank.problems.values()
               if before is None or before.get(_relative(p.source, root)) != files.get(
                   _relative(p.source, root))]
    return sorted(changed, key=lambda p: p.id)


def _relative(path: Path, root: Path) -> str:
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _served_files(app: Flask) -> dict[str, str] | None:
    """The files of the version this worker serves (None: not known)."""
    files = app.extensions.get("stride_bank_files")
    if files is None and app.extensions.get("stride_bank_digest"):
        latest = published(app)
        if latest is not None and latest.digest == app.extensions["stride_bank_digest"]:
            files = _stored_files(session_factory(app), latest.id)
    return files


def published(app: Flask | None = None) -> Published | None:
    """The newest published version, or None (none yet, or the database cannot be read)."""
    from web.models import BankVersion

    app = app or current_app._get_current_object()
    try:
        with session_factory(app)() as session:
            row = session.execute(select(BankVersion.id, BankVersion.digest,
                                         BankVersion.created_at)
                                  .order_by(BankVersion.id.desc()).limit(1)).first()
    except SQLAlchemyError as exc:
        app.logger.warning("the published bank version could not be read: %r", exc)
        return None
    return Published(*row) if row is not None else None


_WORKER_BANKS: dict[str, tuple[Bank, Path | None]] = {}  # digest -> bank, its private copy


def published_bank(sessions, root: Path) -> Bank:
    """For a process without the app (a grading worker): the bank every web worker serves.

    That is the newest published version, read from `root` when the files there hash the same
    and otherwise from its stored texts (unpublished edits under `root` never count), or
    `root`'s files when nothing was published yet. Loaded once per version and process.
    """
    from web.models import BankVersion

    with sessions() as session:
        row = session.execute(select(BankVersion.id, BankVersion.digest)
                              .order_by(BankVersion.id.desc()).limit(1)).first()
    # Nothing published yet: the folder as it is (hashed to notice an edit).
    digest = content_digest(bank_files(root)) if row is None else row.digest
    if digest in _WORKER_BANKS:
        return _WORKER_BANKS[digest][0]
    source, folder = (root, None) if row is None else _version_folder(
        root, digest, lambda: _stored_files(sessions, row.id))[:2]
    bank = load_bank(source)
    for _old, old_folder in _WORKER_BANKS.values():  # one version kept: the newest
        if old_folder is not None:
            shutil.rmtree(old_folder, ignore_errors=True)
    _WORKER_BANKS.clear()
    _WORKER_BANKS[digest] = (bank, folder)
    return bank


def _root(app: Flask) -> Path:
    return Path(app.config["PROBLEMS_DIR"])


def _sync(app: Flask) -> _Sync:
    sync = app.extensions.get("stride_bank_sync")
    if sync is None:
        sync = app.extensions.setdefault("stride_bank_sync", _Sync())
    if sync.listener is None and app.config.get("REDIS_URL"):
        _listen(app, sync)
    return sync


def _first_load(app: Flask):
    """The published version when there is one, else the files of PROBLEMS_DIR."""
    _sync(app).checked = time.monotonic()
    latest = published(app)
    if latest is None:
        root = _root(app)
        files = bank_files(root)
        bank = _load_serving(app, root)
        _swap(app, bank, content_digest(files), None, files)
        return bank
    return _load_and_swap(app, latest)


def _follow(app: Flask, bank):
    """`bank`, or the newly published version when one appeared (looked at once a second)."""
    sync = _sync(app)
    now = time.monotonic()
    if now - sync.checked < CHECK_INTERVAL and not sync.notified.is_set():
        return bank
    if not sync.lock.acquire(blocking=False):
        return bank  # another thread of this worker is looking (or loading): serve this one
    try:
        sync.checked = now
        sync.notified.clear()
        latest = published(app)
        if latest is None or latest.digest == app.extensions.get("stride_bank_digest"):
            return bank
        try:
            return _load_and_swap(app, latest)
        except BankError as exc:
            app.logger.error("bank version %s could not be loaded here; still serving %s: %s",
                             latest.digest[:12], app.extensions.get("stride_bank_digest"), exc)
            return bank
    finally:
        sync.lock.release()


def _load_and_swap(app: Flask, latest: Published):
    """Load version `latest` (from PROBLEMS_DIR when its files hash the same) and serve it."""
    source, folder, files = _version_folder(
        _root(app), latest.digest, lambda: _stored_files(session_factory(app), latest.id))
    bank = _load_serving(app, source)
    _swap(app, bank, latest.digest, folder, files)
    return bank


def _version_folder(root: Path, digest: str, stored: Callable[[], dict[str, str]]
                    ) -> tuple[Path, Path | None, dict[str, str]]:
    """Where version `digest` is read from, its private copy (to remove when it is replaced;
    None for `root`) and its files: `root` when its files hash the same, else a private copy of
    the `stored()` texts."""
    files = bank_files(root)
    if content_digest(files) == digest:
        return root, None, files
    files = stored()
    folder = Path(tempfile.mkdtemp(prefix="stride-bank-"))
    return write_files(files, folder / root.name), folder, files


def _load_serving(app: Flask, root: Path):
    """The bank under `root` for serving: all of it, or (when some files are broken) every problem
    that loads, the others unavailable with their findings, which are logged."""
    try:
        return load_bank(root)
    except BankError as exc:
        bank = load_bank_in_part(root)
        app.logger.error("the problem bank has %d finding(s); serving %d problems, %d unavailable:"
                         "\n  %s", len(bank.errors), len(bank.problems), len(bank.unavailable),
                         "\n  ".join(exc.errors))
        return bank


def _stored_files(sessions, version_id: int) -> dict[str, str]:
    import json

    from web.models import BankVersion

    with sessions() as session:
        return json.loads(session.get(BankVersion, version_id).files_json)


def _swap(app: Flask, bank, digest: str, folder: Path | None,
          files: dict[str, str] | None = None) -> None:
    """Serve `bank` from now on (one assignment each; readers hold either the old or the new)."""
    sync = _sync(app)
    old_folder, sync.folder = sync.folder, folder
    app.extensions["stride_bank"] = bank
    app.extensions["stride_bank_digest"] = digest
    app.extensions["stride_bank_files"] = files
    app.extensions["stride_bank_loaded_at"] = datetime.now(UTC)
    if old_folder is not None:
        shutil.rmtree(old_folder, ignore_errors=True)


def _record(app: Flask, digest: str, files: dict[str, str], by_id: int | None) -> None:
    """Store `files` as the newest published version (unless it already is) and announce it."""
    import json

    from web.models import BankVersion

    latest = published(app)
    if latest is None or latest.digest != digest:
        with session_factory(app)() as session:
            session.add(BankVersion(digest=digest, files_json=json.dumps(files),
                                    published_by_id=by_id))
            with write_gate():
                session.commit()
    _announce(app, digest)


def _announce(app: Flask, digest: str) -> None:
    url = app.config.get("REDIS_URL")
    if not url:
        return
    from redis import Redis

    try:
        Redis.from_url(url).publish(CHANNEL, digest)
    except Exception as exc:  # noqa: BLE001 - Redis down: workers still look once a second
        app.logger.warning("the new bank version was not announced on Redis: %r", exc)


def _listen(app: Flask, sync: _Sync) -> None:
    """A daemon thread that wakes this worker's next look when a version is announced."""
    from redis import Redis

    url = app.config["REDIS_URL"]

    def run() -> None:
        while True:
            try:
                pubsub = Redis.from_url(url).pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(CHANNEL)
                for message in pubsub.listen():
                    if message.get("type") == "message":
                        sync.notified.set()
            except Exception:  # noqa: BLE001 - reconnect; the once-a-second look goes on
                time.sleep(1.0)

    sync.listener = threading.Thread(target=run, name="stride-bank-listener", daemon=True)
    sync.listener.start()


def as_utc(moment: datetime | None) -> datetime | None:
    """`moment` as aware UTC (a naive one is taken to be UTC already)."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def is_past_due(problem_set, now: datetime | None = None) -> bool:
    """Whether the set's due date (if any) has passed at `now` (default: the time now)."""
    due = as_utc(problem_set.due)
    return due is not None and (now or datetime.now(UTC)) > due


def is_released(problem_set, now: datetime | None = None) -> bool:
    """Whether students may see the set at `now`: not hidden, and past its release (if any)."""
    release = as_utc(problem_set.release)
    return not problem_set.hidden and (release is None or (now or datetime.now(UTC)) >= release)


def _sees_drafts() -> bool:
    """Instructor and admin accounts see hidden and unreleased sets and draft problems."""
    from flask_login import current_user

    return bool(current_user and current_user.is_authenticated
                and current_user.role in ("instructor", "admin"))


def visible_sets() -> list:
    """The sets the signed-in account may see (every set for instructors)."""
    sets = get_bank().sets.values()
    return list(sets) if _sees_drafts() else [s for s in sets if is_released(s)]


def find_set(set_id: str):
    problem_set = get_bank().sets.get(set_id)
    if problem_set is None or not (_sees_drafts() or is_released(problem_set)):
        abort(404, description=f"There is no problem set called {set_id!r}.")
    return problem_set


def find_item(problem_set, problem_id: str):
    for item in problem_set.items:
        if item.problem_id == problem_id:
            return item
    abort(404, description=f"The problem set {problem_set.title!r} has no problem {problem_id!r}.")


class ProblemUnavailable(ProblemSpecError):
    """A problem of a file that did not load: its set entry shows "unavailable" to students."""

    def __init__(self, problem_id: str, finding: str) -> None:
        self.errors = (f"problem {problem_id!r} is unavailable: {finding}",)
        super().__init__(self.errors[0])


def find_problem(problem_id: str):
    bank = get_bank()
    problem = bank.problems.get(problem_id)
    if problem is None and problem_id in bank.unavailable:
        raise ProblemUnavailable(problem_id, bank.unavailable[problem_id])
    if problem is None or (problem.draft and not _sees_drafts()):
        abort(404, description=f"There is no problem called {problem_id!r}.")
    return problem


def generate_for(problem, seed: int, set_id: str = "", user_id: int | None = None):
    """`grader.variants.generate` for a student: a bank error is logged with the problem id and
    seed and recorded for the instructor's dashboard (`BankIncident`), then raised."""
    from grader.variants import generate

    try:
        return generate(problem, seed)
    except ProblemSpecError as exc:
        _record_incident(problem.id, seed, set_id, user_id, exc)
        raise


def _record_incident(problem_id: str, seed: int, set_id: str, user_id: int | None,
                     exc: Exception) -> None:
    from web.models import BankIncident

    app = current_app._get_current_object()
    app.logger.error("bank error in problem %r (set %r) seed %d: %s", problem_id, set_id, seed,
                     exc)
    try:
        with session_factory(app)() as session:
            session.add(BankIncident(problem_id=problem_id, set_id=set_id, seed=int(seed),
                                     user_id=user_id, message=str(exc)[:2000]))
            with write_gate():
                session.commit()
    except SQLAlchemyError as db_exc:
        app.logger.error("the bank error could not be recorded: %r", db_exc)


def incidents(limit: int = INCIDENTS_SHOWN) -> list:
    """The newest bank incidents (BankIncident rows), newest first."""
    from web.models import BankIncident

    with session_factory(current_app)() as session:
        return list(session.scalars(select(BankIncident).order_by(BankIncident.id.desc())
                                    .limit(limit)))


def exercises() -> tuple[str, ...]:
    """The code exercises' names, in the course's order."""
    return tuple(EXERCISES)


def exercise_title(name: str) -> str:
    """An exercise's name as a title: `conv_forward` -> "Conv forward"."""
    return name.replace("_", " ").capitalize()
