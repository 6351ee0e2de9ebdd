"""Integer and number answers: the one home of reading, writing and judging one number.

Numbers are read exactly (as fractions) so that ``2.7e7`` counts as the integer 27000000;
thousands separators (``27,000,100``, ``27 000 100``, ``27_000_100``) are accepted outside
vectors and matrices. Feedback says how far off a number is without giving the answer away.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from grader.answers.base import AnswerType, Parsed, Tolerance, shown
from grader.errors import FormatError

MAX_DIGITS = 400         # digits of one written number
MAX_EXPONENT = 400       # |k| in 1e{k} or 10^{k}
MAX_MAGNITUDE = Fraction(10) ** 300
ORDERS_OF_MAGNITUDE = 1000  # from this factor on, feedback names a missing step, not a size

_SPACES = " \u00a0\u202f\u2009"
_GROUPED_INT = (
    r"[0-9]{1,3}(?:,[0-9]{3})+|[0-9]{1,3}(?:_[0-9]{3})+|"
    rf"[0-9]{{1,3}}(?:[{_SPACES}][0-9]{{3}})+|[0-9]+"
)
_POWER = r"[+-]?[0-9]+|\([+-]?[0-9]+\)|\{[+-]?[0-9]+\}"


def _scalar_regex(grouped: bool) -> re.Pattern[str]:
    integer = _GROUPED_INT if grouped else r"[0-9]+"
    mantissa = rf"(?:{integer})(?:\.[0-9]*)?|\.[0-9]+"
    return re.compile(
        rf"(?P<sign>[+-]?)(?P<mant>{mantissa})"
        rf"(?:[eE](?P<exp>[+-]?[0-9]+)"
        rf"|\^(?P<pow>{_POWER})"
        rf"|[*×·xX]10\^(?P<sci>{_POWER})"
        rf"|/(?P<den>[0-9]+(?:\.[0-9]*)?|\.[0-9]+))?"
    )


_SCALAR_GROUPED = _scalar_regex(grouped=True)
_SCALAR_PLAIN = _scalar_regex(grouped=False)
_MINUSES = str.maketrans({"\u2212": "-", "\u2013": "-", "\u2014": "-", "\uff0d": "-"})
_SUPERSCRIPT_CHARS = "\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079\u207b\u207a"
_SUPERSCRIPTS = str.maketrans(_SUPERSCRIPT_CHARS, "0123456789-+")


def normalize_scalar(text: str) -> str:
    """Unify minus signs and powers (10**12, 10¹²), and drop spaces around operators and after
    a sign."""
    text = text.translate(_MINUSES).replace("**", "^")
    text = re.sub(f"[{_SUPERSCRIPT_CHARS}]+", lambda m: "^" + m[0].translate(_SUPERSCRIPTS), text)
    text = re.sub(r"\s*([*×·^/])\s*", r"\1", text)
    text = re.sub(r"\s*([xX])\s*(?=10\^)", r"\1", text)
    return re.sub(r"^([+-])\s+", r"\1", text)


# A whole number and a proper fraction, "3 3/4" or "6 1/4" (the sign covers both).
_MIXED = re.compile(r"(?P<sign>[+-]?)(?P<whole>[0-9]{1,6})\s+(?P<num>[0-9]{1,6})/(?P<den>[0-9]{1,6})")
# A count said in words after its number: "27 million", "7.38 million", "2.5 thousand".
_MAGNITUDES = {"thousand": 10 ** 3, "million": 10 ** 6, "billion": 10 ** 9, "trillion": 10 ** 12}
_MAGNITUDE = re.compile(rf"(?P<number>.*?[0-9.])\s*(?P<word>{'|'.join(_MAGNITUDES)})",
                        re.IGNORECASE)
# Numbers spelled out, as one whole answer (not inside a vector): "zero", "none" (a count of
# nothing), "five".
_WORDS = {word: i for i, word in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve".split())}
_WORDS["none"] = 0


def read_scalar(text: str, *, grouped: bool) -> Fraction | None:
    """The exact value of one written number, or None when it is not one.

    Besides digits (with an exponent, a power of ten or a fraction), a mixed number ("3 3/4")
    and a magnitude word ("27 million") are read.
    Raises FormatError (without the expected-form sentence) when it is a number but too large.
    """
    text = normalize_scalar(text)
    mixed = _MIXED.fullmatch(text)
    if mixed is not None and 0 < int(mixed["num"]) < int(mixed["den"]):
        value = int(mixed["whole"]) + Fraction(int(mixed["num"]), int(mixed["den"]))
        return -value if mixed["sign"] == "-" else value
    magnitude = _MAGNITUDE.fullmatch(text)
    if magnitude is not None:
        value = read_scalar(magnitude["number"], grouped=grouped)
        return None if value is None else value * _MAGNITUDES[magnitude["word"].casefold()]
    match = (_SCALAR_GROUPED if grouped else _SCALAR_PLAIN).fullmatch(text)
    if match is None:
        return None
    value = _decimal(match["mant"])
    if match["exp"] is not None:
        value *= Fraction(10) ** _exponent(match["exp"])
    elif match["pow"] is not None:
        value = _power(value, _exponent(match["pow"]))
    elif match["sci"] is not None:
        value *= Fraction(10) ** _exponent(match["sci"])
    elif match["den"] is not None:
        denominator = _decimal(match["den"])
        if denominator == 0:
            raise FormatError("A fraction cannot have 0 as its denominator.")
        value /= denominator
    if abs(value) >= MAX_MAGNITUDE:
        raise FormatError("That number is too large to grade (at most 10^300).")
    return -value if match["sign"] == "-" else value


def _decimal(text: str) -> Fraction:
    digits = re.sub(rf"[,_{_SPACES}]", "", text)
    whole, _, frac = digits.partition(".")
    if len(whole) + len(frac) > MAX_DIGITS:
        raise FormatError(f"That number has too many digits (at most {MAX_DIGITS}).")
    return Fraction(int(whole + frac or "0"), 10 ** len(frac))


def _exponent(text: str) -> int:
    digits = text.strip("(){}")
    if len(digits.lstrip("+-")) > 6 or abs(int(digits)) > MAX_EXPONENT:
        raise FormatError(
            f"The exponent in that number is too large (at most {MAX_EXPONENT} either way)."
        )
    return int(digits)


def _power(base: Fraction, exponent: int) -> Fraction:
    if base == 0:
        if exponent < 0:
            raise FormatError("0 to a negative power is not a number.")
        return Fraction(int(exponent == 0))
    size = len(str(base.numerator)) + len(str(base.denominator))
    digits = abs(math.log10(abs(base.numerator)) - math.log10(base.denominator))
    if digits * abs(exponent) > 2 * MAX_EXPONENT or size * abs(exponent) > 20_000:
        raise FormatError("That power is too large to grade (at most 10^300).")
    return base ** exponent


def checked_scalar(text: str, kind: AnswerType, *, grouped: bool, words: bool = False
                   ) -> Fraction | None:
    """:func:`read_scalar` with the expected form of ``kind`` added to its size errors;
    ``words``: a small number spelled out ("five", "none") is read too."""
    spelled = _WORDS.get(text.strip().casefold()) if words else None
    if spelled is not None:
        return Fraction(spelled)
    try:
        return read_scalar(text, grouped=grouped)
    except FormatError as error:
        raise kind.fail(str(error)) from None


def format_number(value: Any, *, grouped: bool) -> str:
    """A number as people write it: 27,000,100, 0.75, 2.5e-07, -3."""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return f"{value:,}" if grouped else str(value)
    number = float(value)
    if not math.isfinite(number):
        return str(number)
    if number.is_integer() and abs(number) < 1e15:
        return format_number(int(number), grouped=grouped)
    text = format(number, ".12g")
    mantissa, e, exponent = text.partition("e")
    return mantissa + (f"e{int(exponent)}" if e else "")


def integral(value: Any) -> Any:
    """An integral float as an int; anything else as is."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def is_real(value: Any) -> bool:
    """An int or float that is not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# ---------------------------------------------------------------------------------------------
# The two types


class _Scalar(AnswerType):
    """What integer and number answers share: one value, compared within a tolerance."""

    labelled = True
    noun = "number"
    decimals = True  # a format error about commas suggests a decimal point

    def format(self, value: Any, options: Sequence[str] | None) -> str:
        return format_number(value, grouped=True)

    def same(self, given: Any, expected: Any, tolerance: Tolerance) -> bool:
        return tolerance.close(given, expected)

    def feedback(self, given: Any, expected: Any, tolerance: Tolerance, score: float) -> str:
        return number_feedback(given, expected)

    def not_one_number(self, text: str) -> FormatError:
        """The most helpful FormatError for text that is not one number."""
        normalized = normalize_scalar(text)
        if re.fullmatch(r"[+-]?[0-9]+(?:,[0-9]+)+(?:\.[0-9]*)?", normalized):
            decimal = "; for a decimal use a point, e.g. 1.5" if self.decimals else ""
            return self.fail(
                f"Could not read {shown(text)} as one {self.noun}: commas only separate "
                "thousands (groups of three digits). Did you mean one number? Write it without "
                f"commas, e.g. 27000100{decimal}."
            )
        if re.fullmatch(r"[+-]?[0-9]{1,3}(?:\.[0-9]{3}){2,}", normalized):
            return self.fail(
                f"Could not read {shown(text)}: group thousands with commas or not at all, "
                "e.g. 27,000,100 or 27000100."
            )
        if re.fullmatch(r"[+-]?[0-9.]+(?:\s+[0-9.]+)+", normalized):
            return self.fail(
                f"Could not read {shown(text)} as one {self.noun}: it looks like several "
                "numbers. Write one number without spaces, e.g. 27000100."
            )
        return self.fail(f"Could not read {shown(text)} as a {self.noun}.")


class IntegerType(_Scalar):
    name = "integer"
    noun = "whole number"
    decimals = False
    expected = "Expected one whole number, e.g. 27000100, 27,000,100, 2.7e7 or 10^12."
    hint = "A whole number, e.g. 27000100, 27,000,100, 2.7e7 or 10^12"

    def parse(self, text: str, options: Sequence[str] | None) -> Parsed:
        value = checked_scalar(text, self, grouped=True, words=True)
        if value is None:
            raise self.not_one_number(text)
        if value.denominator != 1:
            dotted = re.fullmatch(r"([+-]?[0-9]{1,3})\.([0-9]{3})", text)
            meant = f" If you meant {dotted[1]},{dotted[2]}, write it with a comma or none." if (
                dotted) else ""
            raise self.fail(f"{shown(text)} is not a whole number.{meant}")
        number = int(value)
        return Parsed(number, format_number(number, grouped=True))

    def normalize(self, value: Any) -> Any:
        return integral(value)

    def valid(self, value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    def exact(self, expected: Any) -> bool:
        return True


class NumberType(_Scalar):
    name = "number"
    expected = "Expected one number, e.g. 0.75, 3/4, -2.5e-3 or 2.7 x 10^7."
    hint = "A number, e.g. 0.75, 3/4, -2.5e-3 or 2.7 x 10^7"

    def parse(self, text: str, options: Sequence[str] | None) -> Parsed:
        if text.endswith("%"):
            raise self.fail(
                f"Could not read {shown(text)}: write a plain number instead of a percentage, "
                "e.g. 0.25 for 25%."
            )
        value = checked_scalar(text, self, grouped=True, words=True)
        if value is None:
            raise self.not_one_number(text)
        number = float(value)
        return Parsed(number, format_number(number, grouped=True))

    def valid(self, value: Any) -> bool:
        return is_real(value) and (isinstance(value, int) or math.isfinite(value))


# ---------------------------------------------------------------------------------------------
# Feedback: how far off, without giving the answer away


def number_feedback(given: Any, expected: Any) -> str:
    if not isinstance(given, (int, float)) or not isinstance(expected, (int, float)):
        return "Not right."
    if expected == 0 or given == 0:
        return f"Not right: your answer is too {'large' if given > expected else 'small'}."
    if (given > 0) != (expected > 0):
        return "Not right: check the sign, and the size, of your answer."
    direction = "large" if abs(given) > abs(expected) else "small"
    big, small = sorted((abs(given), abs(expected)), reverse=True)
    factor = min(big / small, 1e300)  # 0.25 / 5e-324 is inf
    if factor < 1.5:
        return (f"Not right: your answer is a little too {direction}: recheck the small steps "
                "(a + 1, a rounding, the biases).")
    if factor >= ORDERS_OF_MAGNITUDE:
        step = ("if the question asks for a logarithm, take it, and check that each count is "
                "multiplied in only once") if direction == "large" else (
                "check that every count (channels, filters, units) is multiplied in, and take a "
                "logarithm only where the question asks for one")
        return (f"Not right: your answer is too {direction} by orders of magnitude (a factor of "
                f"more than 1,000), so a whole step is off: {step}.")
    return (f"Not right: your answer is too {direction} by "
            f"{_factor_phrase(given, expected, factor)}. Check the step that multiplies or "
            "divides by a count.")


def _factor_phrase(given: float, expected: float, factor: float) -> str:
    """ "a factor of about 3", or a range such as "a factor of between 2 and 5" when the rounded
    factor would give the answer away (given x 3 being the answer)."""
    if factor >= 1e300:
        return "a factor of more than 10^300"
    text, rounded = _about(factor)
    estimate = abs(given) / rounded if abs(given) > abs(expected) else abs(given) * rounded
    precision = max(0.01 * abs(expected), 0.5 if isinstance(expected, int) else 0.0)
    if abs(estimate - abs(expected)) > precision:
        return f"a factor of about {text}"
    for low, high in ((1.5, 2), (2, 5), (5, 10), (10, 100)):
        if factor < high:
            return f"a factor of between {low:g} and {high}"
    return "a factor of more than 100"


def _about(factor: float) -> tuple[str, float]:
    """A factor rounded (to halves below 10, then to one significant figure, then to a power of
    ten) as text and value."""
    if factor < 10:
        rounded = round(factor * 2) / 2
        return f"{rounded:g}", rounded
    if factor < 1000:
        digits = 10 ** int(math.floor(math.log10(factor)))
        value = round(factor / digits) * digits
        return f"{value:,}", float(value)
    power = round(math.log10(factor))
    return f"10^{power}", 10.0**power


INTEGER, NUMBER = IntegerType(), NumberType()
