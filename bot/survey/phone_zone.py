"""A phone number's time zone, for a customer who gave none.

libphonenumber places a number by its prefix: one zone for a landline's area code (a Canary
Islands +34 928…, an Azores +351 296…), but every zone of the country, in alphabetical order,
for a mobile (+34 6… → Atlantic/Canary, Europe/Madrid). Among several, the country's main zone
wins: the first listed for the country in IANA's zone.tab (shipped by the `tzdata` package), or
the one in MAIN_ZONE where that file's geographic order puts a small corner first.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

import phonenumbers
from phonenumbers import timezone as phone_tz

# The tab files order a country's zones so they "make some geographical sense" and put "the most
# populous timezones first, where that does not contradict" it (zone1970.tab's header); for these
# the first is a corner: Lord Howe Island, Noronha, Newfoundland, Kaliningrad, Crimea, Samarkand.
MAIN_ZONE = {
    "AU": "Australia/Sydney",
    "BR": "America/Sao_Paulo",
    "CA": "America/Toronto",
    "RU": "Europe/Moscow",
    "UA": "Europe/Kyiv",
    "UZ": "Asia/Tashkent",
}


@cache
def country_zones() -> dict[str, tuple[str, ...]]:
    """Each country's zones (ISO 3166 code → IANA names), its main zone first, then zone.tab's
    order."""
    # https://data.iana.org/time-zones/tz-link.html: zone.tab is "country-code TAB coordinates
    # TAB TZ [TAB comments]", one line per zone, '#' lines are comments.
    text = files("tzdata").joinpath("zoneinfo", "zone.tab").read_text(encoding="utf-8")
    listed: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            country, _coordinates, name, *_comments = line.split("\t")
            listed.setdefault(country, []).append(name)
    for country, main in MAIN_ZONE.items():
        listed[country] = [main, *(n for n in listed.get(country, ()) if n != main)]
    return {country: tuple(names) for country, names in listed.items()}


def main_zone(country: str) -> str | None:
    """The country's main zone (ES → Europe/Madrid), None for a code zone.tab does not list."""
    names = country_zones().get(country)
    return names[0] if names else None


def number_zone(phone: str) -> str | None:
    """The IANA zone of an E.164 phone number: the one its prefix gives; among several, the
    country's earliest in `country_zones` order (its main zone when that is one of them); for a
    number libphonenumber cannot place, its calling code's main country's main zone. None when
    nothing is known (an unparsable number, a non-geographic +800)."""
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return None
    names = [n for n in phone_tz.time_zones_for_number(number) if n != phone_tz.UNKNOWN_TIMEZONE]
    region = phonenumbers.region_code_for_number(number)
    if not names:  # the calling code's main country (+1: US) beats UTC by hours
        return main_zone(phonenumbers.region_code_for_country_code(number.country_code or 0))
    order = country_zones().get(region or "", ())
    # Zones the country does not list (a +7 mobile's Asia/Almaty) come last, in their order.
    return min(names, key=lambda n: order.index(n) if n in order else len(order))
