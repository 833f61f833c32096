"""Twilio webhooks at the channel level: which URL is signed, what a payload becomes, TwiML."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import pytest
from twilio.request_validator import RequestValidator

from bot.config import settings_from
from channels.base import (
    Channel,
    DeliveryStatus,
    OptOutKind,
    Outbound,
    WebRequest,
    advances,
)
from channels.errors import BadPayload
from channels.twilio import TwilioChannel, build_sms, build_whatsapp
from tests.e2e.channels.rows_sms import ACCOUNT, CUSTOMER, SERVICE, TOKEN, settings

PAYLOADS = Path(__file__).resolve().parents[2] / "payloads" / "twilio"


def channel(**extra: str) -> TwilioChannel:
    built = build_sms(settings_from({**settings("http://127.0.0.1:9"), **extra}))
    assert built is not None
    return built


def form(name: str, **overrides: str) -> dict[str, str]:
    return {**dict(parse_qsl((PAYLOADS / name).read_text(), keep_blank_values=True)), **overrides}


def request(
    url: str, fields: Mapping[str, str], *, signed_for: str | None = None, **headers: str
) -> WebRequest:
    """A webhook request as the web layer sees it, signed (like Twilio) for `signed_for`."""
    sig = RequestValidator(TOKEN).compute_signature(signed_for or url, dict(fields))
    return WebRequest(
        "POST",
        url,
        {"X-Twilio-Signature": sig, **headers},
        dict(fields),
        urlencode(fields).encode(),
    )


# --- which URL Twilio signed --------------------------------------------------------------
SIGNED = [
    pytest.param(
        {},
        "http://localhost/webhooks/twilio",
        {},
        "http://localhost/webhooks/twilio",
        id="direct-request-signs-the-url-as-seen",
    ),
    pytest.param(
        {},
        "http://app:8000/webhooks/twilio",
        {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "nps.example.com"},
        "https://nps.example.com/webhooks/twilio",
        id="behind-a-proxy-the-forwarded-scheme-and-host-are-signed",
    ),
    pytest.param(
        {},
        "http://app:8000/webhooks/twilio",
        {"X-Forwarded-Proto": "https, http", "X-Forwarded-Host": "nps.example.com, lb.internal"},
        "https://nps.example.com/webhooks/twilio",
        id="chained-proxies-the-first-forwarded-value-is-the-client-side-one",
    ),
    pytest.param(
        {"PUBLIC_BASE_URL": "https://nps.example.com"},
        "http://10.0.0.5:5000/webhooks/twilio/status?x=1",
        {"X-Forwarded-Host": "ignored.example"},
        "https://nps.example.com/webhooks/twilio/status?x=1",
        id="public-base-url-wins-and-keeps-path-and-query",
    ),
    pytest.param(
        {"PUBLIC_BASE_URL": "https://example.com/nps/"},
        "http://10.0.0.5:5000/webhooks/twilio",
        {},
        "https://example.com/nps/webhooks/twilio",
        id="public-base-url-path-prefix-stripped-by-the-proxy-is-restored",
    ),
]


@pytest.mark.parametrize(("env", "seen", "headers", "public"), SIGNED)
def test_the_public_url_is_the_signed_one(
    env: dict[str, str], seen: str, headers: dict[str, str], public: str
) -> None:
    ch = channel(**env)
    req = request(seen, form("sms_text.form"), signed_for=public, **headers)
    assert ch.signed_url(req) == public
    assert ch.verify(req)


def test_a_signature_for_the_internal_url_fails_when_public_base_url_is_set() -> None:
    ch = channel(PUBLIC_BASE_URL="https://nps.example.com")
    req = request("http://10.0.0.5:5000/webhooks/twilio", form("sms_text.form"))
    assert not ch.verify(req)


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda f: {**f, "Body": "10"}, id="changed-body"),
        pytest.param(lambda f: {**f, "Extra": "1"}, id="added-parameter"),
        pytest.param(lambda f: {k: v for k, v in f.items() if k != "NumMedia"}, id="dropped-param"),
    ],
)
def test_every_received_parameter_is_signed(tamper: object) -> None:
    ch = channel()
    good = request("http://localhost/webhooks/twilio", form("sms_text.form"))
    fields = tamper(dict(good.form))  # type: ignore[operator]
    forged = WebRequest("POST", good.url, good.headers, fields, urlencode(fields).encode())
    assert ch.verify(good)
    assert not ch.verify(forged)


def test_missing_signature_fails() -> None:
    req = request("http://localhost/webhooks/twilio", form("sms_text.form"))
    unsigned = WebRequest("POST", req.url, {}, req.form, req.body)
    assert not channel().verify(unsigned)


def test_repeated_parameters_are_all_signed() -> None:
    """Twilio signs every value of a repeated field; the web layer's form keeps only the last."""
    pairs = [*form("sms_text.form").items(), ("Tag", "a"), ("Tag", "b")]
    url = "http://localhost/webhooks/twilio"
    multi: dict[str, list[str]] = {}
    for k, v in pairs:
        multi.setdefault(k, []).append(v)

    class Multi(dict[str, list[str]]):
        def getlist(self, key: str) -> list[str]:
            return self[key]

    sig = RequestValidator(TOKEN).compute_signature(url, Multi(multi))
    req = WebRequest(
        "POST", url, {"X-Twilio-Signature": sig}, dict(pairs), urlencode(pairs).encode()
    )
    assert channel().verify(req)


# --- what a payload becomes ------------------------------------------------------------------
def test_sms_text() -> None:
    (m,) = channel().parse(request("http://x/webhooks/twilio", form("sms_text.form"))).messages
    assert (m.channel, m.sender, m.text, m.provider_id) == (
        "sms",
        CUSTOMER,
        "9",
        "SM1f0e2d3c4b5a69788796a5b4c3d2e1f0",
    )
    assert m.received_at is not None and m.received_at.utcoffset() is not None
    assert m.media_count == 0 and m.opt_out is None


def test_whatsapp_sender_loses_the_prefix_and_keeps_the_profile_name() -> None:
    (m,) = channel().parse(request("http://x/webhooks/twilio", form("wa_text.form"))).messages
    assert (m.channel, m.sender, m.sender_name) == ("whatsapp", CUSTOMER, "María López")


def test_whatsapp_business_scoped_id_is_kept_as_is() -> None:
    (m,) = channel().parse(request("http://x/webhooks/twilio", form("wa_bsuid.form"))).messages
    assert (m.channel, m.sender) == ("whatsapp", "MX.1349120865530274191")


def test_either_instance_parses_both_kinds() -> None:
    wa = build_whatsapp(settings_from(settings("http://127.0.0.1:9")))
    assert wa is not None and isinstance(wa, Channel)
    (m,) = wa.parse(request("http://x/webhooks/twilio", form("sms_text.form"))).messages
    assert m.channel == "sms"
    assert wa.route == channel().route == "twilio"


@pytest.mark.parametrize(
    ("payload", "count"),
    [
        pytest.param("sms_media.form", 1, id="sms-mms"),
        pytest.param("wa_media.form", 1, id="wa-image"),
    ],
)
def test_media_only_messages_carry_the_media_count(payload: str, count: int) -> None:
    (m,) = channel().parse(request("http://x/webhooks/twilio", form(payload))).messages
    assert (m.text, m.media_count) == ("", count)


@pytest.mark.parametrize(
    ("payload", "kind"),
    [
        pytest.param("sms_stop.form", OptOutKind.STOP, id="stop"),
        pytest.param("sms_start.form", OptOutKind.START, id="start"),
        pytest.param("sms_help.form", OptOutKind.HELP, id="help"),
        pytest.param("sms_baja.form", None, id="plain-keyword-is-for-the-conversation-engine"),
    ],
)
def test_advanced_opt_out_type_is_reported(payload: str, kind: OptOutKind | None) -> None:
    (m,) = channel().parse(request("http://x/webhooks/twilio", form(payload))).messages
    assert m.opt_out == kind


def test_quick_reply_payload_is_the_button() -> None:
    (m,) = channel().parse(request("http://x/webhooks/twilio", form("wa_button.form"))).messages
    assert (m.button, m.text) == ("9", "9")


@pytest.mark.parametrize(
    "broken",
    [
        pytest.param({"MessageSid": "", "SmsMessageSid": "", "SmsSid": ""}, id="no-message-sid"),
        pytest.param({"From": ""}, id="no-sender"),
        pytest.param({"NumMedia": "many"}, id="num-media-not-a-number"),
    ],
)
def test_a_payload_twilio_would_never_send_is_bad(broken: dict[str, str]) -> None:
    with pytest.raises(BadPayload):
        channel().parse(request("http://x/webhooks/twilio", form("sms_text.form", **broken)))


@pytest.mark.parametrize(
    "sender", ["messenger:1234567", "rcs:+15551234567", "WhatsApp:+15551234567"]
)
def test_other_twilio_channels_are_refused_naming_the_channel(sender: str) -> None:
    prefix = sender.split(":")[0]
    with pytest.raises(BadPayload, match=f"'{prefix}'.*does not serve"):
        channel().parse(request("http://x/webhooks/twilio", form("sms_text.form", From=sender)))


# --- delivery status callbacks ------------------------------------------------------------------
STATUS = "http://x/webhooks/twilio/status"


@pytest.mark.parametrize(
    ("payload", "channel_name", "status", "code"),
    [
        pytest.param("status_sms_sent.form", "sms", DeliveryStatus.SENT, None, id="sms-sent"),
        pytest.param(
            "status_sms_undelivered.form",
            "sms",
            DeliveryStatus.UNDELIVERED,
            "30007",
            id="sms-30007",
        ),
        pytest.param("status_wa_read.form", "whatsapp", DeliveryStatus.READ, None, id="wa-read"),
        pytest.param(
            "status_wa_failed_63016.form", "whatsapp", DeliveryStatus.FAILED, "63016", id="wa-63016"
        ),
    ],
)
def test_status_callbacks(
    payload: str, channel_name: str, status: DeliveryStatus, code: str | None
) -> None:
    parsed = channel().parse(request(STATUS, form(payload)))
    assert parsed.messages == ()
    (st,) = parsed.statuses
    assert (st.channel, st.status, st.error_code) == (channel_name, status, code)


def test_a_status_callback_sent_to_the_inbound_url_is_still_a_status() -> None:
    parsed = channel().parse(request("http://x/webhooks/twilio", form("status_sms_sent.form")))
    assert parsed.messages == () and parsed.statuses[0].status is DeliveryStatus.SENT


@pytest.mark.parametrize(
    "arrival",
    [
        pytest.param(["sent", "delivered", "read"], id="in-order"),
        pytest.param(["delivered", "sent", "read"], id="late-sent"),
        pytest.param(["read", "delivered", "sent"], id="reversed"),
    ],
)
def test_statuses_only_move_forward_whatever_the_arrival_order(arrival: list[str]) -> None:
    current: DeliveryStatus | None = DeliveryStatus.QUEUED
    for raw in arrival:
        (st,) = (
            channel()
            .parse(request(STATUS, form("status_wa_sent.form", MessageStatus=raw)))
            .statuses
        )
        if advances(current, st.status):
            current = st.status
    assert current is DeliveryStatus.READ


def test_a_late_sent_never_overwrites_failed() -> None:
    (st,) = channel().parse(request(STATUS, form("status_wa_sent.form"))).statuses
    assert not advances(DeliveryStatus.FAILED, st.status)
    assert not advances(DeliveryStatus.UNDELIVERED, st.status)


# --- the webhook's answer ---------------------------------------------------------------------
def test_replies_go_back_inline_as_twiml_with_text_escaped() -> None:
    req = request("http://x/webhooks/twilio", form("wa_text.form"))
    reply = Outbound(channel="whatsapp", to=CUSTOMER, text="Gracias <3 & ¡hasta pronto!")
    answer = channel().respond(req, [reply])
    assert answer.status == 200 and answer.content_type.startswith("text/xml")
    assert answer.body.decode() == (
        '<?xml version="1.0" encoding="UTF-8"?>'
        "<Response><Message>Gracias &lt;3 &amp; ¡hasta pronto!</Message></Response>"
    )


def test_nothing_to_say_is_an_empty_response() -> None:
    req = request(STATUS, form("status_sms_sent.form"))
    assert channel().respond(req, []).body.endswith(b"<Response/>")


def test_sms_inline_replies_use_the_same_smart_encoding_as_sends() -> None:
    req = request("http://x/webhooks/twilio", form("sms_text.form"))
    text = "Considerando tu experiencia completa con nosotros, ¿qué tan probable es que nos " * 2
    body = channel().respond(req, [Outbound(channel="sms", to=CUSTOMER, text=text)]).body.decode()
    assert "qué" in body  # é is GSM-7 and stays


def test_channels_are_configured_from_settings() -> None:
    base = settings("http://127.0.0.1:9")
    only_wa = {k: v for k, v in base.items() if k != "TWILIO_SMS_FROM"}
    assert build_sms(settings_from(only_wa)) is None
    assert build_whatsapp(settings_from(only_wa)) is not None
    service = {**only_wa, "TWILIO_MESSAGING_SERVICE_SID": SERVICE}
    sms = build_sms(settings_from(service))
    assert sms is not None and sms.sender == {"messaging_service_sid": SERVICE}
    assert build_sms(settings_from({})) is None and build_whatsapp(settings_from({})) is None
    assert ACCOUNT not in repr(sms) and TOKEN not in repr(sms)
