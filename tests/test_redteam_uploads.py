"""Uploads as a hostile student makes them: notebooks whose JSON is valid but not what Jupyter
writes, archives, and file names with path traversal or control characters. Each is refused
with a clear message (or stored as text and never used as a path), never an error page."""

from __future__ import annotations

import io
import json
import secrets
import zipfile

import pytest
from sqlalchemy import select

from grader.code.source import read_submission
from grader.errors import StudentCodeError
from web.db import session_factory
from web.models import CodeSubmission

GOOD = "import numpy as np\n\ndef zero_pad(X, pad):\n    return X\n"


def _notebook(cells, **extra) -> str:
    layout = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells, **extra}
    return json.dumps(layout)


def _code(source) -> dict:
    return {"cell_type": "code", "id": secrets.token_hex(4), "source": source, "metadata": {},
            "outputs": [], "execution_count": None}


V3_DICT_INPUT = json.dumps({"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [
    {"cells": [{"cell_type": "code", "input": {"x": 1}, "language": "python", "outputs": []}]}]})

HOSTILE_NOTEBOOKS = {
    "source is a number": _notebook([_code(5)]),
    "source is an object": _notebook([_code({"def": "f"})]),
    "source is null": _notebook([_code(None)]),
    "source is a list of numbers": _notebook([_code([1, 2])]),
    "nbformat 3 input is an object": V3_DICT_INPUT,
    "nested 100000 deep": '{"nbformat": 4, "cells": ' + "[" * 100000 + "]" * 100000 + "}",
    "metadata nested 900 deep": _notebook([_code("x = 1")],
                                          metadata=json.loads("[" * 900 + "]" * 900)),
    "cells is an object": _notebook({"a": 1}),
    "cells are not objects": _notebook([1, "x", None]),
    "nbformat is a string": _notebook([_code("x = 1")], nbformat="4"),
    "nbformat is NaN": '{"nbformat": NaN, "cells": []}',
    "a 5000-digit number": '{"nbformat": 4, "nbformat_minor": ' + "9" * 5000 + "}",
    "code only in markdown and raw cells": _notebook([
        {"cell_type": "markdown", "id": "m", "source": GOOD, "metadata": {}},
        {"cell_type": "raw", "id": "r", "source": GOOD, "metadata": {}}]),
}


@pytest.mark.parametrize("text", HOSTILE_NOTEBOOKS.values(), ids=HOSTILE_NOTEBOOKS.keys())
def test_a_hostile_notebook_is_refused_with_a_message(text):
    with pytest.raises(StudentCodeError) as caught:
        read_submission(text, "work.ipynb")
    assert "notebook" in str(caught.value)


def _submit(client, **data):
    data.setdefault("request_token", secrets.token_urlsafe(32))
    return client.post("/code/conv_step_by_step", data=data, content_type="multipart/form-data")


def _rows(app) -> list[CodeSubmission]:
    with session_factory(app)() as session:
        return list(session.scalars(select(CodeSubmission)))


@pytest.mark.parametrize("name", ["source is a number", "source is null",
                                  "nbformat 3 input is an object"])
def test_the_upload_form_refuses_a_hostile_notebook_kindly(app, client, auth, name):
    auth.login()
    upload = (io.BytesIO(HOSTILE_NOTEBOOKS[name].encode()), "work.ipynb")
    response = _submit(client, file=upload)
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "a code cell&#39;s source is not text" in page
    assert _rows(app) == []


def test_an_archive_is_refused_as_not_text(app, client, auth):
    auth.login()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bomb.py", "x" * (10 << 20))  # 10 MB that deflates to a few KB
    buffer.seek(0)
    response = _submit(client, file=(buffer, "work.ipynb"))
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "not UTF-8 text" in page
    assert _rows(app) == []


@pytest.mark.parametrize("filename", ["../../../etc/passwd", "..\\..\\instance\\secret_key",
                                      "/abs/path.py", "a\r\nSet-Cookie: x=1.py",
                                      "\x1b[31mred.py", "<script>alert(1)</script>.py",
                                      "x" * 5000 + ".py"])
def test_a_file_name_is_stored_as_text_and_shown_escaped(app, client, auth, filename):
    auth.login()
    response = _submit(client, file=(io.BytesIO(GOOD.encode()), filename))
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    rows = _rows(app)
    if not rows:  # a name the multipart parser cannot carry arrives as no file: said so
        assert "Please choose a .py or .ipynb file" in page
        return
    assert len(rows) == 1
    stored = rows[0].filename
    assert stored is not None and len(stored) <= 255
    assert "<script>alert(1)" not in page
    assert "\x1b" not in page and "\r\nSet-Cookie" not in page
