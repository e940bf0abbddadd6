"""Phone numbers as callers, agents and CSV files write them -> one canonical form (pure).

Real numbers become E.164 (`+8613912345678`, `+868275551234`); internal extensions become
`ext:8001`, a form no dialled number can take, so the two never collide in the directory.
"""

from __future__ import annotations

import re
import unicodedata

import phonenumbers

from hotline.errors import BadRequest

EXTENSION_PREFIX = "ext:"
_EXTENSION = re.compile(r"[1-9][0-9]{2,4}")  # 3-5 digits; a leading 0 is the trunk prefix
_SEPARATORS = str.maketrans("", "", " \t-.()/")
_DIGITS = frozenset("0123456789")
_MAX_DIGITS = 15  # E.164's limit; longer is never a phone number
# What Asterisk, SIP trunks and the AMI put in the caller id when the number is withheld.
_WITHHELD = frozenset({"", "unknown", "anonymous", "restricted", "private", "unavailable", "withheld", "asterisk"})


class BadNumber(BadRequest):
    """This is not a phone number."""

    error_id = "bad_number"

    def __init__(self, raw: str, reason: str) -> None:
        self.reason = reason
        super().__init__(f"{raw!r} is not a phone number: {reason}", number=raw, reason=reason)


def normalise(raw: str, *, default_area_code: str = "0827") -> str:
    """The canonical form of `raw`; raises BadNumber with the reason for anything else.

    Local numbers of 7-8 digits get `default_area_code`; 3-5 digits are an extension.
    """
    # NFKC turns full-width digits and brackets (what a Chinese keyboard types) into ASCII.
    text = unicodedata.normalize("NFKC", raw).strip()
    if text[: len(EXTENSION_PREFIX)].lower() == EXTENSION_PREFIX:
        return _extension(raw, text[len(EXTENSION_PREFIX) :].strip())
    # "(+86) 139 ..." is a common way to write the country code.
    plus = text.lstrip("( ").startswith("+")
    digits = _digits(raw, text.lstrip("( ")[1:] if plus else text)
    if plus or digits.startswith("00"):
        return _international(raw, digits if plus else digits[2:])
    # 86 + a national number is 12 or more digits; a local number starting 86 is 7-8.
    if digits.startswith("86") and len(digits) >= 12:
        return _e164(raw, "+" + digits)
    if len(digits) <= 5:
        return _extension(raw, digits)
    if digits[0] in "01" or len(digits) > 8:
        # Spelled out as +86 so phonenumbers never reads a mobile's 1 as a carrier
        # prefix (1790 ... 00): a national number is never anything else.
        return _e164(raw, "+86" + digits.removeprefix("0"))
    if len(digits) == 6:
        raise BadNumber(raw, "6 digits: too long for an extension (3-5), too short for a local number (7-8)")
    area = area_code(default_area_code)
    try:
        return _e164(raw, "+86" + area[1:] + digits)
    except BadNumber:
        raise BadNumber(raw, f"not a valid local number for area code {area}") from None


def for_display(canonical: str) -> str:
    """How a person reads it: national format for Chinese numbers, the extension's digits."""
    if canonical.startswith(EXTENSION_PREFIX):
        return canonical[len(EXTENSION_PREFIX) :]
    number = phonenumbers.parse(canonical, None)
    style = phonenumbers.PhoneNumberFormat.NATIONAL if number.country_code == 86 else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    return phonenumbers.format_number(number, style)


def is_withheld(raw: str | None) -> bool:
    """Whether a caller id says "no number" (`unknown`, `anonymous`, `<unknown>`, empty ...)."""
    return raw is None or raw.strip().strip("<>").strip().lower() in _WITHHELD


def _digits(raw: str, text: str) -> str:
    if not text:
        raise BadNumber(raw, "it is empty")
    if "+" in text:
        raise BadNumber(raw, "a + is allowed only at the start")
    digits = text.translate(_SEPARATORS)
    strange = sorted(set(digits) - _DIGITS)
    if strange:
        raise BadNumber(raw, f"it contains {''.join(strange)!r}; only digits, a leading +, spaces, dashes, dots and parentheses are allowed")
    if not digits:
        raise BadNumber(raw, "it has no digits")
    if len(digits) > _MAX_DIGITS + 2:  # + 2: a 00 international prefix
        raise BadNumber(raw, f"{len(digits)} digits is too long for a phone number")
    return digits


def _international(raw: str, digits: str) -> str:
    if digits.startswith("0"):
        raise BadNumber(raw, "unknown country code (none starts with 0)")
    if len(digits) < 4:  # the shortest country code and subscriber number
        raise BadNumber(raw, "too short after the international prefix")
    return _e164(raw, "+" + digits)


def _extension(raw: str, digits: str) -> str:
    if not _EXTENSION.fullmatch(digits):
        if len(digits) < 3 and set(digits) <= _DIGITS:
            raise BadNumber(raw, f"{len(digits)} digits is too short (an extension has 3-5)")
        raise BadNumber(raw, "an extension is 3 to 5 digits, not starting with 0")
    return EXTENSION_PREFIX + digits


def _e164(raw: str, text: str) -> str:
    try:
        number = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException as exc:
        raise BadNumber(raw, _parse_reason(exc)) from None
    if not phonenumbers.is_valid_number(number):
        where = "China" if number.country_code == 86 else f"country code +{number.country_code}"
        raise BadNumber(raw, f"not a valid number in {where}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _parse_reason(exc: phonenumbers.NumberParseException) -> str:
    reasons = {
        phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
        phonenumbers.NumberParseException.TOO_SHORT_NSN: "too short",
        phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too short after the international prefix",
        phonenumbers.NumberParseException.TOO_LONG: "too long",
    }
    return reasons.get(exc.error_type, "not a phone number")


def area_code(code: str) -> str:
    """`code` as dialled with its trunk 0 (`827` -> `0827`); ValueError if it is no area code."""
    digits = code.strip().lstrip("0")
    if not (2 <= len(digits) <= 3 and digits.isascii() and digits.isdigit()):
        raise ValueError(f"default area code {code!r} is not a Chinese area code such as 0827")
    return "0" + digits
