"""The web side of the problem bank: loading it once per app, seeds, and frozen variants.

A student's seed is an HMAC of (user, set, problem) under a server secret, so nobody can pick or
predict it; the client never sends a seed. The variant is stored the first time it is shown
(`VariantRecord`) and always read back from there, so a YAML edit never changes history silently.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from datetime import UTC, datetime
from pathlib import Path

from flask import abort, current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from web import queries
from web.db import write_gate
from web.models import VariantRecord

_lock = threading.Lock()


def get_bank():
    """The app's loaded bank (grader.bank.Bank), loaded on first use."""
    bank = current_app.extensions.get("stride_bank")
    if bank is None:
        with _lock:
            bank = current_app.extensions.get("stride_bank")
            if bank is None:
                bank = reload_bank()
    return bank


def reload_bank():
    """Load the bank from PROBLEMS_DIR again (raises grader.bank.BankError; keeps the old one)."""
    from grader.bank import load_bank

    bank = load_bank(Path(current_app.config["PROBLEMS_DIR"]))
    current_app.extensions["stride_bank"] = bank
    return bank


def seed_for(user_id: int, set_id: str, problem_id: str) -> int:
    """A 32-bit seed from HMAC-SHA256 of the user, set and problem under the seed secret."""
    secret = current_app.config.get("SEED_SECRET") or current_app.config["SECRET_KEY"]
    message = f"{user_id}:{set_id}:{problem_id}".encode()
    digest = hmac.new(str(secret).encode(), message, hashlib.sha256).digest()
    return int.from_bytes(digest[:4], "big")


def as_utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def is_past_due(problem_set, now: datetime | None = None) -> bool:
    due = as_utc(problem_set.due)
    return due is not None and (now or datetime.now(UTC)) > due


def find_set(set_id: str):
    problem_set = get_bank().sets.get(set_id)
    if problem_set is None:
        abort(404, description=f"There is no problem set called {set_id!r}.")
    return problem_set


def find_item(problem_set, problem_id: str):
    for item in problem_set.items:
        if item.problem_id == problem_id:
            return item
    abort(404, description=f"The problem set {problem_set.title!r} has no problem {problem_id!r}.")


def find_problem(problem_id: str):
    problem = get_bank().problems.get(problem_id)
    if problem is None:
        abort(404, description=f"There is no problem called {problem_id!r}.")
    return problem


def variant_from_record(record: VariantRecord | queries.StoredVariant):
    from grader.variants import Variant

    return Variant.from_json(json.loads(record.variant_json))


def get_or_create_variant(session: Session, user_id: int, set_id: str, problem_id: str):
    """(record, variant) for this student's problem, generating and committing it when new."""
    record = queries.variant_record(session, user_id, set_id, problem_id)
    if record is None:
        record = _create_variant(session, user_id, set_id, problem_id)
    return record, variant_from_record(record)


def variant_and_attempts(session: Session, user_id: int, set_id: str, problem_id: str,
                         request_token: str | None = None):
    """(record, variant, AttemptSummary): `get_or_create_variant` plus the attempts used (and
    whether `request_token` is already recorded)."""
    record, summary = queries.variant_with_attempts(session, user_id, set_id, problem_id,
                                                    request_token)
    if record is None:
        record = _create_variant(session, user_id, set_id, problem_id)
        summary = queries.attempt_summary(session, user_id, set_id, problem_id)
    return record, variant_from_record(record), summary


def _create_variant(session: Session, user_id: int, set_id: str, problem_id: str
                    ) -> VariantRecord:
    from grader.variants import generate

    seed = seed_for(user_id, set_id, problem_id)
    variant = generate(find_problem(problem_id), seed)
    record = VariantRecord(user_id=user_id, set_id=set_id, problem_id=problem_id, seed=seed,
                           variant_json=json.dumps(variant.to_json()))
    session.add(record)
    try:
        with write_gate():
            session.commit()
    except IntegrityError:  # a concurrent request stored it first: use theirs
        session.rollback()
        record = queries.variant_record(session, user_id, set_id, problem_id)
    return record
