"""SMS over Twilio: webhook replays and outbound sends, one row per case.

Payloads in tests/payloads/twilio/ are form-encoded exactly as Twilio posts them (parameter
names and shapes from https://www.twilio.com/docs/messaging/guides/webhook-request and the
status-callback reference). Outbound rows run the real `twilio` client against `FakeTwilio`.
"""

from __future__ import annotations

from collections.abc import Mapping

from twilio.request_validator import RequestValidator

from bot.config import Settings
from channels.base import Button
from tests.e2e.channels.cases import InboundCase, OutboundCase, ProviderAnswer
from tests.fakes.twilio_api import FakeTwilio, error

FAKE = FakeTwilio
PAYLOAD_FORMAT = "form"

ACCOUNT = "AC0a1b2c3d4e5f60718293a4b5c6d7e8f9"
TOKEN = "9f8e7d6c5b4a39281706f5e4d3c2b1a0"  # test-only auth token: signs the webhook rows
SMS_FROM = "+15005550006"
WA_FROM = "+14155238886"
SERVICE = "MG0a1b2c3d4e5f60718293a4b5c6d7e8f9"
CUSTOMER = "+5215512345678"
MESSAGES = f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
STATUS_URL = "http://127.0.0.1:8000/webhooks/twilio/status"


def settings(fake_url: str) -> dict[str, str]:
    """Both Twilio channels enabled against the fake (one account serves SMS and WhatsApp)."""
    return {
        "TWILIO_ACCOUNT_SID": ACCOUNT,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "TWILIO_SMS_FROM": SMS_FROM,
        "TWILIO_WHATSAPP_FROM": WA_FROM,
        "TWILIO_API_URL": fake_url,
        "HTTP_TIMEOUT": "1",
    }


def sign(url: str, form: Mapping[str, str], body: bytes, settings: Settings) -> dict[str, str]:
    """Headers with the signature Twilio would send: HMAC-SHA1 of URL + sorted params."""
    assert settings.twilio_auth_token
    signature = RequestValidator(settings.twilio_auth_token).compute_signature(url, dict(form))
    return {"X-Twilio-Signature": signature}


def sms(label: str, payload: str, **kw: object) -> InboundCase:
    return InboundCase(label=label, route="twilio", payload=f"twilio/{payload}", **kw)  # type: ignore[arg-type]


INBOUND: list[InboundCase] = [
    sms(
        "sms-score-answers-the-open-survey",
        "sms_text.form",
        given=("open_survey",),
        channel="sms",
        text="9",
        sender=CUSTOMER,
        provider_id="SM1f0e2d3c4b5a69788796a5b4c3d2e1f0",
        body_contains=("<Response><Message>", "te gusta de nosotros"),
    ),
    sms(
        "sms-redelivery-stores-once-and-answers-the-same",
        "sms_text.form",
        given=("open_survey",),
        duplicate=True,
        channel="sms",
        text="9",
        provider_id="SM1f0e2d3c4b5a69788796a5b4c3d2e1f0",
    ),
    sms(
        "sms-text-without-survey-is-stored-and-answered",
        "sms_comment.form",
        channel="sms",
        text="Excelente atención, llegó rápido 👍",
        sender=CUSTOMER,
        body_contains=("No tienes ninguna encuesta abierta",),
    ),
    # A contact the API made with this phone (in E.164: +52 55…), who writes before any survey.
    sms(
        "sms-first-text-from-a-known-phone-joins-its-contact",
        "sms_comment.form",
        given=("known_contact",),
        channel="sms",
        sender=CUSTOMER,
    ),
    sms(
        "sms-invalid-signature-is-403-and-stores-nothing",
        "sms_text.form",
        signing="invalid",
        status=403,
    ),
    sms(
        "sms-missing-signature-is-403-and-stores-nothing",
        "sms_text.form",
        signing="missing",
        status=403,
    ),
    sms(
        "sms-signature-over-another-url-is-403",
        "sms_text.form",
        headers={"X-Forwarded-Host": "attacker.example"},
        signing="valid",
        status=403,
    ),
    sms(
        "sms-media-only-gets-the-number-hint",
        "sms_media.form",
        given=("open_survey",),
        channel="sms",
        text="",
        provider_id="MM3b0e2d3c4b5a69788796a5b4c3d2e1f0",
        body_contains=("del 0 al 10",),
    ),
    sms(
        "sms-advanced-opt-out-stop-is-silent",
        "sms_stop.form",
        given=("open_survey",),
        channel="sms",
        text="STOP",
        body_contains=("<Response/>",),
    ),
    sms("sms-advanced-opt-out-start", "sms_start.form", channel="sms", text="START"),
    sms("sms-advanced-opt-out-help", "sms_help.form", channel="sms", text="HELP"),
    sms(
        "sms-plain-keyword-baja-is-answered-by-us",
        "sms_baja.form",
        given=("open_survey",),
        channel="sms",
        text="BAJA",
        body_contains=("<Message>Listo:",),
    ),
    sms(
        "sms-status-delivered",
        "status_sms_delivered.form",
        path="/status",
        expect_status=("SMd01e2d3c4b5a69788796a5b4c3d2e1f0", "delivered"),
        body_contains=("<Response/>",),
    ),
    sms(
        "sms-status-undelivered-30007-is-recorded",
        "status_sms_undelivered.form",
        path="/status",
        expect_status=("SMd01e2d3c4b5a69788796a5b4c3d2e1f0", "undelivered"),
    ),
    sms(
        "sms-late-sent-never-overwrites-delivered",
        "status_sms_sent.form",
        path="/status",
        given=("outbound_status:delivered",),
        expect_status=("SMd01e2d3c4b5a69788796a5b4c3d2e1f0", "delivered"),
    ),
    sms(
        "sms-late-delivered-never-overwrites-undelivered",
        "status_sms_delivered.form",
        path="/status",
        given=("outbound_status:undelivered",),
        expect_status=("SMd01e2d3c4b5a69788796a5b4c3d2e1f0", "undelivered"),
    ),
    sms(
        "sms-status-unsigned-is-403",
        "status_sms_delivered.form",
        path="/status",
        signing="missing",
        status=403,
    ),
]


# --- outbound -----------------------------------------------------------------------------
def _answer(code: int, status: int = 400) -> ProviderAnswer:
    return ProviderAnswer(status=status, body=error(code, status))


def out(label: str, **kw: object) -> OutboundCase:
    return OutboundCase(label=label, channel="sms", **kw)  # type: ignore[arg-type]


Q_ES = (
    "Considerando tu experiencia completa con nosotros, ¿qué tan probable es que nos recomiendes "
    "con tus amigos y familiares? Responde con un número del 0 al 10."
)

OUTBOUND: list[OutboundCase] = [
    out(
        "sms-send-from-number-with-status-callback",
        message={"to": CUSTOMER, "text": "Hola"},
        expect_requests=(
            {
                "method": "POST",
                "path": MESSAGES,
                "fields": {
                    "To": CUSTOMER,
                    "From": SMS_FROM,
                    "Body": "Hola",
                    "StatusCallback": STATUS_URL,
                },
            },
        ),
    ),
    out(
        "sms-smart-encoding-drops-only-the-accents-that-force-ucs2",
        message={"to": CUSTOMER, "text": Q_ES},
        expect_requests=({"fields": {"Body": Q_ES.replace("ú", "u")}},),
    ),
    out(
        "sms-buttons-become-numbered-text",
        message={
            "to": CUSTOMER,
            "text": "¿Qué te gustó más?",
            "buttons": ((Button("Precio", "p"), Button("Envío", "e")),),
        },
        expect_requests=({"fields": {"Body": "¿Qué te gustó más?\n\n1. Precio\n2. Envío"}},),
    ),
    out(
        "sms-unsubscribed-21610-is-contact-stopped",
        message={"to": CUSTOMER, "text": "Hola"},
        answers=(_answer(21610),),
        expect="ContactStopped",
        expect_retryable=False,
    ),
    out(
        "sms-invalid-number-21211-is-unreachable",
        message={"to": "+15005550001", "text": "Hola"},
        answers=(_answer(21211),),
        expect="Unreachable",
    ),
    out(
        "sms-landline-21614-is-unreachable",
        message={"to": CUSTOMER, "text": "Hola"},
        answers=(_answer(21614),),
        expect="Unreachable",
    ),
    out(
        "sms-not-routable-21612-is-unreachable",
        message={"to": CUSTOMER, "text": "Hola"},
        answers=(_answer(21612),),
        expect="Unreachable",
    ),
    out(
        "sms-429-is-throttled-with-retry-after",
        message={"to": CUSTOMER, "text": "Hola"},
        answers=(_answer(20429, 429),),
        expect="Throttled",
        expect_retryable=True,
    ),
    out(
        "sms-500-is-retryable",
        message={"to": CUSTOMER, "text": "Hola"},
        answers=(_answer(20500, 500),),
        expect="SendFailed",
        expect_retryable=True,
    ),
    out(
        "sms-bad-credentials-20003-is-channel-config",
        message={"to": CUSTOMER, "text": "Hola"},
        answers=(_answer(20003, 401),),
        expect="ChannelConfig",
    ),
    out(
        "sms-slow-provider-times-out-retryable",
        message={"to": CUSTOMER, "text": "Hola"},
        answers=(ProviderAnswer(delay=1.5),),
        expect="SendFailed",
        expect_retryable=True,
    ),
]
