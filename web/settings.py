"""The app's settings as one typed object: the one home of reading them from the environment.

`from_environment()` is the only reader of `os.environ` for app settings: `server.create_app`
layers its result over the built-in defaults, then the instance `config.py` (or, instead of it,
a test config) over both, and turns the final Flask config into a frozen `Settings` once
(`Settings.from_config`), kept in `app.extensions["stride_settings"]`. The grading worker
(`python -m web.code.worker`), which has no Flask app, builds its `Settings` from the same
function. Nothing reads the environment for these settings afterwards, so the grading backend,
the restart recovery and the rate limits all see the same `REDIS_URL`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_QUEUE = "stride-grading"
# App setting -> the environment variable that sets it (its value becomes the default).
ENVIRONMENT = {
    "DATABASE_URL": "DATABASE_URL",
    "PROBLEMS_DIR": "STRIDE_PROBLEMS_DIR",
    "SECRET_KEY": "STRIDE_SECRET_KEY",
    "REDIS_URL": "REDIS_URL",
    "TRUSTED_PROXIES": "STRIDE_TRUSTED_PROXIES",
    "GRADING_QUEUE": "STRIDE_GRADING_QUEUE",
    "GRADING_HEARTBEAT_S": "STRIDE_GRADING_HEARTBEAT_S",
    "GRADING_STALE_S": "STRIDE_GRADING_STALE_S",
    "GRADING_MAX_TRIES": "STRIDE_GRADING_MAX_TRIES",
    "LTI_ALLOW_PRIVATE_URLS": "STRIDE_LTI_ALLOW_PRIVATE_URLS",
}


def from_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The app settings the environment sets (non-empty variables only), by setting name."""
    environ = os.environ if environ is None else environ
    return {key: environ[name] for key, name in ENVIRONMENT.items() if environ.get(name)}


@dataclass(frozen=True)
class JobTiming:
    """How often a grading job proves it is alive, and when a silent one counts as lost.

    `stale_after_s` must be several heartbeats long: a busy database may delay one.
    """

    heartbeat_s: float = 5.0
    stale_after_s: float = 20.0
    max_tries: int = 2

    def __post_init__(self) -> None:
        for name in ("heartbeat_s", "stale_after_s", "max_tries"):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"GRADING_{_SETTING_NAMES[name]} must be a positive number, "
                                 f"got {value!r}")
        if self.stale_after_s <= self.heartbeat_s:
            raise ValueError(f"GRADING_STALE_S ({self.stale_after_s!r}) must be longer than "
                             f"GRADING_HEARTBEAT_S ({self.heartbeat_s!r}), or every job looks lost")

    @classmethod
    def from_config(cls, config: Mapping) -> JobTiming:
        """From GRADING_HEARTBEAT_S / GRADING_STALE_S / GRADING_MAX_TRIES in `config`."""
        def pick(key: str, default):
            value = config.get(f"GRADING_{key}")
            if value is None or value == "":
                return default
            try:
                return type(default)(value)
            except (TypeError, ValueError):
                raise ValueError(f"GRADING_{key} must be a number, got {value!r}") from None

        return cls(pick("HEARTBEAT_S", cls.heartbeat_s), pick("STALE_S", cls.stale_after_s),
                   pick("MAX_TRIES", cls.max_tries))


def flag(value, name: str) -> bool:
    """A yes/no setting from a bool or its text ("1", "true", "yes", "on" / "0", "false"...)."""
    if isinstance(value, bool) or value is None:
        return bool(value)
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("", "0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be true or false (1/0, yes/no), got {value!r}")


_SETTING_NAMES = {"heartbeat_s": "HEARTBEAT_S", "stale_after_s": "STALE_S",
                  "max_tries": "MAX_TRIES"}
DEFAULT_TIMING = JobTiming()


def _bundled_problems() -> str:
    from grader.data_root import data_root

    return str(data_root() / "problems")


@dataclass(frozen=True)
class Settings:
    """What the database, the grading backend and the rate limits are configured with."""

    database_url: str | None = None
    redis_url: str | None = None
    grading_queue: str = DEFAULT_QUEUE
    grading_workers: int = 2
    timing: JobTiming = DEFAULT_TIMING
    ratelimit_storage_uri: str = "memory://"
    trusted_proxies: int = 0
    problems_dir: str = ""  # "" : the bundled bank (grader.data_root)
    lti_allow_private_urls: bool = False  # outgoing LTI requests to private networks (web.lti.urls)

    @classmethod
    def from_config(cls, config: Mapping) -> Settings:
        """From a finished Flask config (or any mapping of setting names to values)."""
        redis_url = config.get("REDIS_URL") or None
        return cls(
            database_url=config.get("DATABASE_URL") or None, redis_url=redis_url,
            grading_queue=config.get("GRADING_QUEUE") or DEFAULT_QUEUE,
            grading_workers=int(config.get("GRADING_WORKERS") or 2),
            timing=JobTiming.from_config(config),
            # One count for every worker and host: the grading queue's Redis, unless set apart.
            ratelimit_storage_uri=config.get("RATELIMIT_STORAGE_URI") or redis_url or "memory://",
            trusted_proxies=int(config.get("TRUSTED_PROXIES") or 0),
            problems_dir=config.get("PROBLEMS_DIR") or _bundled_problems(),
            lti_allow_private_urls=flag(config.get("LTI_ALLOW_PRIVATE_URLS"),
                                        "LTI_ALLOW_PRIVATE_URLS"))

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """For a process without a Flask app (the grading worker): the environment alone."""
        return cls.from_config(from_environment(environ))
