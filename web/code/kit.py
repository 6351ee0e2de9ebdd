"""The student kit's download: the wheel students ``pip install`` to check their work offline.

One kit holds every exercise (so installing it twice never swaps one exercise for another).
It is built on first request into the instance folder's ``kits/`` and reused while the specs
and stubs are unchanged: its file name carries a hash of them (``grader.kit.build``), so a
changed spec gives a new name and a fresh build. The kit holds nothing secret (no reference
code, hidden test or quiz: ``tests/test_kit.py`` scans it), so the download needs no sign-in,
and ``pip install <this URL>`` works as it is.
"""

from __future__ import annotations

import threading
from pathlib import Path

from flask import Blueprint, abort, current_app, redirect, send_file, url_for

from grader.code import EXERCISES, load_spec
from grader.kit.build import build_kit, kit_version, wheel_name

bp = Blueprint("code_kit", __name__, url_prefix="/code/kit")
_BUILDING = threading.Lock()  # one build at a time per process; the file appears whole


def current_name() -> str:
    """The file name of the kit for the current specs (nothing is built)."""
    return wheel_name(kit_version(EXERCISES))


def _built(name: str) -> Path:
    folder = Path(current_app.instance_path) / "kits"
    path = folder / name
    if not path.exists():
        with _BUILDING:
            if not path.exists():
                built = build_kit(EXERCISES, folder)
                if built.name != name:  # the specs changed between the two reads
                    abort(409, description="The exercises changed just now: reload the page.")
                for old in folder.glob("*.whl"):  # kits of earlier specs are not offered
                    if old.name != name:
                        old.unlink(missing_ok=True)

    return path


@bp.get("/")
def latest():
    """The current kit, by its versioned file name."""
    return redirect(url_for("code_kit.wheel", filename=current_name()))


@bp.get("/<filename>")
def wheel(filename: str):
    """The kit's wheel; an older kit's name leads to the current one."""
    name = current_name()
    if filename != name:
        if filename.endswith(".whl") and filename.startswith(name.split("-")[0] + "-"):
            return redirect(url_for("code_kit.wheel", filename=name))
        abort(404, description="There is no such student kit.")
    return send_file(_built(name), mimetype="application/zip", as_attachment=True,
                     download_name=name, max_age=3600)


def first_function(exercise: str) -> str:
    """The exercise's first function, for the page's example of ``check("...")``."""
    return load_spec(exercise).functions[0].name


@bp.app_context_processor
def _kit_helpers():
    return {"student_kit_name": current_name, "kit_first_function": first_function}
