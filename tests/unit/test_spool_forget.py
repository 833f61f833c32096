"""An erased customer's raw payloads do not outlive the erasure in the inbound spool's rejected
log (`bot.inbound.spool.forget`); other customers' entries stay, byte for byte."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import urlencode

from bot.inbound.spool import REJECTED, forget

ERASED = "+5215512345678"


def entry(sender: str, text: str) -> bytes:
    """A rejected Twilio webhook, as the spool writes it (one JSON object a line)."""
    form = {"From": f"whatsapp:{sender}", "Body": text}
    row = {
        "at": 1,
        "seq": 0,
        "route": "twilio",
        "method": "POST",
        "url": "https://example.com/webhooks/twilio",
        "headers": {},
        "form": {},  # as parsed later: the raw body is what is kept
        "body": base64.b64encode(urlencode(form).encode()).decode(),
    }
    return json.dumps(row).encode() + b"\n"


def test_the_erased_customers_rejected_entries_go_and_the_others_stay(tmp_path: Path) -> None:
    other = entry("+5215599999999", "hola")
    (tmp_path / REJECTED).write_bytes(
        entry(ERASED, "mi pedido") + other + b"not json " + ERASED.encode() + b"\n"
    )
    assert forget(tmp_path, [ERASED, ERASED[1:]]) == 2
    assert (tmp_path / REJECTED).read_bytes() == other
    assert forget(tmp_path, [ERASED]) == 0
    assert forget(tmp_path / "none", [ERASED]) == 0  # no spool: nothing to do
