"""Shared fixtures and settings for the whole suite."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# A quick, deterministic profile for property tests; `HYPOTHESIS_PROFILE=dev` explores more.
settings.register_profile(
    "ci", max_examples=40, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=300, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

REQUIRE_SERVICES = os.environ.get("STRIDE_REQUIRE_SERVICES") == "1"

# The suite's PostgreSQL and Redis require passwords, as a deployment's must (tests/services.py).
from tests.services import start_private_services  # noqa: E402

start_private_services()

# The suite's fake LMSs listen on 127.0.0.1, which Stride's outgoing LTI requests refuse by
# default (web.lti.urls): the test apps allow it (web_config), and so does a grading worker's
# score job, which reads its settings from the environment. tests/test_lti_ssrf.py turns it off.
os.environ.setdefault("STRIDE_LTI_ALLOW_PRIVATE_URLS", "1")


# --- web app fixtures (tests/test_web_*.py) --------------------------------------------------

import json  # noqa: E402
import secrets  # noqa: E402
import shutil  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
WEB_PASSWORD = "correct-horse-1"


def _write_web_sets(problems_dir: Path) -> None:
    """Two problem sets over whatever problems the repo's bank holds: one open, one closed."""
    from grader.bank import load_bank

    ids = sorted(load_bank(problems_dir).problems)
    sets = problems_dir / "sets"
    sets.mkdir(exist_ok=True)
    for old in sets.glob("*.y*ml"):
        old.unlink()
    items = "".join(f"  - problem: {pid}\n    points: 2\n    attempts: 3\n" for pid in ids)
    (sets / "open-set.yaml").write_text(
        f"id: open-set\ntitle: Open set\ndue: 2999-01-01T00:00:00Z\nproblems:\n{items}")
    (sets / "closed-set.yaml").write_text(
        f"id: closed-set\ntitle: Closed set\ndue: 2000-01-01T00:00:00Z\nproblems:\n{items}")


@pytest.fixture(scope="session")
def web_template(tmp_path_factory):
    """A migrated SQLite file and a problem bank copy, built once and copied per test."""
    from web.db import upgrade_database

    base = tmp_path_factory.mktemp("web-template")
    problems = base / "problems"
    shutil.copytree(ROOT / "problems", problems)
    _write_web_sets(problems)
    url = f"sqlite:///{base / 'stride.sqlite'}"
    upgrade_database(url)
    _add_web_users(url)
    return base


def _add_web_users(url: str) -> None:
    """alice and bob (students) and ines (instructor), with a deliberately cheap hash for speed."""
    from sqlalchemy.orm import Session
    from werkzeug.security import generate_password_hash

    from web.auth.accounts import get_or_create_course
    from web.db import make_engine
    from web.models import Enrollment, User

    engine = make_engine(url)
    cheap = generate_password_hash(WEB_PASSWORD, method="pbkdf2:sha256:1000")
    with Session(engine) as session:
        course = get_or_create_course(session, "Test course", "join-me")
        for name, role in (("alice", "student"), ("bob", "student"), ("ines", "instructor")):
            user = User(username=name, password_hash=cheap, role=role, display_name="")
            session.add_all([user, Enrollment(user=user, course=course, role=role)])
        session.commit()
    engine.dispose()


@pytest.fixture
def web_config(web_template, tmp_path):
    shutil.copy(web_template / "stride.sqlite", tmp_path / "stride.sqlite")
    return {
        "TESTING": True, "SECRET_KEY": "test-secret", "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False, "DATABASE_URL": f"sqlite:///{tmp_path / 'stride.sqlite'}",
        "PROBLEMS_DIR": str(web_template / "problems"), "GRADING_WORKERS": 1,
        "LTI_ALLOW_PRIVATE_URLS": True,
    }


@pytest.fixture(scope="session")
def web_bank(web_template):
    from grader.bank import load_bank

    return load_bank(web_template / "problems")


@pytest.fixture
def make_app(web_config, web_bank):
    """create_app with the test config plus `overrides`, sharing one loaded bank (for speed)."""
    from server import create_app

    apps = []

    def make(**overrides):
        app = create_app({**web_config, **overrides})
        app.extensions["stride_bank"] = web_bank
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["stride_pool"].shutdown()
        app.extensions["stride_engine"].dispose()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class AuthActions:
    def __init__(self, client):
        self._client = client

    def login(self, username="alice", password=WEB_PASSWORD):
        return self._client.post("/auth/login", data={"username": username, "password": password})

    def logout(self):
        return self._client.post("/auth/logout")


@pytest.fixture
def auth(client):
    return AuthActions(client)


def _answer_text(variant, correct: bool = True) -> str:
    """A raw answer a student could type for `variant`: right, or readable but wrong."""
    answer, kind = variant.answer, variant.answer_type
    if kind in ("truefalse",):
        return str(bool(answer) == correct)
    if kind == "choice":
        return answer if correct else next(o for o in variant.options if o != answer)
    if kind in ("integer", "number"):
        return str(answer if correct else answer + 1)
    if kind in ("shape", "vector"):
        values = list(answer) if correct else [answer[0] + 1, *answer[1:]]
        return ", ".join(str(v) for v in values)
    if kind == "matrix":
        rows = [list(r) for r in answer]
        if not correct:
            rows[0][0] += 1
        return json.dumps(rows)
    if kind == "multiselect":
        chosen = set(answer)
        if not correct:
            chosen ^= {variant.options[0]}
        return "\n".join(o for o in variant.options if o in chosen)
    raise NotImplementedError(f"no test answer for answer type {kind!r}")


@pytest.fixture
def web_answer():
    return _answer_text


# --- course walls (tests/test_authz.py, tests/test_course_walls.py) --------------------------

from dataclasses import dataclass  # noqa: E402

WALLS_STUDENTS = {"a1": "A", "a2": "A", "b1": "B"}  # label -> course
WALLS_STAFF = {"inst_a": ("A", "instructor"), "inst_b": ("B", "instructor"),
               "ta_a": ("A", "ta")}  # label -> (course, course role); ta_a is a student account
# label -> (username, account role); usernames are distinctive so a page or CSV can be searched
WALLS_ACCOUNTS = {
    "a1": ("student-a1", "student"), "a2": ("student-a2", "student"),
    "b1": ("student-b1", "student"), "inst_a": ("instructor-a", "instructor"),
    "inst_b": ("instructor-b", "instructor"), "ta_a": ("assistant-a", "student"),
    "admin": ("site-admin", "admin"), "lonely": ("instructor-of-nothing", "instructor"),
}


@dataclass(frozen=True)
class WallsWorld:
    """Two courses, A and B, each with its own students and staff, and one code submission per
    student. `users` and `code` map labels (see WALLS_ACCOUNTS) to ids; `courses` maps "A"/"B"
    to course ids."""

    courses: dict[str, int]
    users: dict[str, int]
    code: dict[str, int]

    @staticmethod
    def username(label: str) -> str:
        return WALLS_ACCOUNTS[label][0]


def add_walls_world(app) -> WallsWorld:
    """Add course A (students a1, a2; instructor inst_a; TA ta_a) and course B (student b1;
    instructor inst_b) to `app`'s database, plus admin (site-wide) and lonely (an instructor
    account of no course). Cheap password hashes, as for the other fixture users."""
    from werkzeug.security import generate_password_hash

    from web.auth.accounts import get_or_create_course
    from web.db import session_factory
    from web.models import Enrollment, User

    cheap = generate_password_hash(WEB_PASSWORD, method="pbkdf2:sha256:1000")
    with session_factory(app)() as session:
        courses = {key: get_or_create_course(session, f"Course {key}", f"join-{key.lower()}")
                   for key in ("A", "B")}
        users = {label: User(username=name, password_hash=cheap, role=role)
                 for label, (name, role) in WALLS_ACCOUNTS.items()}
        session.add_all(users.values())
        for name, key in WALLS_STUDENTS.items():
            session.add(Enrollment(user=users[name], course=courses[key], role="student"))
        for name, (key, role) in WALLS_STAFF.items():
            session.add(Enrollment(user=users[name], course=courses[key], role=role))
        session.flush()
        code = _add_walls_code(session, {n: users[n].id for n in WALLS_STUDENTS})
        session.commit()
        return WallsWorld({k: c.id for k, c in courses.items()},
                          {n: u.id for n, u in users.items()}, code)


def _add_walls_code(session, student_ids: dict[str, int]) -> dict[str, int]:
    """One finished code submission per student, its file named after its owner ("a1.py")."""
    from web.models import CodeSubmission

    rows = {name: CodeSubmission(
        user_id=uid, exercise="conv_step_by_step", filename=f"{name}.py", source="x = 1",
        status="done", score=1.0, max_score=2.0,
        report_json='{"score": 1, "max_score": 2, "functions": [], "warnings": []}')
        for name, uid in student_ids.items()}
    session.add_all(rows.values())
    session.flush()
    return {name: row.id for name, row in rows.items()}


@pytest.fixture
def walls_world(app) -> WallsWorld:
    return add_walls_world(app)


@pytest.fixture(scope="module")
def walls_app(web_template, web_bank, tmp_path_factory):
    """One app with the walls world for a whole module of read-mostly checks: (app, world)."""
    from server import create_app

    base = tmp_path_factory.mktemp("walls")
    shutil.copy(web_template / "stride.sqlite", base / "stride.sqlite")
    app = create_app({
        "TESTING": True, "SECRET_KEY": "test-secret", "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False, "DATABASE_URL": f"sqlite:///{base / 'stride.sqlite'}",
        "PROBLEMS_DIR": str(web_template / "problems"), "GRADING_WORKERS": 1,
    })
    app.extensions["stride_bank"] = web_bank
    try:
        yield app, add_walls_world(app)
    finally:
        app.extensions["stride_pool"].shutdown()
        app.extensions["stride_engine"].dispose()

# --- practice mode (tests/test_practice_walls.py, tests/test_web_student.py) ------------------

def _first_of_each_answer_type(problems) -> set[str]:
    first: dict[str, str] = {}
    for pid in sorted(problems):
        first.setdefault(problems[pid].answer_type, pid)
    return set(first.values())


@pytest.fixture(scope="session")
def practice_bank(web_bank):
    """`web_bank` with the first problem of each answer type taken out of the open set.

    Those problems are then only in the closed (past-due) set, so practice offers them; every
    other problem is in the open set and is withheld from practice.
    """
    from dataclasses import replace

    offered = _first_of_each_answer_type(web_bank.problems)
    open_set = web_bank.sets["open-set"]
    items = tuple(i for i in open_set.items if i.problem_id not in offered)
    return replace(web_bank, sets={**web_bank.sets, "open-set": replace(open_set, items=items)})


@pytest.fixture
def practice_app(app, practice_bank):
    """The `app` (and so `client`) serving `practice_bank`."""
    app.extensions["stride_bank"] = practice_bank
    return app


def answer_post(answer, **fields) -> dict:
    """An answer POST as the problem page's form sends it: with a fresh idempotency token."""
    import secrets

    return {"answer": answer, "request_token": secrets.token_urlsafe(24), **fields}


@pytest.fixture
def queue_name():
    """A grading queue name of its own on the test Redis, its keys deleted afterwards."""
    from tests.test_queue import delete_queue_keys, redis_or_skip

    connection = redis_or_skip()
    name = f"stride-test-{secrets.token_hex(6)}"
    yield name
    delete_queue_keys(connection, name)
    connection.close()
