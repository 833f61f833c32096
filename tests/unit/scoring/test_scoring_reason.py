"""`reason_from`: the "why" that came with a score in the same message, or None."""

from __future__ import annotations

import pytest

from scoring import reason_from


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("8, la entrega tardó", "la entrega tardó"),
        ("9/10 - great coffee", "great coffee"),
        ("10!! me encantó", "me encantó"),
        ("nueve, muy amables", "muy amables"),
        ("le doy un 10", None),
        ("I'd give you a 9, thanks", None),
        ("dou nota oito", None),
        ("10", None),
        ("La atención del personal", "La atención del personal"),
    ],
)
def test_reason_from(text: str, reason: str | None) -> None:
    assert reason_from(text) == reason
