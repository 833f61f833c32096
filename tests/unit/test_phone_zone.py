"""A customer without a time zone gets their phone number's (`bot.survey.phone_zone`): the one
its area code gives, else the country's main zone, never the alphabetically first of the
country's zones (+34 mobile → Atlantic/Canary would put the quiet hours an hour off)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from bot.storage.models import Contact
from bot.survey.phone_zone import main_zone, number_zone
from bot.survey.rules import contact_zone


@pytest.mark.parametrize(
    ("phone", "expected"),
    [
        ("+34600123456", "Europe/Madrid"),  # a Spanish mobile: Madrid, not Atlantic/Canary
        ("+34912345678", "Europe/Madrid"),
        ("+34928123456", "Atlantic/Canary"),  # Las Palmas' area code keeps its own zone
        ("+34922123456", "Atlantic/Canary"),  # Tenerife's
        ("+351912345678", "Europe/Lisbon"),  # a Portuguese mobile: Lisbon, not Atlantic/Azores
        ("+351213456789", "Europe/Lisbon"),
        ("+351296123456", "Atlantic/Azores"),  # Ponta Delgada's area code keeps its own zone
        ("+525512345678", "America/Mexico_City"),
        ("+5215512345678", "America/Mexico_City"),  # the old mobile "1": unplaced, the country's
        ("+5511987654321", "America/Sao_Paulo"),
        ("+5592987654321", "America/Manaus"),  # Manaus' area code
        ("+12125550123", "America/New_York"),
        ("+15005550006", "America/New_York"),  # non-geographic +1 500: every NANP zone
        ("+19995550123", "America/New_York"),  # no such area code: +1's main country
        ("+14165550123", "America/Toronto"),
        ("+17805550123", "America/Edmonton"),
        ("+61412345678", "Australia/Sydney"),  # not Lord Howe Island, zone.tab's first
        ("+79161234567", "Europe/Moscow"),  # not Kaliningrad, zone.tab's first
        ("+593991234567", "America/Guayaquil"),  # not Pacific/Galapagos
        ("+442079460000", "Europe/London"),
    ],
)
def test_a_number_s_zone_is_its_area_code_s_else_its_country_s_main_one(
    phone: str, expected: str
) -> None:
    assert number_zone(phone) == expected


@pytest.mark.parametrize("phone", ["", "abc", "+3", "+80012345678"])  # +800: no country
def test_a_number_that_names_no_country_has_no_zone(phone: str) -> None:
    assert number_zone(phone) is None


@pytest.mark.parametrize(
    ("country", "expected"),
    [
        ("ES", "Europe/Madrid"),
        ("PT", "Europe/Lisbon"),
        ("MX", "America/Mexico_City"),
        ("BR", "America/Sao_Paulo"),  # zone.tab lists Noronha first
        ("US", "America/New_York"),
        ("AR", "America/Argentina/Buenos_Aires"),
        ("CA", "America/Toronto"),  # zone.tab lists St Johns first
        ("UA", "Europe/Kyiv"),  # zone.tab lists Simferopol first
        ("CO", "America/Bogota"),
        ("XX", None),
    ],
)
def test_a_country_s_main_zone(country: str, expected: str | None) -> None:
    assert main_zone(country) == expected


def test_a_contact_s_own_zone_wins_over_their_number_s() -> None:
    canarian = Contact(phone="+34600123456", timezone="Atlantic/Canary")
    assert contact_zone(canarian) == ZoneInfo("Atlantic/Canary")
    assert contact_zone(Contact(phone="+34600123456")) == ZoneInfo("Europe/Madrid")
    assert contact_zone(Contact(phone="+80012345678"), "America/Lima") == ZoneInfo("America/Lima")
