"""The LTI blueprint ("lti"): OIDC login initiation, the launch, Stride's JWKS, deep linking and
the registration page. Launches and logins come from the LMS (no Stride form, so no CSRF token:
state, nonce and the platform's signature protect them instead); every other POST keeps CSRF."""

from __future__ import annotations

import re
import threading

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user
from pylti1p3.contrib.flask import FlaskOIDCLogin, FlaskRequest
from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.lineitem import LineItem
from sqlalchemy import select

from web import scope
from web.bank import exercise_title, exercises, get_bank
from web.db import get_session, write_gate
from web.lti import keys
from web.lti.accounts import user_for_launch
from web.lti.config import DatabaseToolConf, app_policy, find_platform, http_session
from web.lti.cookies import mark_lti_session, origin_of
from web.lti.errors import (
    LaunchRefused,
    LtiError,
    NotConfigured,
    RegistrationInvalid,
    UrlRefused,
)
from web.lti.launch import (
    SCORE_PARAM,
    SCORE_POLICIES,
    TARGET_PARAM,
    Launch,
    StrideMessageLaunch,
    refusal,
)
from web.lti.outcomes import max_points
from web.lti.roster import sync_roster
from web.lti.storage import DatabaseLaunchStorage, purge_expired
from web.lti.urls import allowed_or_empty, check_url
from web.models import (
    Course,
    Enrollment,
    LtiDeployment,
    LtiIdentity,
    LtiLinkUser,
    LtiPlatform,
    LtiResourceLink,
)
from web.ratelimit import rate_limit
from web.security import CONTENT_SECURITY_POLICY, csrf, sign_in

bp = Blueprint("lti", __name__, url_prefix="/lti")
DEEP_LINK_KEY = "_lti_deep_link"  # the session's deep-linking [launch id, account id]
RESOURCE_LINK = "LtiResourceLinkRequest"
DEEP_LINK = "LtiDeepLinkingRequest"


@bp.errorhandler(LtiError)
def _refused(error: LtiError):
    """The refusal's page. It may be shown inside any LMS's iframe (the launch that failed may
    not say which LMS it came from); it holds no form and no data, so framing it is harmless."""
    get_session().rollback()
    response = make_response(render_template("lti/error.html", title=error.title,
                                             message=str(error)), error.status)
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.replace(
        "frame-ancestors 'none'", "frame-ancestors *")
    return response


def _launch_url() -> str:
    return url_for("lti.launch", _external=True)


def stride_urls() -> dict[str, str]:
    """The URLs an LMS administrator pastes into the LMS's tool registration."""
    return {"login": url_for("lti.login", _external=True), "launch": _launch_url(),
            "jwks": url_for("lti.jwks", _external=True)}


# --- the LTI 1.3 core flow ---------------------------------------------------------------------

@bp.route("/login", methods=["GET", "POST"])
@csrf.exempt
@rate_limit("LTI_LOGIN_RATE_LIMIT", methods=("GET", "POST"))
def login():
    """OIDC login initiation (third-party initiated login): to the platform's auth endpoint.

    Anyone may start one (it stores a state row until it expires), so it is rate limited per
    address, generously: a class launching from one campus address fits."""
    db = get_session()
    purge_expired(db)
    try:
        oidc = FlaskOIDCLogin(FlaskRequest(), DatabaseToolConf(db),
                              launch_data_storage=DatabaseLaunchStorage(db))
        response = oidc.redirect(_launch_url())
    except LtiError:
        raise
    except Exception as exc:
        raise refusal(exc) from None
    with write_gate():
        db.commit()
    return response


@bp.post("/launch")
@csrf.exempt
def launch():
    """The signed launch (resource link or deep linking request), checked in full."""
    db = get_session()
    try:
        message = StrideMessageLaunch(FlaskRequest(), DatabaseToolConf(db),
                                      launch_data_storage=DatabaseLaunchStorage(db),
                                      requests_session=http_session(app_policy()), db_session=db)
        body = message.get_launch_data()
        client_id = message.get_client_id()
    except LtiError:
        raise
    except Exception as exc:
        raise refusal(exc) from None
    platform = find_platform(db, body["iss"], client_id)
    claims = Launch.from_claims(body, client_id)
    if not claims.sub:
        raise LaunchRefused("The launch names no user (no sub claim), so Stride cannot sign "
                            "anyone in. Anonymous launches are not supported.")
    if claims.message_type == DEEP_LINK:
        return _deep_link_launch(db, platform, claims, message.get_launch_id())
    if claims.message_type != RESOURCE_LINK:
        raise NotConfigured(f"Stride does not handle {claims.message_type[:80]!r} launches yet.")
    kind, target = _target(claims.target)
    user = user_for_launch(db, platform, claims)
    link = _store_link(db, platform, claims, kind, target)
    if db.scalar(select(LtiLinkUser).where(LtiLinkUser.link_id == link.id,
                                           LtiLinkUser.user_id == user.id)) is None:
        db.add(LtiLinkUser(link_id=link.id, user_id=user.id, sub=claims.sub))
    with write_gate():
        db.commit()
    _sign_in(user, platform)
    return redirect(_landing(claims, platform, kind, target))


def _target(text: str) -> tuple[str, str]:
    kind, _, name = text.partition(":")
    if kind == "set" and name in get_bank().sets:
        return kind, name
    if kind == "exercise" and name in exercises():
        return kind, name
    if not text:
        raise NotConfigured("This LMS link does not say which problem set or code exercise it "
                            "opens. An instructor can add Stride again through the LMS's "
                            "\"add content\" (Deep Linking) dialog and pick one.")
    raise NotConfigured(f"This LMS link opens {text[:120]!r}, which is not a problem set or code "
                        "exercise in Stride (renamed or removed?). An instructor can link it "
                        "again through the LMS's \"add content\" dialog.")


def _store_link(db, platform: LtiPlatform, claims: Launch, kind: str, target: str
                ) -> LtiResourceLink:
    link = db.scalar(select(LtiResourceLink).where(
        LtiResourceLink.platform_id == platform.id,
        LtiResourceLink.resource_link_id == claims.resource_link_id))
    if link is None:
        link = LtiResourceLink(platform_id=platform.id, resource_link_id=claims.resource_link_id)
        db.add(link)
    link.deployment_id, link.context_id = claims.deployment_id, claims.context_id
    link.kind, link.target, link.title = kind, target, claims.resource_title[:255]
    link.score_policy = claims.score_policy
    ags, policy = claims.ags, app_policy()
    # The message chooses these URLs: only those Stride may call are stored (web.lti.urls).
    link.lineitems_url = allowed_or_empty(str(ags.get("lineitems") or ""), policy,
                                          "AGS line items URL") or link.lineitems_url
    link.lineitem_url = allowed_or_empty(str(ags.get("lineitem") or ""), policy,
                                         "AGS line item URL") or link.lineitem_url
    link.ags_scopes = " ".join(str(scope_) for scope_ in ags.get("scope") or [])
    link.memberships_url = allowed_or_empty(claims.memberships_url, policy,
                                            "NRPS memberships URL") or link.memberships_url
    db.flush()
    return link


def _sign_in(user, platform: LtiPlatform, *extra_origins: str) -> None:
    session.clear()
    sign_in(user)
    origins = [origin_of(platform.issuer), origin_of(platform.auth_login_url), *extra_origins,
               *platform.frame_origins.split()]
    mark_lti_session(origins)


def _landing(claims: Launch, platform: LtiPlatform, kind: str, target: str) -> str:
    if claims.is_staff:
        sort = target if kind == "set" else f"code:{target}"
        return url_for("instructor.gradebook", course=platform.course_id, sort=sort)
    if kind == "set":
        return url_for("student.problem_set", set_id=target)
    return url_for("code.exercise", exercise=target)


@bp.get("/jwks.json")
def jwks():
    """Stride's public keys (made on first use)."""
    db = get_session()
    key_set = keys.jwks(db)
    with write_gate():
        db.commit()
    return key_set


# --- deep linking ------------------------------------------------------------------------------

def _deep_link_launch(db, platform: LtiPlatform, claims: Launch, launch_id: str):
    if not claims.is_staff:
        raise LaunchRefused("Only the LMS course's instructors and teaching assistants can pick "
                            "what a Stride link opens.")
    user = user_for_launch(db, platform, claims)
    with write_gate():
        db.commit()
    return_origin = origin_of(claims.deep_link_settings.get("deep_link_return_url", ""))
    _sign_in(user, platform, return_origin or "")
    session[DEEP_LINK_KEY] = [launch_id, user.id]  # for this account only
    return redirect(url_for("lti.deep_link"))


def _choices() -> list[tuple[str, str]]:
    bank = get_bank()
    sets = [(f"set:{s.id}", f"Problem set: {s.title}") for s in bank.sets.values()]
    return sets + [(f"exercise:{name}", f"Code exercise: {exercise_title(name)}")
                   for name in exercises()]


def _deep_link_request() -> tuple[str | None, int | None]:
    """(launch id, id of the account it was launched for) of this session's deep linking."""
    stored = session.get(DEEP_LINK_KEY)
    if isinstance(stored, list) and len(stored) == 2 and isinstance(stored[0], str) \
            and type(stored[1]) is int:
        return stored[0], stored[1]
    return None, None


def _deep_link_message(db):
    launch_id, user_id = _deep_link_request()
    if not launch_id or user_id != current_user.id:
        raise LaunchRefused("There is no deep linking request in this browser session. Open "
                            "Stride from the LMS's \"add content\" dialog again.")
    try:
        return StrideMessageLaunch.from_cache(
            launch_id, FlaskRequest(), DatabaseToolConf(db),
            launch_data_storage=DatabaseLaunchStorage(db),
            requests_session=http_session(app_policy()))
    except Exception as exc:
        raise LaunchRefused("This deep linking request has expired. Open Stride from the LMS's "
                            "\"add content\" dialog again.") from exc


@bp.route("/deep-link", methods=["GET", "POST"])
def deep_link():
    """Deep linking: the instructor picks a set or exercise; the signed answer goes to the LMS."""
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    db = get_session()
    message = _deep_link_message(db)
    if request.method == "GET":
        return render_template("lti/deep_link.html", choices=_choices())
    choice = request.form.get("target", "")
    if choice not in dict(_choices()):
        abort(400, description="Pick one of the problem sets or code exercises listed.")
    policy = request.form.get("score", "best")
    if policy not in SCORE_POLICIES:
        abort(400, description="Pick whether the LMS gets the best or the latest score.")
    kind, _, target = choice.partition(":")
    title = dict(_choices())[choice].split(": ", 1)[1]
    resource = (DeepLinkResource().set_url(_launch_url()).set_title(title)
                .set_custom_params({TARGET_PARAM: choice, SCORE_PARAM: policy})
                .set_lineitem(LineItem().set_label(title).set_resource_id(choice)
                              .set_score_maximum(max_points(get_bank(), kind, target))))
    deep = message.get_deep_link()
    token = deep.get_response_jwt([resource])
    session.pop(DEEP_LINK_KEY, None)
    return render_template("lti/deep_link_return.html", title=title, jwt=token,
                           return_url=message.get_launch_data()[
                               "https://purl.imsglobal.org/spec/lti-dl/claim/"
                               "deep_linking_settings"]["deep_link_return_url"])


# --- registration ------------------------------------------------------------------------------

def _registrable_courses(db) -> list[Course]:
    """The courses the signed-in account may register an LMS for: those it is instructor of
    (every course for an admin)."""
    if scope.is_admin(current_user):
        return list(db.scalars(select(Course).order_by(Course.name)))
    return list(db.scalars(select(Course).join(Enrollment).where(
        Enrollment.user_id == current_user.id, Enrollment.role == "instructor")
        .order_by(Course.name)))


FIELDS = ("course", "name", "issuer", "client_id", "deployment_ids", "auth_login_url",
          "auth_token_url", "key_set_url", "auth_audience", "frame_origins")
URL_FIELDS = {"auth_login_url": "the LMS's OIDC login (authorization) URL",
              "auth_token_url": "the LMS's access token URL",
              "key_set_url": "the LMS's public keyset (JWKS) URL"}
FETCHED_FIELDS = ("auth_token_url", "key_set_url")  # Stride's server requests these itself


def _upper(text: str) -> str:
    return text[:1].upper() + text[1:]


def _check_url(value: str, what: str, *, fetched: bool = False) -> str:
    """`value` when it can serve as `what`; a URL Stride's server requests (`fetched`) must
    also pass the outgoing URL policy (web.lti.urls)."""
    origin = origin_of(value)
    if origin is None or len(value) > 1000 or not value.isprintable():
        raise RegistrationInvalid(f"The value for {what} is not an http(s) URL: {value[:80]!r}.")
    policy = app_policy()
    plain = RegistrationInvalid(f"{_upper(what)} must use https:// (plain http is only accepted "
                                "for an LMS on a private network the site operator allows): "
                                f"{value[:80]!r}.")
    if not value.startswith("https://") and not policy.allow_private:
        raise plain
    if fetched:
        try:
            check_url(value, policy)
        except UrlRefused as exc:
            if not value.startswith("https://"):
                raise plain from None
            raise RegistrationInvalid(
                f"{_upper(what)} is not one Stride may call ({value[:80]!r}). {exc} Enter "
                "the LMS's public https:// address; an LMS reached only on a private network "
                "needs the site operator to allow it (LTI_ALLOW_PRIVATE_URLS).") from None
    return value


def _read_registration(form, courses) -> dict:
    values = {name: form.get(name, "").strip() for name in FIELDS}
    course = next((c for c in courses if str(c.id) == values["course"]), None)
    if course is None:
        raise RegistrationInvalid("Pick one of your courses for this LMS's launches.")
    for name, label in (("issuer", "the issuer"), ("client_id", "the client id")):
        if not values[name] or len(values[name]) > 255 or not values[name].isprintable():
            raise RegistrationInvalid(f"Enter {label} the LMS shows (1 to 255 characters).")
    for name, what in URL_FIELDS.items():
        _check_url(values[name], what, fetched=name in FETCHED_FIELDS)
    if values["auth_audience"]:
        _check_url(values["auth_audience"], "the token audience")
    deployments = [d for d in re.split(r"[\s,]+", values["deployment_ids"]) if d]
    if not deployments or any(len(d) > 255 or not d.isprintable() for d in deployments):
        raise RegistrationInvalid("Enter at least one deployment id (separate several with "
                                  "commas or spaces).")
    origins = [o for o in values["frame_origins"].split() if o]
    if any(origin_of(o) != o.rstrip("/") for o in origins):
        raise RegistrationInvalid("Each extra frame origin must be a bare origin such as "
                                  "https://school.instructure.com (no path).")
    values.update(course=course, deployments=deployments,
                  frame_origins=" ".join(o.rstrip("/") for o in origins))
    return values


def _save_registration(db, values: dict) -> LtiPlatform:
    platform = find_platform(db, values["issuer"], values["client_id"])
    if platform is not None and platform.course_id != values["course"].id:
        raise RegistrationInvalid("This issuer and client id are already registered for another "
                                  "Stride course; ask that course's instructor or an admin.")
    if platform is None:
        platform = LtiPlatform(issuer=values["issuer"], client_id=values["client_id"],
                               course_id=values["course"].id, created_by_id=current_user.id)
        db.add(platform)
    elif platform.key_set_url != values["key_set_url"] and not scope.is_admin(current_user) \
            and db.scalar(select(LtiIdentity.id).where(LtiIdentity.platform_id == platform.id)
                          .limit(1)) is not None:
        # The key set vouches for every account this LMS made, in whatever courses they are.
        raise RegistrationInvalid("This LMS has signed in users already, so only a site "
                                  "administrator can change its key set URL (new keys would "
                                  "sign launches for all of those accounts).")
    platform.name = values["name"][:200]
    for name in URL_FIELDS:
        setattr(platform, name, values[name])
    platform.auth_audience = values["auth_audience"] or None
    platform.frame_origins = values["frame_origins"]
    db.flush()
    known = {d.deployment_id for d in platform.deployments}
    for deployment in values["deployments"]:
        if deployment not in known:
            db.add(LtiDeployment(platform_id=platform.id, deployment_id=deployment))
    db.flush()
    return platform


@bp.route("/registrations", methods=["GET", "POST"])
def registrations():
    """Course instructors and admins: register an LMS (platform) for one of their courses."""
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    db = get_session()
    courses = _registrable_courses(db)
    if not courses:
        abort(403, description="Registering an LMS is for a course's instructors (and admins).")
    error, status, form = None, 200, {}
    if request.method == "POST":
        form = request.form
        try:
            platform = _save_registration(db, _read_registration(request.form, courses))
            with write_gate():
                db.commit()
            return redirect(url_for("lti.registrations", saved=platform.id))
        except RegistrationInvalid as exc:
            db.rollback()
            error, status = str(exc), exc.status
    platforms = db.scalars(select(LtiPlatform).where(
        LtiPlatform.course_id.in_([c.id for c in courses])).order_by(LtiPlatform.id)).all()
    links = db.scalars(select(LtiResourceLink).where(
        LtiResourceLink.platform_id.in_([p.id for p in platforms]))
        .order_by(LtiResourceLink.id)).all()
    return render_template("lti/registrations.html", courses=courses, platforms=platforms,
                           urls=stride_urls(), error=error, form=form, links=links,
                           is_admin=scope.is_admin(current_user)), status


@bp.post("/links/<int:link_id>/roster")
def sync_link_roster(link_id: int):
    """Course instructors and admins: sync the LMS course's roster of one link (NRPS)."""
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    db = get_session()
    link = db.get(LtiResourceLink, link_id)
    if link is None or link.platform.course_id not in {c.id for c in _registrable_courses(db)}:
        abort(404, description="There is no LMS link with that number in your courses.")
    try:
        result = sync_roster(db, link, app_policy())
    except LtiError:
        raise
    except Exception as exc:
        db.rollback()
        flash(f"The LMS's roster could not be read ({type(exc).__name__}); try again later.",
              "error")
        return redirect(url_for("lti.registrations"))
    with write_gate():
        db.commit()
    flash(result.message(), "success")
    return redirect(url_for("lti.registrations"))


@bp.post("/keys/rotate")
def rotate_keys():
    """Admins: make a new signing key (the previous one stays published until the next)."""
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    if not scope.is_admin(current_user):
        abort(403, description="Only an admin can rotate Stride's LTI keys.")
    db = get_session()
    keys.rotate(db)
    with write_gate():
        db.commit()
    return redirect(url_for("lti.registrations"))


def dispatch_round(app):
    """With the grading queue (REDIS_URL): one round of the drainer thread enqueues the due
    scores as RQ jobs (`web.code.rq.score_job`) instead of sending them itself."""
    from web.code.backend import get_pool
    from web.code.rq import dispatch_scores
    from web.db import session_factory

    return dispatch_scores(get_pool(app).queue, session_factory(app))


def init_app(app) -> None:
    from web.lti import cookies
    from web.lti.outcomes import OutboxDrainer, drain

    cookies.init_app(app)
    app.register_blueprint(bp)
    if not app.config.get("LTI_OUTBOX_THREAD", not app.testing):
        return
    lock = threading.Lock()

    @app.before_request
    def _start_drainer():  # in each serving process (a thread does not survive a fork)
        if "stride_lti_drainer" not in app.extensions:
            with lock:
                if "stride_lti_drainer" not in app.extensions:
                    round_ = dispatch_round if app.config.get("REDIS_URL") else drain
                    app.extensions["stride_lti_drainer"] = OutboxDrainer(app, round_).start()
