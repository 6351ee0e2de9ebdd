"""What came back from one sandboxed call, typed: the one home of the child's status and outcome.

The worker answers in JSON (its wire protocol is :mod:`grader.sandbox.zygote`'s and does not
change); :func:`parse_status` reads the child's part of it once into frozen dataclasses, so
nothing after the sandbox ever reads the child's raw JSON. Everything here came from the
child, which ran the student's code: every field is checked for its type, and a field of the
wrong type reads as missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np


class OutcomeKind(StrEnum):
    """How one call ended, as the worker saw it from outside the child."""

    DONE = "done"
    TIMEOUT = "timeout"
    SKIPPED_AFTER_TIMEOUT = "skipped_after_timeout"  # an earlier call of the function timed out
    CRASHED = "crashed"
    DISK_QUOTA = "disk_quota"
    IMPORT_ERROR = "import_error"
    IMPORT_TIMEOUT = "import_timeout"
    IMPORT_CRASHED = "import_crashed"
    IMPORT_DISK_QUOTA = "import_disk_quota"
    LOST = "lost"  # the worker itself died or overran

    @property
    def at_import(self) -> bool:
        """True when the child ended while loading the file, before any call."""
        return self.value.startswith("import")

    @classmethod
    def parse(cls, value: Any) -> OutcomeKind:
        """The kind named by the worker; an unknown name reads as a lost call."""
        try:
            return cls(str(value))
        except ValueError:
            return cls.LOST


@dataclass(frozen=True)
class Frame:
    """One traceback frame of the student's file: line number, function name, line text."""

    lineno: int
    name: str
    text: str


@dataclass(frozen=True)
class ValueInfo:
    """The child's description of a returned value: its type, and length or dtype and shape."""

    type: str = "?"
    length: int | None = None  # set for a tuple or list
    dtype: str | None = None  # set for an array
    shape: tuple[int, ...] = ()
    items: tuple[ValueInfo | None, ...] = ()  # a tuple's or list's items, one level deep

    @property
    def is_sequence(self) -> bool:
        return self.length is not None


@dataclass(frozen=True)
class ChildStatus:
    """The child's own account of one call (or of loading the file).

    ``ok``: the call returned and its outputs were saved; ``missing``: the function is not
    defined; ``stage`` is "save" when the return value could not be saved, "load" when the
    inputs could not be; ``exc_type``, ``exc_msg`` and ``frames`` describe an exception.
    """

    ok: bool = False
    missing: bool = False
    stage: str | None = None
    exc_type: str = "Exception"
    exc_msg: str = ""
    frames: tuple[Frame, ...] = ()
    result: ValueInfo | None = None


@dataclass(frozen=True)
class RawOutcome:
    """What came back from one call, before any verdict.

    ``status`` is the child's parsed status and ``arrays`` its saved outputs, either None when
    missing or unreadable (``problem`` then says why, in a sentence of the sandbox's own).
    """

    id: str
    outcome: OutcomeKind
    status: ChildStatus | None = None
    arrays: dict[str, np.ndarray] | None = None
    exit: int | None = None
    signal: int | None = None
    lifetime: float | None = None
    cpu: float | None = None
    problem: str | None = None


def _text(value: Any, default: str = "") -> str:
    return default if value is None else str(value)


def _int(value: Any) -> int | None:
    return value if type(value) is int else None


def _frames(raw: Any) -> tuple[Frame, ...]:
    """The well-formed frames: ``[lineno, name, text]`` with an integer line number."""
    if not isinstance(raw, list):
        return ()
    return tuple(Frame(f[0], str(f[1]), str(f[2])) for f in raw
                 if isinstance(f, list) and len(f) == 3 and type(f[0]) is int)


def parse_value_info(raw: Any, depth: int = 0) -> ValueInfo | None:
    """A :class:`ValueInfo` from the child's description, or None when it is not a mapping."""
    if not isinstance(raw, Mapping):
        return None
    shape = raw.get("shape")
    items = raw.get("items") if depth == 0 and isinstance(raw.get("items"), list) else []
    return ValueInfo(
        type=_text(raw.get("type"), "?"), length=_int(raw.get("len")),
        dtype=None if raw.get("dtype") is None else str(raw["dtype"]),
        shape=tuple(shape) if isinstance(shape, list) else (),
        items=tuple(parse_value_info(i, depth + 1) for i in items))


def parse_status(raw: Any) -> ChildStatus | None:
    """The child's status parsed once, or None when it sent none (or not a mapping)."""
    if not isinstance(raw, Mapping):
        return None
    return ChildStatus(
        ok=bool(raw.get("ok")), missing=bool(raw.get("missing")),
        stage=None if raw.get("stage") is None else str(raw["stage"]),
        exc_type=_text(raw.get("exc_type"), "Exception"), exc_msg=_text(raw.get("exc_msg")),
        frames=_frames(raw.get("frames")), result=parse_value_info(raw.get("result")))
