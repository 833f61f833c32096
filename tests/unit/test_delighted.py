"""The pure parts of the move from Delighted: the skip rule for a contact with nothing but an
e-mail, an export line read (dates, people, properties, refusals) and a form body's shape."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.integrations.delighted.importer import LineError, parse_line
from bot.integrations.delighted.shapes import Refused, digits, nest, whole
from bot.survey.rules import History, skip_reason

NOW = datetime(2026, 11, 22, 15, tzinfo=UTC)
EMAIL_ONLY = History(in_flight=0, last_sent=None, stopped=frozenset(), no_address=True)


def test_a_contact_with_only_an_email_is_skipped_except_on_the_sandbox_page() -> None:
    assert skip_reason(EMAIL_ONLY, ["whatsapp", "sms"], 30, NOW) == "no_chat_address"
    assert skip_reason(EMAIL_ONLY, ["sandbox"], 30, NOW) is None
    # The other rules speak first: a contact in flight is `open_invitation` either way.
    busy = History(in_flight=1, last_sent=None, stopped=frozenset(), no_address=True)
    assert skip_reason(busy, ["sms"], 30, NOW) == "open_invitation"


def row(**cells: str) -> dict[str, str]:
    return {"Response ID": "7", "Score": "9", "Response Timestamp": "1794744000", **cells}


def test_an_export_line_keeps_its_date_its_person_and_its_properties() -> None:
    line = parse_line(
        row(Email="Ana@Example.com", Name="Ana", Comment=" ok ", Store="Centro", Permalink="x"),
        day_first=False,
        country="MX",
    )
    assert line.at == datetime(2026, 11, 15, 12, tzinfo=UTC)
    assert line.customer is not None and line.customer.email == "ana@example.com"
    assert (line.score, line.comment, dict(line.properties)) == (9, "ok", {"Store": "Centro"})
    anonymous = parse_line(row(**{"Response Timestamp": "01/02/2026"}), True, "MX")
    assert anonymous.customer is None and anonymous.ambiguous
    assert anonymous.at == datetime(2026, 2, 1, tzinfo=UTC)
    phone = parse_line(row(**{"Phone Number": "55 1234 5678"}), False, "MX")
    assert phone.customer is not None and phone.customer.phone == "+525512345678"


@pytest.mark.parametrize(
    ("cells", "reason"),
    [
        ({"Response ID": ""}, "Response ID: required"),
        ({"Score": "9.5"}, "Score: must be a whole number from 0 to 10"),
        ({"Score": "²"}, "Score: must be a whole number from 0 to 10"),  # a digit to isdigit()
        ({"Response Timestamp": ""}, "Response Timestamp: required"),
        ({"Response Timestamp": "31/12/2026"}, "Response Timestamp: '31/12/2026' is not a date"),
        ({"Email": "ana"}, "Email: not an e-mail address"),
        ({"Survey Type": "CES"}, "Survey Type: 'ces' is not an NPS response"),
    ],
)
def test_a_bad_line_names_its_column(cells: dict[str, str], reason: str) -> None:
    with pytest.raises(LineError, match=reason):
        parse_line(row(**cells), day_first=False, country="MX")


def test_ids_and_numbers_in_paths_and_parameters_are_ascii_digits_within_64_bits() -> None:
    assert [digits(x) for x in ("42", " 7 ", "²", "4２", "-1", "9" * 19)] == [42, 7] + [None] * 4
    assert whole("20", "per_page", 1, 100, 20) == 20
    with pytest.raises(Refused, match="per_page must be a whole number from 1 to 100"):
        whole("¹", "per_page", 1, 100, 20)


def test_a_form_body_takes_the_json_shape() -> None:
    form = {"email": "a@b.c", "properties[Store]": "Centro", "properties[Plan]": "gold"}
    assert nest(form) == {"email": "a@b.c", "properties": {"Store": "Centro", "Plan": "gold"}}
