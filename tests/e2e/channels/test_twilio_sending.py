"""Twilio sends beyond the rows: SMS cost, the 63016 fallback, timeouts, secrets in logs."""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Iterator

import pytest

from bot.config import settings_from
from bot.texts import MESSAGES, texts_for
from channels.base import Outbound, Template, WebRequest
from channels.errors import ContactStopped, SendFailed
from channels.sms_segments import segments, smart_encode
from channels.twilio import TwilioChannel, build_sms, build_whatsapp
from tests.e2e.channels.rows_sms import ACCOUNT, CUSTOMER, TOKEN, settings
from tests.fakes.base import SPECS, Answer
from tests.fakes.twilio_api import FakeTwilio, error

needs_specs = pytest.mark.skipif(not SPECS.is_dir(), reason=f"provider specs not found at {SPECS}")

ES_QUESTION = (
    "Considerando tu experiencia completa con nosotros, ¿qué tan probable es que nos recomiendes "
    "con tus amigos y familiares? Responde con un número del 0 al 10."
)


# --- SMS cost -------------------------------------------------------------------------------
@pytest.mark.parametrize("char", list("áíóúÁÍÓÚ"))
def test_each_accent_that_forces_ucs2(char: str) -> None:
    assert segments(char).encoding == "UCS-2"
    assert segments(smart_encode(char * 100)).encoding == "GSM-7"


def test_smart_encoding_keeps_spelling_when_it_saves_nothing() -> None:
    assert smart_encode("Número") == "Número"  # 1 segment either way
    long_pt = "Você recomendaria? número " * 5  # ê keeps it UCS-2 anyway
    assert smart_encode(long_pt) == long_pt


def test_the_mandated_spanish_question_is_one_gsm_segment_after_smart_encoding() -> None:
    assert segments(ES_QUESTION).count == 3  # the ú of "número" alone makes it UCS-2
    plain = smart_encode(ES_QUESTION)
    assert plain == ES_QUESTION.replace("ú", "u")
    assert (segments(plain).encoding, segments(plain).count) == ("GSM-7", 1)


DEFAULT_TEXTS = [
    pytest.param(lang, key, id=f"{lang}-{key}") for lang in ("es", "en", "pt") for key in MESSAGES
]


@pytest.mark.parametrize(("lang", "key"), DEFAULT_TEXTS)
def test_default_survey_texts_fit_two_sms_segments(lang: str, key: str) -> None:
    text = texts_for(lang, None, default="es", business="Tienda Ejemplo")(key, score=10)
    cost = segments(smart_encode(text))
    assert cost.count <= 2, (cost, text)


# --- sends against the fake ----------------------------------------------------------------------
@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    if not SPECS.is_dir():
        pytest.skip(f"provider specs not found at {SPECS}")
    with FakeTwilio() as f:
        yield f


def wa_channel(url: str, **extra: str) -> TwilioChannel:
    built = build_whatsapp(settings_from({**settings(url), **extra}))
    assert built is not None
    return built


INVITE = Template("HX0a1b2c3d4e5f60718293a4b5c6d7e8f9", {"1": "Ana"})


@needs_specs
def test_63016_sends_the_template_once_and_returns_its_sid(fake: FakeTwilio) -> None:
    fake.queue(Answer(400, error(63016)), Answer())
    sent = wa_channel(fake.url).send(
        Outbound(channel="whatsapp", to=CUSTOMER, text="¿Nos recomendarías?", template=INVITE)
    )
    assert [("Body" in r.form, "ContentSid" in r.form) for r in fake.requests] == [
        (True, False),
        (False, True),
    ]
    assert sent.provider_id.startswith("SM") and sent.segments is None
    assert fake.spec_problems == []


@needs_specs
def test_sms_send_reports_segments_and_the_queued_status(fake: FakeTwilio) -> None:
    sms = build_sms(settings_from(settings(fake.url)))
    assert sms is not None
    sent = sms.send(Outbound(channel="sms", to=CUSTOMER, text=ES_QUESTION))
    assert sent.segments == 1 and sent.status == "queued"


@needs_specs
def test_status_callback_uses_the_public_base_url(fake: FakeTwilio) -> None:
    ch = wa_channel(fake.url, PUBLIC_BASE_URL="https://nps.example.com/")
    ch.send(Outbound(channel="whatsapp", to=CUSTOMER, text="Hola"))
    assert (
        fake.requests[0].form["StatusCallback"] == "https://nps.example.com/webhooks/twilio/status"
    )


@needs_specs
def test_a_slow_twilio_times_out_after_http_timeout(fake: FakeTwilio) -> None:
    fake.queue(Answer(delay=2.0))
    ch = wa_channel(fake.url, HTTP_TIMEOUT="0.3")
    started = time.monotonic()
    with pytest.raises(SendFailed) as info:
        ch.send(Outbound(channel="whatsapp", to=CUSTOMER, text="Hola"))
    assert info.value.retryable
    assert time.monotonic() - started < 1.5
    assert "timed out" in str(info.value) and f"/Accounts/{ACCOUNT}/Messages.json" in str(
        info.value
    )


def test_an_unreachable_twilio_is_retryable() -> None:
    ch = wa_channel("http://127.0.0.1:9")  # discard port: connection refused
    with pytest.raises(SendFailed) as info:
        ch.send(Outbound(channel="whatsapp", to=CUSTOMER, text="Hola"))
    assert info.value.retryable
    # The failure line names where and why, never just "ConnectionError", and no secret.
    assert str(info.value) == (
        f"Twilio unreachable at 127.0.0.1:9/2010-04-01/Accounts/{ACCOUNT}/Messages.json: "
        "ConnectionError (Connection refused)"
    )
    assert TOKEN not in str(info.value)


# --- secrets never in logs ---------------------------------------------------------------
@needs_specs
def test_the_auth_token_never_reaches_the_logs(
    fake: FakeTwilio, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ch = wa_channel(fake.url)
    fake.queue(Answer(), Answer(400, error(21610)), Answer(500, error(20500, 500)))
    ch.send(Outbound(channel="whatsapp", to=CUSTOMER, text="Hola"))
    with pytest.raises(ContactStopped):
        ch.send(Outbound(channel="whatsapp", to=CUSTOMER, text="Hola"))
    with pytest.raises(SendFailed):
        ch.send(Outbound(channel="whatsapp", to=CUSTOMER, text="Hola"))
    ch.verify(WebRequest("POST", "http://x/webhooks/twilio", {"X-Twilio-Signature": "bad"}))
    basic = base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()
    assert caplog.records, "the test must exercise logging"
    assert TOKEN not in caplog.text and basic not in caplog.text
    assert TOKEN not in repr(ch) and TOKEN not in repr(vars(ch).get("sender"))
