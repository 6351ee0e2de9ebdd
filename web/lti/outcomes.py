"""Scores back to the LMS through Assignment and Grade Services (AGS), from an outbox.

Grading calls `score_changed` (one call after a typed answer is recorded, one after a code job's
result is stored) and a regrade calls `problem_regraded`; each writes one `LtiScoreOutbox` row per
resource link the student launched for that set or exercise (one pending row per link and
student: a newer score joins the pending row and bumps its generation). `drain` sends what is due: it reads the student's
score at sending time (best or latest per problem, as the link's policy says), creates the line
item if the link has none yet, and posts the score. A platform that is down or refuses leaves the
row pending with the next try backed off exponentially (30 s doubling, at most an hour): nothing
is lost, and the newest score is what arrives. The in-process `OutboxDrainer` thread (one per web
process) drains when woken and when the next try is due; each row is claimed with a lease before
it is sent, so several processes draining at once never send the same row twice, and it is
marked sent only if its generation is still the one claimed: a score recorded while an older
one was on its way keeps the row pending, due at once, so the newer one goes too. With the
grading queue (REDIS_URL), the thread only dispatches: `web.code.rq.score_job` jobs `deliver` one
row each, retried by RQ. Extensions call `resend_scores`. Every request follows the outgoing
URL policy (`web.lti.urls`): the web app's settings when draining, the environment's in a
worker's job; a URL it refuses fails the row like an LMS that refuses.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from flask import Flask
from pylti1p3.assignments_grades import AssignmentsGradesService
from pylti1p3.grade import Grade
from pylti1p3.lineitem import LineItem
from pylti1p3.service_connector import ServiceConnector
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from web.bank import get_bank
from web.db import session_factory
from web.lti import keys
from web.lti.config import app_policy, http_session, registration_for
from web.lti.errors import UrlRefused
from web.lti.urls import UrlPolicy
from web.models import (
    CodeStatus,
    CodeSubmission,
    LtiLinkUser,
    LtiResourceLink,
    LtiScoreOutbox,
    Submission,
    utcnow,
)

log = logging.getLogger(__name__)
FIRST_RETRY_S = 30
MAX_RETRY_S = 3600
BATCH = 200
CLAIM_LEASE = timedelta(minutes=5)  # a drain that dies mid-send frees its rows after this
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
LINEITEM_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
_wake = threading.Event()  # set when rows are added: drainers in this process look at once


def backoff(tries: int) -> timedelta:
    """How long to wait after the `tries`-th failed send."""
    return timedelta(seconds=min(FIRST_RETRY_S * 2 ** max(tries - 1, 0), MAX_RETRY_S))


def _enqueue(session: Session, links_and_users) -> int:
    """A pending row per (link, user): a new one, or the pending one's generation bumped (so a
    drain sending it right now sends again, see `_finish`)."""
    added = 0
    for link_id, user_id in links_and_users:
        pending = session.scalar(select(LtiScoreOutbox.id).where(
            LtiScoreOutbox.link_id == link_id, LtiScoreOutbox.user_id == user_id,
            LtiScoreOutbox.sent_at.is_(None)))
        if pending is None:
            session.add(LtiScoreOutbox(link_id=link_id, user_id=user_id, next_try_at=utcnow()))
            added += 1
        else:
            session.execute(update(LtiScoreOutbox).where(LtiScoreOutbox.id == pending)
                            .values(generation=LtiScoreOutbox.generation + 1)
                            .execution_options(synchronize_session=False))
    return added


def score_changed(session: Session, user_id: int, *, set_id: str | None = None,
                  exercise: str | None = None) -> int:
    """Queue the student's score for every LMS link of `set_id` (or code `exercise`) they
    launched; commits its own rows and never raises (grading must not fail because of an LMS).
    Returns how many rows were added."""
    kind, target = ("set", set_id) if set_id is not None else ("exercise", exercise)
    try:
        rows = session.execute(
            select(LtiLinkUser.link_id, LtiLinkUser.user_id)
            .join(LtiResourceLink, LtiResourceLink.id == LtiLinkUser.link_id)
            .where(LtiLinkUser.user_id == user_id, LtiResourceLink.kind == kind,
                   LtiResourceLink.target == target)).all()
        if not rows:
            return 0
        added = _enqueue(session, rows)
        session.commit()
    except Exception:
        session.rollback()
        log.exception("queueing the LMS score of user %s for %s %s failed", user_id, kind, target)
        return 0
    _wake.set()
    return added


def problem_regraded(session: Session, set_ids) -> int:
    """Queue the scores of every student linked to one of `set_ids` (after a regrade that may
    have changed them); commits. Returns how many rows were added."""
    rows = session.execute(
        select(LtiLinkUser.link_id, LtiLinkUser.user_id)
        .join(LtiResourceLink, LtiResourceLink.id == LtiLinkUser.link_id)
        .where(LtiResourceLink.kind == "set", LtiResourceLink.target.in_(list(set_ids)))).all()
    added = _enqueue(session, rows)
    session.commit()
    if added:
        _wake.set()
    return added


def resend_scores(session: Session, user_id: int, *, set_id: str | None = None,
                  exercise: str | None = None) -> int:
    """Send the student's score for `set_id` (or code `exercise`) again to every LMS link they
    launched for it, e.g. after an extension (a new due date or extra attempts) changed what
    counts; commits. Returns how many outbox rows were added (0: not linked, or already
    pending, in which case the pending row sends the score as it is then)."""
    if (set_id is None) == (exercise is None):
        raise ValueError("resend_scores needs exactly one of set_id and exercise")
    return score_changed(session, user_id, set_id=set_id, exercise=exercise)


@dataclass(frozen=True)
class Score:
    given: float
    maximum: float


def set_score(session: Session, problem_set, user_id: int, policy: str) -> Score:
    """Points on a set: per item its best (or latest) score times its points."""
    ids = [item.problem_id for item in problem_set.items]
    if policy == "latest":
        latest = (select(Submission.problem_id, func.max(Submission.attempt).label("n"))
                  .where(Submission.user_id == user_id, Submission.set_id == problem_set.id)
                  .group_by(Submission.problem_id).subquery())
        rows = session.execute(select(Submission.problem_id, Submission.score).join(
            latest, (Submission.problem_id == latest.c.problem_id)
            & (Submission.attempt == latest.c.n)).where(
            Submission.user_id == user_id, Submission.set_id == problem_set.id)).all()
    else:
        rows = session.execute(
            select(Submission.problem_id, func.max(Submission.score))
            .where(Submission.user_id == user_id, Submission.set_id == problem_set.id,
                   Submission.problem_id.in_(ids))
            .group_by(Submission.problem_id)).all()
    scores = {pid: float(score or 0.0) for pid, score in rows}
    given = sum(item.points * scores.get(item.problem_id, 0.0) for item in problem_set.items)
    return Score(given, float(sum(item.points for item in problem_set.items)))


def exercise_score(session: Session, exercise: str, user_id: int, policy: str) -> Score | None:
    """The best (or latest) graded submission's points; None before any is graded."""
    query = select(CodeSubmission.score, CodeSubmission.max_score).where(
        CodeSubmission.user_id == user_id, CodeSubmission.exercise == exercise,
        CodeSubmission.status == CodeStatus.DONE.value, CodeSubmission.score.is_not(None))
    order = (CodeSubmission.id.desc() if policy == "latest"
             else CodeSubmission.score.desc())
    row = session.execute(query.order_by(order).limit(1)).first()
    return None if row is None else Score(float(row[0]), float(row[1] or 0.0))


def score_for(session: Session, bank, link: LtiResourceLink, user_id: int) -> Score | None:
    if link.kind == "set":
        problem_set = bank.sets.get(link.target)
        return None if problem_set is None else set_score(session, problem_set, user_id,
                                                          link.score_policy)
    return exercise_score(session, link.target, user_id, link.score_policy)


def max_points(bank, kind: str, target: str) -> float:
    """The most points a set (or, before any grading, an exercise: 100) can give."""
    if kind == "set" and target in bank.sets:
        return float(sum(item.points for item in bank.sets[target].items))
    return 100.0


class _Connectors:
    """One PyLTI1p3 service connector per platform per drain (its access tokens are reused)."""

    def __init__(self, session: Session, policy: UrlPolicy):
        self._session = session
        self._policy = policy
        self._by_platform: dict[int, ServiceConnector] = {}

    def ags(self, link: LtiResourceLink) -> AssignmentsGradesService:
        connector = self._by_platform.get(link.platform_id)
        if connector is None:
            registration = registration_for(link.platform, keys.signing_key(self._session))
            connector = ServiceConnector(registration, requests_session=http_session(self._policy))
            self._by_platform[link.platform_id] = connector
        data = {"scope": link.ags_scopes.split(), "lineitems": link.lineitems_url or "",
                "lineitem": link.lineitem_url or ""}
        return AssignmentsGradesService(connector, data)


def _line_item(ags: AssignmentsGradesService, link: LtiResourceLink, bank) -> LineItem:
    if link.lineitem_url:
        return LineItem().set_id(link.lineitem_url)
    if not link.lineitems_url or LINEITEM_SCOPE not in link.ags_scopes.split():
        raise LookupError("the LMS gave this link no line item and no right to create one")
    wanted = (LineItem().set_label(link.title or link.target).set_tag(f"stride-{link.id}")
              .set_resource_id(f"{link.kind}:{link.target}")
              .set_resource_link_id(link.resource_link_id)
              .set_score_maximum(max_points(bank, link.kind, link.target)))
    item = ags.find_or_create_lineitem(wanted, find_by="tag")
    link.lineitem_url = item.get_id()
    return item


def _send(session: Session, connectors: _Connectors, row: LtiScoreOutbox, bank, sub: str,
          now: datetime) -> Score | None:
    """Post the student's score as it is now; None when nothing is graded yet (nothing sent)."""
    link = session.get(LtiResourceLink, row.link_id)
    if SCORE_SCOPE not in link.ags_scopes.split():
        raise LookupError("the LMS did not grant the score scope for this link")
    score = score_for(session, bank, link, row.user_id)
    if score is None:
        return None
    ags = connectors.ags(link)
    item = _line_item(ags, link, bank)
    grade = (Grade().set_score_given(score.given).set_score_maximum(score.maximum)
             .set_timestamp(now.isoformat()).set_activity_progress("Submitted")
             .set_grading_progress("FullyGraded").set_user_id(sub))
    ags.put_grade(grade, item)
    return score


def _finish(session: Session, row: LtiScoreOutbox, generation: int, score: Score | None,
            now: datetime) -> None:
    """Mark `row` sent, unless a newer score joined it while it was being sent (its generation
    moved on since the claim): then it stays pending and is due at once, so the newer score
    goes too."""
    sent = session.execute(
        update(LtiScoreOutbox)
        .where(LtiScoreOutbox.id == row.id, LtiScoreOutbox.generation == generation)
        .values(sent_at=now, score_given=score.given if score else None,
                score_maximum=score.maximum if score else None)
        .execution_options(synchronize_session=False))
    if not sent.rowcount:
        row.next_try_at = now


class _Unreachable(Exception):
    pass


def _claim(session: Session, row: LtiScoreOutbox, now: datetime) -> bool:
    """Take `row` for this drain (a lease: others skip it until it is sent or backed off)."""
    claimed = session.execute(
        update(LtiScoreOutbox)
        .where(LtiScoreOutbox.id == row.id, LtiScoreOutbox.sent_at.is_(None),
               LtiScoreOutbox.next_try_at == row.next_try_at)
        .values(next_try_at=now + CLAIM_LEASE).execution_options(synchronize_session=False))
    session.commit()
    if not claimed.rowcount:
        return False
    session.refresh(row)
    return True


@dataclass(frozen=True)
class DrainResult:
    sent: int
    failed: int
    next_due: datetime | None  # the earliest pending row's next try


def _describe(exc: Exception) -> str:
    if isinstance(exc, _Unreachable | UrlRefused):
        return str(exc)
    response = getattr(exc, "response", None)
    if response is not None and getattr(response, "status_code", None):
        return f"the LMS answered HTTP {response.status_code}"
    return f"{type(exc).__name__}: {str(exc)[:300]}"


def _attempt(session: Session, connectors: _Connectors, bank, row: LtiScoreOutbox,
             now: datetime, unreachable: dict[int, str]) -> bool:
    """Send one claimed row; on failure back it off and say why (see the module)."""
    link = session.get(LtiResourceLink, row.link_id)
    sub = session.scalar(select(LtiLinkUser.sub).where(
        LtiLinkUser.link_id == row.link_id, LtiLinkUser.user_id == row.user_id))
    generation = row.generation  # as claimed: a score change after this is sent again
    try:
        if link.platform_id in unreachable:
            raise _Unreachable(unreachable[link.platform_id])
        score = _send(session, connectors, row, bank, sub, now)
        row.last_error = None
        _finish(session, row, generation, score, now)
        return True
    except Exception as exc:  # the platform is down or refused: try again later
        row.tries += 1
        row.next_try_at = now + backoff(row.tries)
        row.last_error = _describe(exc)
        if isinstance(exc, requests.ConnectionError | requests.Timeout):
            unreachable[link.platform_id] = ("not tried: the LMS was unreachable for an "
                                             "earlier score of this round")
        log.warning("sending an LMS score (outbox row %s) failed: %s", row.id, row.last_error)
        return False
    finally:
        session.commit()


def _next_due(session: Session) -> datetime | None:
    return session.scalar(select(func.min(LtiScoreOutbox.next_try_at))
                          .where(LtiScoreOutbox.sent_at.is_(None)))


def drain_with(sessions, bank, now: datetime | None = None, limit: int = BATCH,
               policy: UrlPolicy | None = None) -> DrainResult:
    """Send every pending score due at `now` (sessions: a sessionmaker; bank: the problem
    bank; policy: the outgoing URL policy, strict by default); failures are retried later (see
    the module)."""
    now = now or utcnow()
    sent = failed = 0
    with sessions() as session:
        connectors = _Connectors(session, policy or UrlPolicy())
        rows = session.scalars(select(LtiScoreOutbox).where(
            LtiScoreOutbox.sent_at.is_(None), LtiScoreOutbox.next_try_at <= now)
            .order_by(LtiScoreOutbox.id).limit(limit)).all()
        unreachable: dict[int, str] = {}  # platform id -> why, for this round
        for row in rows:
            if not _claim(session, row, now):
                continue  # another process's drain has it
            if _attempt(session, connectors, bank, row, now, unreachable):
                sent += 1
            else:
                failed += 1
        next_due = _next_due(session)
    return DrainResult(sent, failed, next_due)


def drain(app: Flask, now: datetime | None = None, limit: int = BATCH) -> DrainResult:
    """`drain_with` on the app's database and bank."""
    with app.app_context():
        return drain_with(session_factory(app), get_bank(), now, limit, app_policy(app))


@dataclass(frozen=True)
class Delivery:
    """What one delivery job did with its row: "sent", "failed" (backed off, `error` says why)
    or "skipped" (already sent, not due yet, or taken by another process)."""

    outcome: str
    error: str | None = None
    tries: int = 0


def deliver(sessions, bank, row_id: int, now: datetime | None = None,
            policy: UrlPolicy | None = None) -> Delivery:
    """Send the one outbox row `row_id` if it is pending and due (a grading queue job). Without
    `policy`, the outgoing URL policy of the environment's settings (the worker has no app)."""
    from web.settings import Settings

    now = now or utcnow()
    policy = policy or UrlPolicy.from_settings(Settings.from_environ())
    with sessions() as session:
        row = session.get(LtiScoreOutbox, row_id)
        if row is None or row.sent_at is not None or row.next_try_at > now:
            return Delivery("skipped")
        if not _claim(session, row, now):
            return Delivery("skipped")
        if _attempt(session, _Connectors(session, policy), bank, row, now, {}):
            return Delivery("sent", tries=row.tries)
        return Delivery("failed", row.last_error, row.tries)


def due_rows(sessions, now: datetime | None = None, limit: int = BATCH) -> tuple[list[int],
                                                                             datetime | None]:
    """The ids of the pending rows due at `now`, and the earliest next try of all pending."""
    now = now or utcnow()
    with sessions() as session:
        ids = list(session.scalars(select(LtiScoreOutbox.id).where(
            LtiScoreOutbox.sent_at.is_(None), LtiScoreOutbox.next_try_at <= now)
            .order_by(LtiScoreOutbox.id).limit(limit)))
        return ids, _next_due(session)


class OutboxDrainer:
    """A daemon thread draining the outbox of one app when woken or when a retry is due."""

    IDLE_S = 60.0

    def __init__(self, app: Flask, round_=None):
        self._app = app
        self._round = round_ or drain  # drain (no Redis) or the grading queue's dispatch
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lti-outbox", daemon=True)

    def start(self) -> OutboxDrainer:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            wait = self.IDLE_S
            try:
                result = self._round(self._app)
                if result.next_due is not None:
                    wait = min(wait, max((result.next_due - utcnow()).total_seconds(), 0.5))
            except Exception:
                log.exception("draining the LMS score outbox failed")
            _wake.wait(wait)
            _wake.clear()

    def stop(self) -> None:
        self._stop.set()
        _wake.set()
        self._thread.join(timeout=5)
