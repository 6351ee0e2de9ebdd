"""Reading typed answers: every form of the design notes, clear format errors, fuzzing."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grader.answers import ANSWER_TYPES, Parsed, answer_hint, format_value, parse
from grader.errors import FormatError

OPTIONS = (
    "parameter sharing",
    "sparsity of connections",
    "gradient descent sets most weights to zero",
    "stride 2, padding 1",
)
NUMERIC_OPTIONS = ("121", "280", "7,600", "27,000,100")


def read(answer_type: str, raw: str, options=None):
    return parse(answer_type, raw, options=options).value


# ---------------------------------------------------------------------------------------------
# Integers and numbers


@pytest.mark.parametrize("raw, value, read_as", [
    ("27000100", 27000100, "27,000,100"),
    ("27,000,100", 27000100, "27,000,100"),
    ("27 000 100", 27000100, "27,000,100"),
    ("27_000_100", 27000100, "27,000,100"),
    ("  27000100.  ", 27000100, "27,000,100"),
    ("10^12", 10**12, "1,000,000,000,000"),
    ("10**12", 10**12, "1,000,000,000,000"),
    ("10^{12}", 10**12, "1,000,000,000,000"),
    ("1e12", 10**12, "1,000,000,000,000"),
    ("1E+12", 10**12, "1,000,000,000,000"),
    ("2.7e7", 27_000_000, "27,000,000"),
    ("2.7 x 10^7", 27_000_000, "27,000,000"),
    ("2.7×10^7", 27_000_000, "27,000,000"),
    ("12.0", 12, "12"),
    ("-5", -5, "-5"),
    ("\u22125", -5, "-5"),
    ("+7600", 7600, "7,600"),
    ("0", 0, "0"),
    ("12/4", 3, "3"),
    ("2^10", 1024, "1,024"),
    ("p = 3", 3, "3"), ("n_H == 29", 29, "29"), ("=7600", 7600, "7,600"),
    ("10\u00b9\u00b2", 10**12, "1,000,000,000,000"),
    ("2.7 \u00d7 10\u2077", 27_000_000, "27,000,000"),
])
def test_integer_forms(raw, value, read_as):
    parsed = parse("integer", raw)
    assert parsed == Parsed(value, read_as)
    assert type(parsed.value) is int


@pytest.mark.parametrize("raw, value", [
    ("0.75", 0.75), (".75", 0.75), ("3/4", 0.75), ("-1.5e-3", -0.0015), ("\u22121.5e-3", -0.0015),
    ("3.75", 3.75), ("2.7 × 10^7", 2.7e7), ("1,234.5", 1234.5), ("10^-3", 0.001),
    ("- 2", -2.0), ("1e-400", 0.0), ("12.", 12.0), ("2.5.", 2.5), ("10\u207b\u00b3", 0.001),
])
def test_number_forms(raw, value):
    assert read("number", raw) == pytest.approx(value, rel=1e-12, abs=0)


def test_number_echo_is_short_and_canonical():
    assert parse("number", "3/4").read_as == "0.75"
    assert parse("number", "1e-7").read_as == "1e-7"
    assert parse("number", "27000100").read_as == "27,000,100"


@pytest.mark.parametrize("raw, message", [
    ("12.5", r"'12\.5' is not a whole number\. Expected one whole number, e\.g\. 27000100"),
    ("7.600", r"If you meant 7,600, write it with a comma or none\. Expected"),
    ("1,2", r"Did you mean one number\? Write it without commas, e\.g\. 27000100"),
    ("2,2,2", r"commas only separate thousands"),
    ("27,00,100", r"commas only separate thousands"),
    ("27.000.100", r"group thousands with commas or not at all, e\.g\. 27,000,100"),
    ("1 2", r"looks like several numbers"),
    ("29x29x32", r"Could not read '29x29x32' as a whole number.*e\.g\."),
    ("abc", r"Could not read 'abc' as a whole number\. Expected one whole number, e\.g\."),
    ("10^999999", r"exponent.*too large.*Expected one whole number"),
    ("1e999999999999", r"exponent.*too large"),
    ("9" * 500, r"too many digits"),
    ("10^300", r"too large to grade"),
    ("99^200", r"too large to grade"), ("99^9999", r"exponent.*too large"),
    ("1/0", r"0 as its denominator"),
    ("0^-1", r"negative power"),
    ("", r"Your answer is empty\. Expected one whole number"),
    ("   .  ", r"Your answer is empty"),
    ("2^3^4", r"Could not read"),
    ("x" * 20_000, r"too long"),
])
def test_integer_format_errors(raw, message):
    with pytest.raises(FormatError, match=message):
        parse("integer", raw)


@pytest.mark.parametrize("raw, message", [
    ("1,5", r"for a decimal use a point, e\.g\. 1\.5"),
    ("25%", r"plain number instead of a percentage, e\.g\. 0\.25"),
    ("1e500", r"exponent in that number is too large.*Expected one number, e\.g\."),
    ("one half", r"Could not read 'one half' as a number\. Expected one number, e\.g\."),
    ("1.2.3", r"Could not read"),
])
def test_number_format_errors(raw, message):
    with pytest.raises(FormatError, match=message):
        parse("number", raw)


# ---------------------------------------------------------------------------------------------
# Shapes


@pytest.mark.parametrize("raw", [
    "29x29x32", "29 x 29 x 32", "29×29×32", "(29, 29, 32)", "[29,29,32]", "29X29X32",
    "29 * 29 * 32", "29, 29, 32", "29 29 32", "29 by 29 by 32", " (29,29,32). ", "[29 x 29 x 32]",
])
def test_shape_forms(raw):
    assert parse("shape", raw) == Parsed((29, 29, 32), "29 x 29 x 32")


@pytest.mark.parametrize("raw, value", [
    ("4x4", (4, 4)), ("(32,)", (32,)), ("32", (32,)), ("1x28x28x8", (1, 28, 28, 8)),
    ("(n_H, n_W, n_C) = (29, 29, 32)", (29, 29, 32)), ("Z.shape = (2, 4, 4, 8)", (2, 4, 4, 8)),
])
def test_shape_dimension_counts(raw, value):
    assert read("shape", raw) == value


@pytest.mark.parametrize("raw, message", [
    ("29x0x32", r"'0' cannot be a dimension"),
    ("29x-1x32", r"Could not read|cannot be a dimension"),
    ("29x2.5x32", r"'2\.5' in '29x2\.5x32'.*positive whole number.*Expected a shape such as 29x29x32"),
    ("1x2x3x4x5", r"has 5 dimensions; a shape here has 1 to 4"),
    ("29xx32", r"Could not read '29xx32' as a shape"),
    ("()", r"Your answer is empty|Could not read"),
    ("height", r"Expected a shape such as 29x29x32"),
])
def test_shape_format_errors(raw, message):
    with pytest.raises(FormatError, match=message):
        parse("shape", raw)


# ---------------------------------------------------------------------------------------------
# Vectors and matrices


@pytest.mark.parametrize("raw", [
    "[2, 2, 2]", "2 2 2", "2,2,2", "(2, 2, 2)", "2; 2; 2", "[2 2 2]", "array([2, 2, 2])",
    " 2 ,2 , 2 .", "2.0, 2, 4/2", "[2, 2, 2],", "[[2, 2, 2]]", "[[2], [2], [2]]",
    "array([[2],\n       [2],\n       [2]])",
])
def test_vector_forms(raw):
    assert parse("vector", raw) == Parsed((2, 2, 2), "[2, 2, 2]")


def test_vector_keeps_signs_fractions_and_decimals():
    parsed = parse("vector", "[-3, 2, 0.5, \u22121, 1/4]")
    assert parsed.value == (-3, 2, 0.5, -1, 0.25)
    assert parsed.read_as == "[-3, 2, 0.5, -1, 0.25]"


@pytest.mark.parametrize("raw, message", [
    ("[2, two, 2]", r"Could not read 'two' in '\[2, two, 2\]' as a number.*e\.g\. \[2, 2, 2\]"),
    ("[[1, 2], [3, 4]]", r"Could not read '\[\[1, 2\], \[3, 4\]\]' as one list of numbers"),
    ("[[1, 2], [3]]", r"brackets inside"),
    ("[2, 2", r"brackets inside|Could not read"),
    ("[]", r"empty"),
])
def test_vector_format_errors(raw, message):
    with pytest.raises(FormatError, match=message):
        parse("vector", raw)


@pytest.mark.parametrize("raw", [
    "[[4,4],[4,3]]", "[[4, 4], [4, 3]]", "4 4; 4 3", "4 4\n4 3", "4, 4\n4, 3\n", "[[4 4] [4 3]]",
    "[[4 4]\n [4 3]]", "[4 4; 4 3]", "[4, 4], [4, 3]", "[4 4] [4 3]", "((4, 4), (4, 3))",
    "array([[4., 4.],\n       [4., 3.]])", "4 4;4 3;", "{{4, 4}, {4, 3}}", "4 4\r\n4 3.",
    "[[4, 4], [4, 3]],", "[4 4; 4 3];",
])
def test_matrix_forms(raw):
    assert parse("matrix", raw) == Parsed(((4, 4), (4, 3)), "[[4, 4], [4, 3]]")


@pytest.mark.parametrize("answer_type, raw, value", [
    ("integer", "= 2,800 params", 2800), ("integer", "2800 parameters", 2800),
    ("integer", "35 rows", 35), ("integer", "7 layers", 7), ("integer", "76 Weights", 76),
    ("integer", "1,040 trainable parameters", 1040), ("number", "\u2248 5.67", 5.67),
    ("number", "~5.67", 5.67), ("number", "about 5.25 units", 5.25),
])
def test_a_unit_after_a_count_and_about_before_it_are_ignored(answer_type, raw, value):
    assert read(answer_type, raw) == value


@pytest.mark.parametrize("raw", ["12 apples", "rows", "about", "2800 params params", "2 8 rows"])
def test_other_words_around_a_count_are_still_refused(raw):
    with pytest.raises(FormatError):
        parse("integer", raw)


@pytest.mark.parametrize("raw", [
    r"\begin{bmatrix} 4 & 4 \\ 4 & 3 \end{bmatrix}", r"$\begin{pmatrix}4&4\\4&3\end{pmatrix}$",
    r"4 & 4 \\ 4 & 3", r"\left[\begin{matrix} 4 & 4 \\ 4 & 3 \end{matrix}\right]",
    "A = \\begin{bmatrix} 4 & 4 \\\\ 4 & 3 \\end{bmatrix}",
])
def test_a_matrix_typed_as_latex_is_read(raw):
    assert parse("matrix", raw) == Parsed(((4, 4), (4, 3)), "[[4, 4], [4, 3]]")


def test_a_latex_matrix_with_rows_of_other_lengths_is_refused_kindly():
    with pytest.raises(FormatError, match="different lengths"):
        parse("matrix", r"\begin{bmatrix} 4 & 4 \\ 4 \end{bmatrix}")


def test_a_name_before_the_value_is_ignored():
    assert read("matrix", "A = [[4, 4], [4, 3]]") == ((4, 4), (4, 3))
    assert read("vector", "y = [5, 8]") == (5, 8)
    assert read("number", "x = 3/4") == 0.75
    with pytest.raises(FormatError, match=r"Could not read 'p =' as a whole number"):
        parse("integer", "p =")


def test_matrix_single_row_and_decimals():
    assert read("matrix", "1 2 3") == ((1, 2, 3),)
    assert parse("matrix", "[[0.5, -1], [2, 3.25]]").read_as == "[[0.5, -1], [2, 3.25]]"


@pytest.mark.parametrize("raw, message", [
    ("[[1, 2], [3]]", r"different lengths \(2, 1\); every row"),
    ("1 2 3\n4 5\n6 7 8", r"different lengths \(3, 2, 3\)"),
    ("[[[1]]]", r"nested 3 deep"),
    ("[[1, 2], [3, 4]", r"not all closed"),
    ("[[1, 2)]", r"do not match"),
    ("[1, 2] x [3, 4]", r"Could not read 'x'"),
    ("[[1, 2]] [[3, 4]]", r"one pair of outer brackets"),
    ("4 4; 4 three", r"Could not read 'three'.*e\.g\. \[\[4, 4\], \[4, 3\]\] or 4 4; 4 3"),
])
def test_matrix_format_errors(raw, message):
    with pytest.raises(FormatError, match=message):
        parse("matrix", raw)


# ---------------------------------------------------------------------------------------------
# True/false, choice, multiselect


@pytest.mark.parametrize("raw, value", [
    ("True", True), ("true", True), ("T", True), ("yes", True), ("Y", True), ("1", True),
    ("false", False), ("FALSE", False), ("f", False), ("No", False), ("0", False), (" false. ", False),
])
def test_truefalse_forms(raw, value):
    assert parse("truefalse", raw) == Parsed(value, "true" if value else "false")


def test_truefalse_format_error():
    with pytest.raises(FormatError, match=r"Could not read 'maybe' as true or false\. Expected"):
        parse("truefalse", "maybe")


@pytest.mark.parametrize("raw", [
    "sparsity of connections", "Sparsity  of CONNECTIONS.", "b", "B", "(b)", "b)", "2",
    "(b) sparsity of connections", "b. Sparsity of connections",
])
def test_choice_forms(raw):
    parsed = parse("choice", raw, options=OPTIONS)
    assert parsed == Parsed("sparsity of connections", "(b) sparsity of connections")


def test_choice_with_numeric_options_matches_values_not_positions():
    with pytest.raises(FormatError, match=r"not one of the options"):
        parse("choice", "2", options=NUMERIC_OPTIONS)
    assert read("choice", "7600", NUMERIC_OPTIONS) == "7,600"
    assert read("choice", "27000100", NUMERIC_OPTIONS) == "27,000,100"
    assert read("choice", "c", NUMERIC_OPTIONS) == "7,600"


def test_options_given_as_numbers_are_compared_as_text():
    assert parse("choice", "b", options=[121, 280]) == Parsed("280", "(b) 280")


def test_choice_unknown_option_lists_the_options():
    with pytest.raises(FormatError, match=r"'pooling' is not one of the options\. Choose one of: "
                                          r"\(a\) parameter sharing; \(b\) sparsity"):
        parse("choice", "pooling", options=OPTIONS)
    with pytest.raises(FormatError, match=r"not one of the options"):
        parse("choice", "e", options=OPTIONS)


def test_choice_without_options_keeps_the_text():
    assert parse("choice", " max pooling. ") == Parsed("max pooling", "max pooling")


@pytest.mark.parametrize("raw, chosen", [
    ("parameter sharing\nsparsity of connections", (0, 1)),
    ("sparsity of connections\nparameter sharing\n", (0, 1)),
    ("a, b", (0, 1)), ("a c", (0, 2)), ("(a), (b)", (0, 1)), ("a and d", (0, 3)), ("b", (1,)),
    ("Parameter sharing, sparsity of connections", (0, 1)),
    ("stride 2, padding 1", (3,)),
    ("parameter sharing, stride 2, padding 1", (0, 3)),
    ("stride 2, padding 1\nparameter sharing", (0, 3)),
    ("a, a, b", (0, 1)),
    ("parameter sharing,, sparsity of connections,", (0, 1)),
    ("(a) parameter sharing; (d) stride 2, padding 1", (0, 3)),
    ("stride 2, padding 1; sparsity of connections", (1, 3)),
])
def test_multiselect_forms(raw, chosen):
    parsed = parse("multiselect", raw, options=OPTIONS)
    assert parsed.value == tuple(OPTIONS[i] for i in chosen)
    assert parsed.read_as == "; ".join(f"({'abcd'[i]}) {OPTIONS[i]}" for i in chosen)


@pytest.mark.parametrize("raw, message", [
    ("pooling\nparameter sharing", r"Could not match 'pooling' to an option\. The options are"),
    ("a, z", r"Could not match 'z'"),
    ("", r"Your answer is empty\. Expected the options that apply"),
    (" , ;", r"Choose at least one option\. Expected the options that apply"),
])
def test_multiselect_format_errors(raw, message):
    with pytest.raises(FormatError, match=message):
        parse("multiselect", raw, options=OPTIONS)


def test_multiselect_without_options_splits_lines():
    assert read("multiselect", "one\ntwo\n\none") == ("one", "two")


# ---------------------------------------------------------------------------------------------
# Hints, canonical forms, unknown types


def test_every_type_has_a_hint_with_an_example():
    for answer_type in ANSWER_TYPES:
        assert "e.g." in answer_hint(answer_type) or answer_type == "truefalse", answer_type
    assert answer_hint("shape") == "Height x width x channels, e.g. 29x29x32 or (29, 29, 32)"


def test_unknown_answer_type_is_a_programming_error():
    with pytest.raises(ValueError, match=r"unknown answer type 'fraction'"):
        parse("fraction", "1/2")
    with pytest.raises(ValueError, match=r"unknown answer type"):
        answer_hint("essay")


def test_non_text_is_a_format_error():
    with pytest.raises(FormatError, match=r"must be text, got int"):
        parse("integer", 12)


@pytest.mark.parametrize("answer_type, value, text", [
    ("integer", 27000100, "27,000,100"),
    ("number", 3.75, "3.75"),
    ("shape", [29, 29, 32], "29 x 29 x 32"),
    ("vector", [2, 5, 8, 3], "[2, 5, 8, 3]"),
    ("matrix", [[4, 4], [4, 3]], "[[4, 4], [4, 3]]"),
    ("truefalse", False, "false"),
    ("choice", "sparsity of connections", "(b) sparsity of connections"),
    ("multiselect", ["parameter sharing", "sparsity of connections"],
     "(a) parameter sharing; (b) sparsity of connections"),
])
def test_format_value_is_the_read_as_form(answer_type, value, text):
    assert format_value(answer_type, value, OPTIONS) == text
    assert parse(answer_type, text, options=OPTIONS).read_as == text


# ---------------------------------------------------------------------------------------------
# Properties: any text gives a value or a FormatError; echoes read back to the same value

ANSWER_ALPHABET = st.sampled_from(list(
    "0123456789012345,.; \n\t-+−×xX*^/()[]{}eE_'TtFfabc" "\u00a0\u202f"
) + ["10^", "1e", "999999", "array(", "np.", "by", "**", "yes", "\u00b2", "\u207b"])
ANSWERISH = st.lists(ANSWER_ALPHABET, max_size=40).map("".join)


def _value_or_format_error(answer_type: str, raw: str, options) -> None:
    try:
        parsed = parse(answer_type, raw, options=options)
    except FormatError as error:
        assert "Expected" in str(error) or "options" in str(error)
        return
    assert isinstance(parsed, Parsed)
    assert isinstance(parsed.read_as, str) and parsed.read_as


@pytest.mark.parametrize("answer_type", ANSWER_TYPES)
@given(raw=st.text(max_size=60))
def test_any_text_gives_a_value_or_a_format_error(answer_type, raw):
    options = OPTIONS if answer_type in ("choice", "multiselect") else None
    _value_or_format_error(answer_type, raw, options)


@pytest.mark.parametrize("answer_type", ANSWER_TYPES)
@given(raw=ANSWERISH)
def test_answer_like_text_gives_a_value_or_a_format_error(answer_type, raw):
    options = NUMERIC_OPTIONS if answer_type in ("choice", "multiselect") else None
    _value_or_format_error(answer_type, raw, options)


@pytest.mark.parametrize("answer_type", ANSWER_TYPES)
@given(raw=ANSWERISH)
def test_read_as_reads_back_to_the_same_value(answer_type, raw):
    options = OPTIONS if answer_type in ("choice", "multiselect") else None
    try:
        first = parse(answer_type, raw, options=options)
    except FormatError:
        return
    again = parse(answer_type, first.read_as, options=options)
    if answer_type in ("number", "vector", "matrix"):  # echoes show 12 significant digits
        assert _flatten(again.value) == pytest.approx(_flatten(first.value), rel=1e-11)
    else:
        assert again.value == first.value


@given(st.integers(min_value=-(10**30), max_value=10**30))
def test_integers_read_in_every_written_form(n):
    for text in (str(n), f"{n:,}", f"{n:_}", f"{n:,}".replace(",", " ")):
        assert read("integer", text) == n
    assert read("integer", f"{Decimal(n):.30e}") == n


@given(st.lists(st.integers(1, 10**6), min_size=1, max_size=4),
       st.sampled_from(["x", " x ", "×", ", ", " ", "*"]), st.booleans())
def test_shapes_read_with_any_separator(dims, separator, bracketed):
    text = separator.join(map(str, dims))
    if bracketed:
        text = f"({text})"
    assert read("shape", text) == tuple(dims)


@given(st.lists(st.lists(st.integers(-999, 999), min_size=2, max_size=2), min_size=1,
                max_size=4))
def test_matrices_read_in_every_notation(rows):
    expected = tuple(tuple(row) for row in rows)
    notations = (
        str(rows),
        "; ".join(" ".join(map(str, row)) for row in rows),
        "\n".join(", ".join(map(str, row)) for row in rows),
        "[" + " ".join("[" + " ".join(map(str, row)) + "]" for row in rows) + "]",
    )
    for text in notations:
        assert read("matrix", text) == expected


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e250, max_value=1e250))
def test_floats_read_from_their_repr(x):
    assert read("number", repr(x)) == x


NUMBERISH = st.tuples(
    st.sampled_from(["", "-", "+", "\u2212"]),
    st.sampled_from(["0", "1", "9", "10", "2.5", ".5", "999999", "1,000", "0.0001"]),
    st.sampled_from(["e", "E", "^", "**", " x 10^", "*10^", "/", "e-", "^-"]),
    st.integers(0, 10**12).map(str),
).map("".join)


@pytest.mark.parametrize("answer_type", ["integer", "number", "vector", "matrix"])
@given(raw=NUMBERISH)
def test_huge_and_tiny_powers_are_values_or_size_errors(answer_type, raw):
    try:
        parsed = parse(answer_type, raw)
    except FormatError as error:
        assert re.search(r"too large|too many digits|denominator|negative power|not a whole "
                         r"number|Could not read", str(error)), str(error)
        assert "Expected" in str(error)
        return
    assert all(abs(v) < 10**300 for v in _flatten(parsed.value))


def _flatten(value):
    if isinstance(value, (list, tuple)):
        return [x for item in value for x in _flatten(item)]
    return [value]


# ---------------------------------------------------------------------------------------------
# The registry: one object per answer type

VALID_VALUES = {
    "integer": 27000100, "number": 0.75, "shape": [29, 29, 32], "vector": [2, -1.5, 3],
    "matrix": [[4, 4], [4, 3]], "choice": OPTIONS[1], "multiselect": [OPTIONS[0], OPTIONS[3]],
    "truefalse": False,
}


def test_every_answer_type_is_registered_under_its_own_name():
    from grader.answers import REGISTRY, lookup

    assert tuple(REGISTRY) == ANSWER_TYPES == (
        "integer", "number", "shape", "vector", "matrix", "choice", "multiselect", "truefalse")
    for name in ANSWER_TYPES:
        kind = lookup(name)
        assert kind.name == name
        assert kind.hint == answer_hint(name)
        assert kind.expected.startswith("Expected")
    with pytest.raises(ValueError, match=r"unknown answer type 'essay'; expected one of integer"):
        lookup("essay")


@pytest.mark.parametrize("answer_type", ANSWER_TYPES)
def test_each_type_reads_back_what_it_writes(answer_type):
    from grader.answers import GradingRules, Tolerance, lookup

    kind = lookup(answer_type)
    value = VALID_VALUES[answer_type]
    assert kind.valid(value)
    parsed = parse(answer_type, kind.format(value, OPTIONS), options=OPTIONS)
    assert kind.same(parsed.value, value, Tolerance(0.0, 0.0))
    assert kind.score(parsed.value, value, Tolerance(0.0, 0.0), GradingRules()) == 1.0


@pytest.mark.parametrize("answer_type, value", [
    ("integer", 2.5), ("integer", True), ("number", float("inf")), ("shape", [29, 0]),
    ("vector", []), ("matrix", [[1, 2], [3]]), ("choice", 3), ("multiselect", []),
    ("truefalse", 1),
])
def test_values_that_are_not_of_the_type_are_not_valid(answer_type, value):
    from grader.answers import lookup

    assert not lookup(answer_type).valid(value)


# --- forms students type: pass 2 (tests/data/wrong_answers2.yaml) ------------------------------


@pytest.mark.parametrize(("answer_type", "raw", "value"), [
    ("number", "3 3/4", 3.75),
    ("number", "−3 3/4", -3.75),
    ("integer", "27 million", 27_000_000),
    ("integer", "7.38 million", 7_380_000),
    ("integer", "2.5 Thousand", 2500),
    ("integer", "none", 0),
    ("integer", "zero parameters", 0),
    ("integer", "five", 5),
    ("number", "24 square units", 24),
    ("number", "24 units²", 24),
])
def test_numbers_in_words_mixed_and_with_an_area_unit(answer_type, raw, value):
    assert read(answer_type, raw) == value


@pytest.mark.parametrize(("answer_type", "raw"), [
    ("number", "3 4/3"),          # not a proper fraction: no mixed number
    ("vector", "[2, two, 2]"),    # words only as a whole answer
    ("integer", "million"),       # a magnitude needs its number
])
def test_what_only_looks_like_those_forms_is_refused(answer_type, raw):
    with pytest.raises(FormatError):
        parse(answer_type, raw)


SHAPES = ["a rectangle", "a triangle", "a trapezoid (rising ramp, flat top, falling ramp)"]
EDGES = ["vertical edges, bright on the left", "vertical edges, dark on the left"]
KERNELS = [r"$ \begin{bmatrix} 1 & 2 \\ 3 & 4 \end{bmatrix} $",
           r"$ \begin{bmatrix} 4 & 3 \\ 2 & 1 \end{bmatrix} $"]


def test_an_option_is_named_by_a_word_of_its_text_only_when_one_option_has_it():
    assert read("choice", "trapezoid", SHAPES) == SHAPES[2]
    assert read("choice", "Triangle.", SHAPES) == SHAPES[1]
    with pytest.raises(FormatError, match="not one of the options"):
        parse("choice", "vertical edges", options=EDGES)
    with pytest.raises(FormatError):
        parse("choice", "tri", options=SHAPES)  # part of a word names nothing


def test_a_matrix_option_is_named_by_the_matrix_in_any_notation():
    assert read("choice", "[[4, 3], [2, 1]]", KERNELS) == KERNELS[1]
    assert read("choice", "1 2; 3 4", KERNELS) == KERNELS[0]
    with pytest.raises(FormatError):
        parse("choice", "[[1, 2], [3, 5]]", options=KERNELS)


def test_multiselect_letters_typed_together():
    options = ["p", "q", "r", "s"]
    assert read("multiselect", "abd", options) == ("p", "q", "s")
    assert read("multiselect", "CA", options) == ("p", "r")
    for raw in ("abz", "aab"):  # a letter with no option, a letter twice
        with pytest.raises(FormatError):
            parse("multiselect", raw, options=options)
