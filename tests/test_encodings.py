"""Files that are not UTF-8: UTF-16 and UTF-32 with a byte order mark, and cp1252.

PowerShell's ``>`` saves UTF-16 with a byte order mark; Windows editors save cp1252. Both are
read, and the report says how; bytes that are no plausible text are refused kindly, and no
byte sequence makes the reading crash.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grader.code import grade_source
from grader.code.grade import _decode_source
from grader.code.source import decode_submission, prepare_source, read_submission
from grader.errors import NotText, StudentCodeError

ROOT = Path(__file__).resolve().parents[1]
SOURCE = "# Zoë's conv.py\nimport numpy as np\n\n\ndef zero_pad(X, pad):\n    return X\n"


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le",
                                   "utf-32-be"])
def test_a_byte_order_mark_is_decoded_exactly(codec):
    bom = {"utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff",
           "utf-32-le": b"\xff\xfe\x00\x00", "utf-32-be": b"\x00\x00\xfe\xff"}.get(codec, b"")
    decoded = decode_submission(bom + SOURCE.replace("\n", "\r\n").encode(codec))
    assert decoded.text == SOURCE.replace("\n", "\r\n")
    assert "UTF-16" in decoded.note if "16" in codec else "UTF-32" in decoded.note


def test_utf8_is_read_as_it_is_with_or_without_its_mark():
    assert decode_submission(SOURCE.encode()).text == SOURCE
    assert decode_submission(b"\xef\xbb\xbf" + SOURCE.encode()) == decode_submission(
        SOURCE.encode())
    assert decode_submission(SOURCE.encode()).note is None


def test_cp1252_is_read_when_it_is_plausible_source_and_the_report_says_so():
    data = "# Étape 1 : « rembourrage » — 0,5 €\nX = 'café'\n".encode("cp1252")
    decoded = decode_submission(data)
    assert decoded.text.startswith("# Étape 1 : « rembourrage » — 0,5 €")
    assert "Windows-1252 (cp1252)" in decoded.note and "not UTF-8" in decoded.note


@pytest.mark.parametrize("data", [
    bytes(range(256)) * 4,  # binary: control characters
    b"\x89PNG\r\n\x1a\n" + bytes(40),  # an image
    "é".encode("cp1252") * 50 + b"x = 1",  # mostly not ASCII
    b"\xff\xfe\xfa",  # a UTF-16 mark, then an odd byte
    b"\xff\xfe",  # a UTF-16 mark and nothing
    b"\xff\xfe\x00bad",  # a UTF-16 mark, then CJK characters: not Python source
    b"\x00\x00\xfe\xff\x00\x11\x00\x00",  # a UTF-32 mark, then no code point
])
def test_what_is_not_text_gets_the_kind_message(data):
    with pytest.raises(NotText, match="not UTF-8 text") as caught:
        decode_submission(data)
    assert "save it" in str(caught.value)


def test_the_first_unreadable_byte_is_named():
    with pytest.raises(NotText, match=r"byte 128 cannot be read") as caught:
        decode_submission(bytes(range(256)))
    assert caught.value.start == 128


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(
    st.binary(max_size=300),
    st.tuples(st.sampled_from([b"\xff\xfe", b"\xfe\xff", b"\xff\xfe\x00\x00",
                               b"\x00\x00\xfe\xff", b"\xef\xbb\xbf", b"{\"cells\": [], "]),
              st.binary(max_size=200)).map(b"".join),
    st.text(max_size=120).map(lambda t: t.encode("cp1252", errors="ignore")),
))
def test_no_byte_sequence_crashes_the_reading(data):
    try:
        decoded = _decode_source(data)
        for filename in (None, "mine.ipynb", "mine.py"):
            program = read_submission(decoded.text, filename)
            prepare_source(program).notes()
    except StudentCodeError as err:
        assert str(err)  # refused with a sentence, never a crash


def test_grading_utf16_bytes_reports_how_they_were_read():
    stub = (ROOT / "exercises" / "conv_step_by_step.py").read_text()
    report = grade_source(stub.encode("utf-16"), own_code=True, include_hidden=False)
    assert report.warnings[0].startswith("Read your file as UTF-16 text")
    assert report.functions and report.score == 0


def test_grader_check_reads_a_utf16_file_and_says_so(tmp_path):
    from click.testing import CliRunner

    from grader.cli import main

    path = tmp_path / "submission.py"
    path.write_bytes((ROOT / "exercises" / "conv_step_by_step.py").read_text().encode("utf-16"))
    result = CliRunner().invoke(main, ["check", str(path), "--json"])
    assert "Read your file as UTF-16 text" in " ".join(json.loads(result.output)["warnings"]), (
        result.output)
