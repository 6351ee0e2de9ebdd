"""The exercise page offers the student kit; the wheel is built on first download, cached in
the instance folder under its versioned name, and needs no sign-in (it holds nothing secret)."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import web.code.kit as kit_view


def test_the_exercise_page_links_the_kit_with_the_pip_line(client, auth):
    auth.login()
    page = client.get("/code/convolution_basics").get_data(as_text=True)
    name = kit_view.current_name()
    assert f'href="/code/kit/{name}"' in page
    assert f"pip install http://localhost/code/kit/{name}" in page
    first = kit_view.first_function("convolution_basics")
    assert f'check(&#34;{first}&#34;)' in page or f'check("{first}")' in page


def test_the_kit_is_built_once_then_served_from_the_cache(client, app, monkeypatch):
    name = kit_view.current_name()
    assert re.fullmatch(r"stride_cnn_kit-[\w.+]+-py3-none-any\.whl", name)
    first = client.get(f"/code/kit/{name}")  # signed out: the kit holds nothing secret
    assert first.status_code == 200
    assert "attachment" in first.headers["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(first.data)) as zf:
        assert "stride_kit/local.py" in zf.namelist()
        assert "stride_kit/data/conv_step_by_step.npz" in zf.namelist()

    def no_second_build(*args, **kwargs):
        raise AssertionError("the cached kit should have been served")

    monkeypatch.setattr(kit_view, "build_kit", no_second_build)
    again = client.get(f"/code/kit/{name}")
    assert again.status_code == 200 and again.data == first.data
    cached = sorted(p.name for p in (Path(app.instance_path) / "kits").iterdir())
    assert name in cached and not [c for c in cached if c.endswith(".partial")]



def test_the_kit_urls_lead_to_the_current_kit(client):
    name = kit_view.current_name()
    latest = client.get("/code/kit/")
    assert latest.status_code == 302 and latest.headers["Location"].endswith(f"/code/kit/{name}")
    old = client.get("/code/kit/stride_cnn_kit-0.0.1+sold-py3-none-any.whl")
    assert old.status_code == 302 and old.headers["Location"].endswith(name)
    assert client.get("/code/kit/passwords.txt").status_code == 404
