"""Phone numbers for SMS: one E.164 form in, masked forms out to logs.

Rosters are typed by hand, in Persian or English digits, with spaces, dashes and
every prefix Iranians use: "0912 345 6789", "۰۹۱۲-۳۴۵-۶۷۸۹", "+98 912 345 6789",
"0098 912…", "98912…", "912…". YAML may even hand us ``9123456789`` as an int,
its leading zero gone. ``normalize_phone`` takes them all and hands back
"+989123456789", or refuses with an example of what it wants.
"""

from __future__ import annotations

import functools
import re

import phonenumbers

from crisisd.formats.timefmt import ascii_digits

# Spaces of every width, ZWNJ, dashes, dots, slashes and brackets people put in numbers.
_SEPARATORS = re.compile(r"[\s\u200c\u200e\u200f\u2010-\u2015\-.()/\[\]]+")
_EXAMPLES = {
    "IR": "0912 345 6789 or +98 912 345 6789",
}


def normalize_phone(raw: str | int, region: str = "IR") -> str:
    """``raw`` as an E.164 number, e.g. "+989123456789"; ``ValueError`` if it is not a real one.

    ``region`` is the country assumed for numbers written without a country code.
    The number must be *valid* (an assigned range), not merely of plausible length.
    """
    region = region.upper()
    # Anything else YAML hands over (a float, a bool) is read as text and fails below.
    text = _SEPARATORS.sub("", ascii_digits(str(raw)))
    if text.startswith("00"):
        text = "+" + text[2:]
    if not text or not re.fullmatch(r"\+?[0-9]+", text):
        raise ValueError(_invalid(raw, region))
    country_code = phonenumbers.country_code_for_region(region)
    if country_code == 0:
        raise ValueError(f"{region!r} is not a region code — write e.g. IR")
    fast = _mobile_e164(text, region, str(country_code))
    if fast is not None:
        return fast
    return _parsed_e164(text, raw, region, country_code)


def _parsed_e164(text: str, raw: str | int, region: str, country_code: int) -> str:
    """The general path: phonenumbers parses and validates ``text``."""
    candidates = [text]
    if not text.startswith("+") and text.startswith(str(country_code)):
        # "98912…" with the "+" lost; tried after the national reading, which wins if valid.
        candidates.append("+" + text)
    for candidate in candidates:
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    raise ValueError(_invalid(raw, region))


@functools.cache
def _mobile_desc(region: str) -> tuple[str, re.Pattern[str], frozenset[int]] | None:
    """The region's national prefix, and the pattern and lengths a mobile number matches
    (phonenumbers' own metadata: its general and its mobile description, both)."""
    md = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if md is None or md.mobile is None or md.general_desc is None:
        return None
    general, mobile = md.general_desc, md.mobile
    if not (general.national_number_pattern and mobile.national_number_pattern):
        return None
    if md.national_prefix_for_parsing not in (None, md.national_prefix):
        return None  # a prefix rule of its own: leave such regions to phonenumbers
    pattern = re.compile(
        f"(?=(?:{general.national_number_pattern})$)(?:{mobile.national_number_pattern})"
    )
    lengths = frozenset(general.possible_length) & frozenset(mobile.possible_length)
    return md.national_prefix or "", pattern, lengths


def _mobile_e164(text: str, region: str, cc: str) -> str | None:
    """The E.164 form of a mobile number written the usual ways ("0912…", "+98912…",
    "912…"), or None to let phonenumbers decide. It answers only where phonenumbers
    would give the same answer, and is what makes a 100,000-contact directory load fast."""
    desc = _mobile_desc(region)
    if desc is None:
        return None
    prefix, pattern, lengths = desc
    if text.startswith("+" + cc):
        national = text[len(cc) + 1 :]
    elif prefix and text.startswith(prefix):
        national = text[len(prefix) :]
    elif text[0] != "+" and not text.startswith(cc):  # "98…" may carry the country code
        national = text
    else:
        return None
    if len(national) in lengths and pattern.match(national):
        return f"+{cc}{national}"
    return None


def is_landline(e164: str, region: str = "IR") -> bool:
    """Whether a valid number (``normalize_phone``'s output) is a fixed line: no SMS.

    A mobile number of ``region`` is told without parsing (phonenumbers would call it
    MOBILE or FIXED_LINE_OR_MOBILE); any other is left to phonenumbers' number type.
    """
    cc = str(phonenumbers.country_code_for_region(region.upper()))
    if e164.startswith("+" + cc) and _mobile_e164(e164, region.upper(), cc) == e164:
        return False
    number = phonenumbers.parse(e164)
    return phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.FIXED_LINE


def mask_phone(e164: str) -> str:
    """A number fit for logs: country code and operator prefix, then "***", then the last 4.

    "+989123456789" becomes "+98912***6789". Short or odd input keeps only its last 2.
    """
    digits = e164.removeprefix("+")
    if len(digits) < 10 or not digits.isdigit():
        return "***" + e164[-2:] if len(e164) > 4 else "***"
    return f"+{digits[:5]}***{digits[-4:]}"


def _invalid(raw: object, region: str) -> str:
    example = _EXAMPLES.get(region)
    if example is None:
        example = _example_for(region)
    return f"{raw!r} is not a valid phone number for {region} — write e.g. {example}"


def _example_for(region: str) -> str:
    number = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    if number is None:
        return "+<country code> <number>"
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
