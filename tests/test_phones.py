"""Phone numbers from hand-typed rosters into E.164, and masked for logs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crisisd.formats.phones import is_landline, mask_phone, normalize_phone
from crisisd.formats.timefmt import fa_digits

MOBILE = "+989120001234"


@pytest.mark.parametrize(
    "raw",
    [
        "09120001234",
        "0912 000 1234",
        "0912-000-1234",
        "(0912) 000 1234",
        "9120001234",
        9120001234,
        "+98 912 000 1234",
        "+98 (0) 912 000 1234",
        "0098 912 000 1234",
        "00989120001234",
        "989120001234",
        989120001234,
        "۰۹۱۲ ۰۰۰ ۱۲۳۴",
        "٠٩١٢٠٠٠١٢٣٤",
        "\u200e0912\u00a0000\u00a01234",
    ],
)
def test_iranian_mobile_in_every_form(raw: str | int) -> None:
    assert normalize_phone(raw) == MOBILE


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0935 000 1234", "+989350001234"),
        ("0901 123 4567", "+989011234567"),
        ("0990 123 4567", "+989901234567"),
        ("021 8877 6655", "+982188776655"),
        ("+98 21 8877 6655", "+982188776655"),
        ("۰۲۱-۸۸۷۷۶۶۵۵", "+982188776655"),
    ],
)
def test_other_operators_and_tehran_landlines(raw: str, expected: str) -> None:
    assert normalize_phone(raw) == expected


def test_other_regions() -> None:
    assert normalize_phone("+44 20 7946 0958") == "+442079460958"
    assert normalize_phone("020 7946 0958", region="gb") == "+442079460958"


@pytest.mark.parametrize(
    "raw",
    ["0912 123", "0912 123 45678", "+98 912 123", "abc", "", "0912x0001234", "+9891200012", 0],
)
def test_invalid_numbers_are_refused_with_an_example(raw: str | int) -> None:
    with pytest.raises(ValueError, match=r"write e\.g\. 0912 345 6789 or \+98 912 345 6789"):
        normalize_phone(raw)


def test_message_names_the_input_and_region() -> None:
    with pytest.raises(ValueError, match=r"^'0912 123' is not a valid phone number for IR — "):
        normalize_phone("0912 123")


def test_possible_is_not_enough() -> None:
    # Right length for an Iranian mobile, but no operator has the 0950 range.
    with pytest.raises(ValueError, match="not a valid phone number"):
        normalize_phone("0950 000 1234")


def test_other_region_message_has_its_own_example() -> None:
    with pytest.raises(ValueError, match=r"for GB — write e\.g\. \+44"):
        normalize_phone("123", region="GB")


def test_unknown_region_is_refused() -> None:
    with pytest.raises(ValueError, match="not a region code"):
        normalize_phone("09120001234", region="XX")


def test_mask_phone() -> None:
    assert mask_phone("+989121234567") == "+98912***4567"
    assert mask_phone("+982188776655") == "+98218***6655"
    assert mask_phone("12") == "***"
    assert mask_phone("+98912") == "***12"


iranian_mobiles = st.builds(
    "+98912{:07d}".format,
    st.integers(min_value=0, max_value=9_999_999),
)


@given(iranian_mobiles, st.sampled_from(["0{}", "{}", "+98 {}", "0098{}", "98{}"]))
def test_any_mci_mobile_normalizes_in_any_form(e164: str, shape: str) -> None:
    national = e164.removeprefix("+98")
    assert normalize_phone(shape.format(national)) == e164
    assert normalize_phone(fa_digits(shape.format(national))) == e164
    assert normalize_phone(e164) == e164  # idempotent


@given(iranian_mobiles)
def test_mask_hides_the_middle_and_keeps_the_ends(e164: str) -> None:
    masked = mask_phone(e164)
    assert masked.startswith("+98912***")
    assert masked.endswith(e164[-4:])
    assert masked == e164[:6] + "***" + e164[-4:]


def _by_phonenumbers(raw: str, region: str = "IR") -> str | None:
    """What phonenumbers alone makes of ``raw`` (the reference for the fast path)."""
    import phonenumbers

    text = raw.replace(" ", "")
    cc = str(phonenumbers.country_code_for_region(region))
    candidates = [text] + (["+" + text] if text.startswith(cc) else [])
    for candidate in candidates:
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None


@given(
    st.text("0123456789", min_size=6, max_size=9),
    st.sampled_from(["09", "9", "+989", "989", "0098", "+98", "0", "021", "+9821"]),
)
def test_the_fast_mobile_path_agrees_with_phonenumbers(digits: str, lead: str) -> None:
    raw = lead + digits
    expected = _by_phonenumbers(raw)
    try:
        got: str | None = normalize_phone(raw)
    except ValueError:
        got = None
    assert got == expected


@given(st.text("0123456789", min_size=8, max_size=8), st.sampled_from(["+989", "+9821", "+98"]))
def test_landlines_are_told_from_mobiles_as_phonenumbers_does(digits: str, lead: str) -> None:
    import phonenumbers

    e164 = _by_phonenumbers(lead + digits)
    if e164 is not None:
        kind = phonenumbers.number_type(phonenumbers.parse(e164))
        assert is_landline(e164) == (kind == phonenumbers.PhoneNumberType.FIXED_LINE)
