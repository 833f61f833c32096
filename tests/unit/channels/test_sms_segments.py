"""What an SMS costs: GSM-7 (160, then 153 a segment) or UCS-2 (70, then 67), counted as
`channels.sms_segments` counts it. The dashboard's live counter (templates/dashboard/survey.html)
is checked against this same table in a browser (tests/e2e/web/test_survey_browser.py)."""

from __future__ import annotations

import pytest

from channels.sms_segments import segments

# (text, encoding, units, segments)
TABLE = [
    ("", "GSM-7", 0, 1),
    ("a" * 160, "GSM-7", 160, 1),
    ("a" * 161, "GSM-7", 161, 2),
    ("a" * 306, "GSM-7", 306, 2),
    ("a" * 307, "GSM-7", 307, 3),
    ("€" * 80, "GSM-7", 160, 1),
    ("[" * 81, "GSM-7", 162, 2),
    ("é ñ ¿ ¡ ü à\n", "GSM-7", 12, 1),
    ("á", "UCS-2", 1, 1),
    ("ó" * 70, "UCS-2", 70, 1),
    ("ú" * 71, "UCS-2", 71, 2),
    ("ã" * 134, "UCS-2", 134, 2),
    ("ã" * 135, "UCS-2", 135, 3),
    ("👍" * 35, "UCS-2", 70, 1),
    ("👍" * 36, "UCS-2", 72, 2),
    ("ç", "UCS-2", 1, 1),
    ("Olá! De 0 a 10, você nos recomendaria?", "UCS-2", 38, 1),
]


@pytest.mark.parametrize(("text", "encoding", "units", "count"), TABLE)
def test_segment_count(text: str, encoding: str, units: int, count: int) -> None:
    got = segments(text)
    assert (got.encoding, got.units, got.count) == (encoding, units, count)
