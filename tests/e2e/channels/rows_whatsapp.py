"""WhatsApp over Twilio: webhook replays and outbound sends, one row per case.

Same account, fake and signing as SMS (rows_sms); WhatsApp addresses carry `whatsapp:` on the
wire and business-initiated messages go out as approved Content templates.
"""

from __future__ import annotations

import json

from channels.base import Template
from tests.e2e.channels.cases import InboundCase, OutboundCase, ProviderAnswer
from tests.e2e.channels.rows_sms import (
    CUSTOMER,
    MESSAGES,
    PAYLOAD_FORMAT,
    STATUS_URL,
    WA_FROM,
    settings,
    sign,
)
from tests.fakes.twilio_api import FakeTwilio, error

__all__ = ["FAKE", "INBOUND", "OUTBOUND", "PAYLOAD_FORMAT", "settings", "sign"]

FAKE = FakeTwilio
BSUID = "MX.1349120865530274191"  # a business-scoped WhatsApp user id (no phone number)


def wa(label: str, payload: str, **kw: object) -> InboundCase:
    return InboundCase(label=label, route="twilio", payload=f"twilio/{payload}", **kw)  # type: ignore[arg-type]


INBOUND: list[InboundCase] = [
    wa(
        "wa-score-answers-the-open-survey",
        "wa_text.form",
        given=("open_survey",),
        channel="whatsapp",
        text="9",
        sender=CUSTOMER,
        provider_id="SM8a1e2d3c4b5a69788796a5b4c3d2e1f0",
        body_contains=("<Response><Message>", "te gusta de nosotros"),
    ),
    wa(
        "wa-redelivery-stores-once-and-answers-the-same",
        "wa_text.form",
        given=("open_survey",),
        duplicate=True,
        channel="whatsapp",
        provider_id="SM8a1e2d3c4b5a69788796a5b4c3d2e1f0",
    ),
    wa(
        "wa-quick-reply-button-is-stored",
        "wa_button.form",
        channel="whatsapp",
        text="9",
        sender=CUSTOMER,
    ),
    wa(
        "wa-image-only-gets-the-number-hint",
        "wa_media.form",
        given=("open_survey",),
        channel="whatsapp",
        text="",
        provider_id="MMac1e2d3c4b5a69788796a5b4c3d2e1f0",
        body_contains=("del 0 al 10",),
    ),
    wa(
        "wa-business-scoped-sender-is-kept-as-is",
        "wa_bsuid.form",
        channel="whatsapp",
        sender=BSUID,
        text="8",
    ),
    wa(
        "wa-opt-out-stop",
        "wa_stop.form",
        given=("open_survey",),
        channel="whatsapp",
        text="STOP",
    ),
    wa("wa-invalid-signature-is-403", "wa_text.form", signing="invalid", status=403),
    wa("wa-missing-signature-is-403", "wa_text.form", signing="missing", status=403),
    wa(
        "wa-status-read",
        "status_wa_read.form",
        path="/status",
        expect_status=("SMe12e2d3c4b5a69788796a5b4c3d2e1f0", "read"),
    ),
    wa(
        "wa-late-sent-after-read-is-ignored",
        "status_wa_sent.form",
        path="/status",
        given=("outbound_status:read",),
        expect_status=("SMe12e2d3c4b5a69788796a5b4c3d2e1f0", "read"),
    ),
    wa(
        "wa-late-sent-never-overwrites-failed",
        "status_wa_sent.form",
        path="/status",
        given=("outbound_status:failed",),
        expect_status=("SMe12e2d3c4b5a69788796a5b4c3d2e1f0", "failed"),
    ),
    wa(
        "wa-status-failed-63016-is-recorded",
        "status_wa_failed_63016.form",
        path="/status",
        expect_status=("SMe12e2d3c4b5a69788796a5b4c3d2e1f0", "failed"),
    ),
]


# --- outbound -----------------------------------------------------------------------------
INVITE = Template(sid="HX0a1b2c3d4e5f60718293a4b5c6d7e8f9", variables={"1": "María", "2": "Tienda"})
INVITE_FIELDS = {
    "ContentSid": INVITE.sid,
    "ContentVariables": json.dumps({"1": "María", "2": "Tienda"}, ensure_ascii=False),
    "To": f"whatsapp:{CUSTOMER}",
    "From": f"whatsapp:{WA_FROM}",
    "StatusCallback": STATUS_URL,
}


def out(label: str, **kw: object) -> OutboundCase:
    return OutboundCase(label=label, channel="whatsapp", **kw)  # type: ignore[arg-type]


def _answer(code: int, status: int = 400) -> ProviderAnswer:
    return ProviderAnswer(status=status, body=error(code, status))


OUTBOUND: list[OutboundCase] = [
    out(
        "wa-free-text-inside-the-window",
        message={"to": CUSTOMER, "text": "¡Gracias!"},
        expect_requests=(
            {
                "method": "POST",
                "path": MESSAGES,
                "fields": {
                    "To": f"whatsapp:{CUSTOMER}",
                    "From": f"whatsapp:{WA_FROM}",
                    "Body": "¡Gracias!",
                    "StatusCallback": STATUS_URL,
                },
            },
        ),
    ),
    out(
        "wa-invitation-uses-the-approved-template",
        message={
            "to": CUSTOMER,
            "text": "¿Nos recomendarías?",
            "template": INVITE,
            "needs_template": True,
        },
        expect_requests=({"method": "POST", "path": MESSAGES, "fields": INVITE_FIELDS},),
    ),
    out(
        "wa-63016-outside-window-falls-back-to-the-template",
        message={"to": CUSTOMER, "text": "¿Nos recomendarías?", "template": INVITE},
        answers=(_answer(63016), ProviderAnswer()),
        expect_requests=(
            {"fields": {"Body": "¿Nos recomendarías?"}},
            {"fields": INVITE_FIELDS},
        ),
    ),
    out(
        "wa-63016-without-template-is-outside-window",
        message={"to": CUSTOMER, "text": "¿Nos recomendarías?"},
        answers=(_answer(63016),),
        expect="OutsideWindow",
    ),
    out(
        "wa-needs-template-but-none-configured-sends-nothing",
        message={"to": CUSTOMER, "text": "Hola", "needs_template": True},
        answers=(),
        expect="OutsideWindow",
    ),
    out(
        "wa-business-scoped-recipient",
        message={"to": BSUID, "text": "Hola"},
        expect_requests=({"fields": {"To": f"whatsapp:{BSUID}"}},),
    ),
    out(
        "wa-unsubscribed-21610-is-contact-stopped",
        message={"to": CUSTOMER, "text": "Hola"},
        answers=(_answer(21610),),
        expect="ContactStopped",
    ),
    out(
        "wa-not-on-whatsapp-63024-is-unreachable",
        message={"to": CUSTOMER, "text": "Hola"},
        answers=(_answer(63024),),
        expect="Unreachable",
    ),
    out(
        "wa-rate-limit-63018-is-throttled",
        message={"to": CUSTOMER, "text": "Hola"},
        answers=(_answer(63018, 429),),
        expect="Throttled",
        expect_retryable=True,
    ),
    out(
        "wa-503-is-retryable",
        message={"to": CUSTOMER, "text": "Hola"},
        answers=(_answer(20503, 503),),
        expect="SendFailed",
        expect_retryable=True,
    ),
    out(
        "wa-bad-request-is-not-retryable",
        message={"to": CUSTOMER, "text": "Hola"},
        answers=(_answer(21620),),
        expect="SendFailed",
        expect_retryable=False,
    ),
]
