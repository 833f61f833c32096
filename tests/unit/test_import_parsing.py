"""How `npsbot import` reads a spreadsheet's file: encoding, separator, date order, dates, and
the phone rule it shares with the API and inbound messages."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.survey.contacts import normalise_phone
from bot.survey.importer import (
    FileError,
    choose_order,
    decode,
    parse_date,
    read_table,
    sniff_delimiter,
)

NAMES = "order_id,name\r\nA-1,José Peña €\r\n"


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (NAMES.encode("utf-8"), "UTF-8"),
        (NAMES.encode("utf-8-sig"), "UTF-8"),
        (NAMES.encode("cp1252"), "cp1252"),
        (b"order_id,name\r\nA-1,\x81\xe9\r\n", "latin-1"),  # 0x81 is undefined in cp1252
    ],
)
def test_text_is_utf8_with_or_without_a_bom_else_windows_1252(data: bytes, encoding: str) -> None:
    text, used = decode(data)
    assert used == encoding
    assert text.startswith("order_id,")  # a BOM is never part of the first column's name
    if encoding != "latin-1":
        assert "José Peña €" in text


@pytest.mark.parametrize(
    ("sample", "sep"),
    [
        ("order_id,name,phone\nA-1,Ana,+52", ","),
        ("order_id;name;phone\nA-1;Ana;+52", ";"),
        ("order_id\tname\tphone\nA-1\tAna\t+52", "\t"),
        ("order_id;name;phone\nA-1;Peña, José;+52\nA-2;Ana;+52", ";"),
        ('order_id,name\nA-1,"Peña; José"', ","),
        ("order_id;name", ";"),
        ("order_id\nA-1", ","),
    ],
)
def test_the_separator_is_sniffed_from_the_first_lines(sample: str, sep: str) -> None:
    assert sniff_delimiter(sample) == sep


def test_the_date_order_is_the_option_else_the_files_locale() -> None:
    assert choose_order(",", ["en"], True) == (True, "as asked")
    assert choose_order(";", ["es"], False) == (False, "as asked")
    assert choose_order(";", [], None)[0] is True
    assert choose_order(",", ["es", "pt-BR", "en", ""], None)[0] is True
    assert choose_order(",", ["en", "en", "es"], None)[0] is False
    assert choose_order(",", [], None)[0] is False


@pytest.mark.parametrize(
    ("raw", "day_first", "expected", "ambiguous"),
    [
        ("2026-12-01", True, datetime(2026, 12, 1), False),
        ("2026-12-01T15:00:00Z", False, datetime(2026, 12, 1, 15), False),
        ("2026-12-01 09:30-06:00", False, datetime(2026, 12, 1, 15, 30), False),
        ("01/12/2026", True, datetime(2026, 12, 1), True),
        ("01/12/2026", False, datetime(2026, 1, 12), True),
        ("25/12/2026 23:30", True, datetime(2026, 12, 25, 23, 30), False),
        ("12/25/2026 03:00", False, datetime(2026, 12, 25, 3), False),
        ("05/05/2026", True, datetime(2026, 5, 5), False),
        ("1.2.2026 15:00:59", True, datetime(2026, 2, 1, 15, 0, 59), True),
    ],
)
def test_common_date_forms(raw: str, day_first: bool, expected: datetime, ambiguous: bool) -> None:
    text, was_ambiguous = parse_date(raw, day_first, None)
    moment = datetime.fromisoformat(text)
    assert moment.tzinfo is not None  # what the API's RFC 3339 check requires
    assert moment.astimezone(UTC).replace(tzinfo=None) == expected
    assert was_ambiguous is ambiguous


@pytest.mark.parametrize("hour", ["03:00", "15:00", "23:30"])
def test_a_date_without_an_offset_is_in_the_customers_time_zone_at_any_hour(hour: str) -> None:
    text, _ = parse_date(f"30/11/2026 {hour}", True, "America/Mexico_City")
    local = datetime.fromisoformat(f"2026-11-30T{hour}").replace(
        tzinfo=ZoneInfo("America/Mexico_City")
    )
    assert datetime.fromisoformat(text) == local


@pytest.mark.parametrize(
    ("raw", "day_first", "message"),
    [
        ("11/25/2026", True, "'11/25/2026' is not a date read as DD/MM/YYYY (try --month-first)"),
        ("25/11/2026", False, "'25/11/2026' is not a date read as MM/DD/YYYY (try --day-first)"),
        ("31/02/2026", True, "is not a date read as DD/MM/YYYY"),
        ("ayer", True, "'ayer' is not a date (write 2026-12-01, 01/12/2026 or 01/12/2026 14:30)"),
    ],
)
def test_a_date_that_cannot_be_read_says_how_to_write_it(
    raw: str, day_first: bool, message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_date(raw, day_first, None)


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+5215512345678", "+525512345678"),
        ("+52 1 33 1234 5678", "+523312345678"),
        ("5215512345678", "+525512345678"),
        ("+525512345678", "+525512345678"),
        ("55 1234 5678", "+525512345678"),
        ("+14155550123", "+14155550123"),
        ("+5511987654321", "+5511987654321"),
    ],
)
def test_old_mexican_mobile_numbers_lose_the_1_others_are_kept(raw: str, e164: str) -> None:
    assert normalise_phone(raw) == e164


@pytest.mark.parametrize("raw", ["12", "+521", "+52155123456789"])
def test_invalid_phone_numbers_are_still_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="phone number"):
        normalise_phone(raw)


def test_unknown_columns_are_listed_and_kept_out(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes("\ufefforder_id;Notas;metadata.store\r\nA-1;VIP;Roma\r\n".encode())
    table = read_table(path)
    assert (table.encoding, table.delimiter, table.ignored) == ("UTF-8", ";", ["Notas"])
    assert table.rows == [(2, {"order_id": "A-1", "Notas": "VIP", "metadata.store": "Roma"})]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "line 1: the file is empty"),
        ("pedido;telefono\r\n", "line 1: missing column order_id (header read as ';'-separated"),
    ],
)
def test_a_file_that_cannot_be_imported_names_line_1(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "x.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(FileError, match=re.escape(f"{path}: {message}")):
        read_table(path)
