"""Twilio Messaging: one adapter, configured twice ("sms" and "whatsapp"), one webhook URL.

Inbound: `POST /webhooks/twilio` (messages) and `POST /webhooks/twilio/status` (delivery
callbacks), both signed with `X-Twilio-Signature`. Replies go back inline as TwiML. Outbound:
the real `twilio` client, pointed at `TWILIO_API_URL` when set, with an explicit timeout.
Set-up guide: docs/twilio.md. Over 400 lines: one adapter, its parse, send and error map kept
together because both senders share them.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit
from xml.sax.saxutils import escape

from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from channels.base import (
    DeliveryStatus,
    Inbound,
    OptOutKind,
    Outbound,
    Parsed,
    Sent,
    StatusUpdate,
    TwilioSettings,
    WebRequest,
    WebResponse,
    render_text,
)
from channels.errors import (
    BadPayload,
    ChannelConfig,
    ContactStopped,
    OutsideWindow,
    SendError,
    SendFailed,
    Throttled,
    Unreachable,
)
from channels.sms_segments import segments, smart_encode

log = logging.getLogger(__name__)

API = "https://api.twilio.com"
ROUTE = "twilio"
STATUS_PATH = "/webhooks/twilio/status"
# Where Twilio's callbacks go when PUBLIC_BASE_URL is unset (local runs, tests).
LOCAL_BASE = "http://127.0.0.1:8000"
WA = "whatsapp:"
TWIML = "text/xml; charset=utf-8"
# Settings never to be logged (bot/logs.py masks them): the token signs webhooks and API calls.
SECRETS = ("twilio_auth_token",)

# Twilio's MessageStatus values -> ours. "sending"/"accepted"/"scheduled" are still queued at
# Twilio; "receiving"/"received" describe inbound messages and are ignored.
# https://www.twilio.com/docs/messaging/api/message-resource#message-status-values
STATUSES = {
    "accepted": DeliveryStatus.QUEUED,
    "scheduled": DeliveryStatus.QUEUED,
    "queued": DeliveryStatus.QUEUED,
    "sending": DeliveryStatus.QUEUED,
    "sent": DeliveryStatus.SENT,
    "partially_delivered": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.READ,
    "failed": DeliveryStatus.FAILED,
    "canceled": DeliveryStatus.FAILED,
    "undelivered": DeliveryStatus.UNDELIVERED,
}

OPT_OUTS = {"STOP": OptOutKind.STOP, "START": OptOutKind.START, "HELP": OptOutKind.HELP}

# --- provider error codes -> typed errors (the dispatcher decides from the type) -------------
# https://www.twilio.com/docs/api/errors/21610 : the recipient replied STOP to this sender.
STOPPED = {21610}
UNREACHABLE = {
    21211,  # https://www.twilio.com/docs/api/errors/21211 : invalid 'To' number
    21612,  # https://www.twilio.com/docs/api/errors/21612 : 'To' not reachable from this sender
    21614,  # https://www.twilio.com/docs/api/errors/21614 : 'To' is not a mobile number
    63024,  # https://www.twilio.com/docs/api/errors/63024 : invalid WhatsApp recipient
}
# https://www.twilio.com/docs/api/errors/63016 : free-form WhatsApp outside the 24 h window.
OUTSIDE_WINDOW = {63016}
THROTTLED = {
    20429,  # https://www.twilio.com/docs/api/errors/20429 : too many requests
    63018,  # https://www.twilio.com/docs/api/errors/63018 : WhatsApp rate limit exceeded
}
CONFIG = {
    20003,  # https://www.twilio.com/docs/api/errors/20003 : authentication failed (SID/token)
    20404,  # https://www.twilio.com/docs/api/errors/20404 : resource not found (wrong account)
    21212,  # https://www.twilio.com/docs/api/errors/21212 : invalid 'From' number
    21606,  # https://www.twilio.com/docs/api/errors/21606 : 'From' cannot send SMS
    21659,  # https://www.twilio.com/docs/api/errors/21659 : 'From' is not a Twilio number
    21703,  # https://www.twilio.com/docs/api/errors/21703 : messaging service has no senders
    63007,  # https://www.twilio.com/docs/api/errors/63007 : no WhatsApp sender for 'From'
}


class _Http(TwilioHttpClient):  # type: ignore[misc]
    """Twilio's own HTTP client (a supported extension point), with two additions: requests for
    https://api.twilio.com go to `base` when set (TWILIO_API_URL), and the last answer's
    headers are kept per thread (Retry-After)."""

    def __init__(self, base: str | None, timeout: float) -> None:
        super().__init__(timeout=timeout, logger=logging.getLogger(f"{__name__}.http"))
        self.base = base.rstrip("/") if base else None
        self.last = threading.local()

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        if self.base and url.startswith(API):
            url = self.base + url[len(API) :]
        self.last.headers = {}
        answer = super().request(method, url, **kwargs)
        self.last.headers = dict(answer.headers or {})
        return answer

    def retry_after(self) -> float | None:
        headers = getattr(self.last, "headers", {})
        value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None  # an HTTP date: let the dispatcher's own backoff decide


class _Multi(dict[str, list[str]]):
    """Every value of every form field, in the shape RequestValidator reads (`getall`)."""

    def getall(self, name: str) -> list[str]:  # the first accessor the validator tries
        return self[name]


def _first(value: str | None) -> str | None:
    """The client-side value of a forwarded header that proxies may have appended to."""
    if not value:
        return None
    return value.split(",")[0].strip() or None


def now() -> datetime:
    return datetime.now(UTC)


class TwilioChannel:
    """One Twilio sender: `name` is "sms" or "whatsapp"; both verify and parse either kind."""

    route = ROUTE
    inline_replies = True
    # Arbitrary button rows need a pre-created Content template; text channels use the ladder.
    supports_buttons = False

    def __init__(self, name: str, settings: TwilioSettings, *, smart_encoding: bool = True) -> None:
        if not (settings.twilio_account_sid and settings.twilio_auth_token):
            raise ValueError("Twilio needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN")
        self.name = name
        self.smart_encoding = smart_encoding and name == "sms"
        self.public_base = (
            settings.public_base_url.rstrip("/") if settings.public_base_url else None
        )
        self.status_url = (self.public_base or LOCAL_BASE) + STATUS_PATH
        self.sender = self._sender(name, settings)
        self._validator = RequestValidator(settings.twilio_auth_token)
        self._http = _Http(settings.twilio_api_url, settings.http_timeout)
        # `environment={}`: TWILIO_EDGE/TWILIO_REGION in the process env must not reroute us.
        self._client = Client(
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            http_client=self._http,
            environment={},
        )

    def __repr__(self) -> str:  # never the token
        return f"TwilioChannel({self.name!r})"

    def close(self) -> None:
        """Release pooled connections (Runtime.close calls this)."""
        if self._http.session is not None:
            self._http.session.close()

    @staticmethod
    def _sender(name: str, s: TwilioSettings) -> dict[str, str]:
        if name == "whatsapp":
            if not s.twilio_whatsapp_from:
                raise ValueError("the whatsapp channel needs TWILIO_WHATSAPP_FROM")
            return {"from_": WA + s.twilio_whatsapp_from.removeprefix(WA)}
        # A messaging service picks the sender from its pool (and adds its own features).
        if s.twilio_messaging_service_sid:
            return {"messaging_service_sid": s.twilio_messaging_service_sid}
        if not s.twilio_sms_from:
            raise ValueError(
                "the sms channel needs TWILIO_SMS_FROM or TWILIO_MESSAGING_SERVICE_SID"
            )
        return {"from_": s.twilio_sms_from}

    # --- inbound ------------------------------------------------------------------------------
    def signed_url(self, req: WebRequest) -> str:
        """The URL Twilio signed: the public one, as configured or as the proxy forwarded it."""
        parts = urlsplit(req.url)
        if self.public_base:
            pub = urlsplit(self.public_base)
            prefix = pub.path.rstrip("/")
            path = parts.path
            # A proxy that strips a path prefix (https://host/nps -> app at /) must get it back.
            if prefix and not path.startswith(prefix + "/"):
                path = prefix + path
            return urlunsplit((pub.scheme, pub.netloc, path, parts.query, ""))
        scheme = _first(req.header("X-Forwarded-Proto")) or parts.scheme
        host = _first(req.header("X-Forwarded-Host")) or parts.netloc
        port = _first(req.header("X-Forwarded-Port"))
        if port and ":" not in host and port != {"https": "443", "http": "80"}.get(scheme):
            host = f"{host}:{port}"
        return urlunsplit((scheme, host, parts.path, parts.query, ""))

    @staticmethod
    def _params(req: WebRequest) -> _Multi:
        """Every received parameter, repeated ones included (Twilio signs them all)."""
        out = _Multi()
        ctype = (req.header("Content-Type") or "").lower()
        if req.body and "json" not in ctype:
            for key, value in parse_qsl(
                req.body.decode("utf-8", "replace"), keep_blank_values=True
            ):
                out.setdefault(key, []).append(value)
        if not out:
            out.update({k: [v] for k, v in req.form.items()})
        return out

    @staticmethod
    def _form(req: WebRequest) -> Mapping[str, str]:
        if req.form:
            return req.form
        return {k: v[-1] for k, v in TwilioChannel._params(req).items()}

    def verify(self, request: WebRequest) -> bool:
        signature = request.header("X-Twilio-Signature")
        if not signature:
            return False
        url = self.signed_url(request)
        ok = bool(self._validator.validate(url, self._params(request), signature))
        if not ok:
            # The URL is what usually differs behind a proxy; it holds no secret.
            log.warning("twilio signature mismatch for %s (check PUBLIC_BASE_URL)", url)
        return ok

    def parse(self, request: WebRequest) -> Parsed:
        form = self._form(request)
        path = urlsplit(request.url).path.rstrip("/")
        # A status callback pointed at the inbound URL (a messaging service setting) is still one.
        if path.endswith("/status") or ("MessageStatus" in form and "Body" not in form):
            return Parsed(statuses=self._status(form))
        sid = form.get("MessageSid") or form.get("SmsMessageSid") or form.get("SmsSid")
        sender = form.get("From")
        if not sid or not sender:
            raise BadPayload("a Twilio message webhook always has MessageSid and From")
        channel, address = self._address(sender)
        if channel is None:
            # Refused, not dropped: Twilio's debugger shows the 400 (error 11200) and its reason.
            raise BadPayload(
                f"From {sender.split(':')[0][:32]!r}: is a Twilio channel npsbot does not serve "
                "(only SMS numbers and whatsapp:)"
            )
        try:
            media = int(form.get("NumMedia") or 0)
        except ValueError as exc:
            raise BadPayload(f"NumMedia is not a number: {form.get('NumMedia')!r}") from exc
        msg = Inbound(
            channel=channel,
            provider_id=sid,
            sender=address,
            text=form.get("Body", ""),
            received_at=now(),
            sender_name=form.get("ProfileName") or None,
            media_count=media,
            button=form.get("ButtonPayload") or None,
            reply_to=form.get("OriginalRepliedMessageSid") or None,
            opt_out=OPT_OUTS.get((form.get("OptOutType") or "").upper()),
        )
        return Parsed(messages=(msg,))

    @staticmethod
    def _address(raw: str) -> tuple[str | None, str]:
        """("whatsapp", "+52…") for `whatsapp:+52…` (a business-scoped id is kept as is)."""
        if raw.startswith(WA):
            return "whatsapp", raw[len(WA) :]
        prefix, colon, _ = raw.partition(":")
        # messenger:, rcs:, … (and a capitalised WhatsApp:, which Twilio never sends) are
        # channels this adapter does not serve.
        if colon and prefix.isalpha():
            return None, raw
        return "sms", raw

    @staticmethod
    def _status(form: Mapping[str, str]) -> tuple[StatusUpdate, ...]:
        sid = form.get("MessageSid") or form.get("SmsSid")
        raw = (form.get("MessageStatus") or form.get("SmsStatus") or "").lower()
        if not sid or not raw:
            raise BadPayload("a Twilio status callback always has MessageSid and MessageStatus")
        status = STATUSES.get(raw)
        if status is None:
            return ()
        wa = form.get("ChannelPrefix") == "whatsapp" or any(
            form.get(k, "").startswith(WA) for k in ("To", "From")
        )
        update = StatusUpdate(
            channel="whatsapp" if wa else "sms",
            provider_id=sid,
            status=status,
            error_code=form.get("ErrorCode") or None,
            at=now(),
            # https://www.twilio.com/docs/api/errors/63016 : free-form text outside the window
            outside_window=form.get("ErrorCode") == "63016",
        )
        return (update,)

    def respond(self, request: WebRequest, replies: Sequence[Outbound]) -> WebResponse:
        if not replies:
            return WebResponse(200, b'<?xml version="1.0" encoding="UTF-8"?><Response/>', TWIML)
        sms = not self._form(request).get("From", "").startswith(WA)
        parts = ['<?xml version="1.0" encoding="UTF-8"?><Response>']
        for reply in replies:
            text = render_text(reply)
            if sms and self.smart_encoding:
                text = smart_encode(text)
            parts.append(f"<Message>{escape(text)}</Message>")
        parts.append("</Response>")
        return WebResponse(200, "".join(parts).encode(), TWIML)

    # --- outbound -----------------------------------------------------------------------------
    def send(self, msg: Outbound) -> Sent:
        to = msg.to
        if self.name == "whatsapp" and not to.startswith(WA):
            to = WA + to
        base: dict[str, Any] = {"to": to, "status_callback": self.status_url, **self.sender}
        wa = self.name == "whatsapp"
        if wa and msg.needs_template:
            if msg.template is None:
                raise OutsideWindow("free-form WhatsApp outside the 24 h window needs a template")
            return self._template(base, msg)
        text = render_text(msg)
        if self.smart_encoding:
            text = smart_encode(text)
        try:
            return self._create({**base, "body": text}, text)
        except OutsideWindow:
            # 63016: the window closed since we last looked; the approved template still goes.
            if wa and msg.template is not None:
                return self._template(base, msg)
            raise

    def _template(self, base: Mapping[str, Any], msg: Outbound) -> Sent:
        assert msg.template is not None
        fields = {
            **base,
            "content_sid": msg.template.sid,
            "content_variables": json.dumps(dict(msg.template.variables), ensure_ascii=False),
        }
        return self._create(fields, None)

    def _create(self, fields: Mapping[str, Any], text: str | None) -> Sent:
        try:
            message = self._client.messages.create(**fields)
        except TwilioException as exc:
            raise self._error(exc) from None
        except OSError as exc:  # requests' timeouts and connection errors are OSErrors
            why = unreachable(exc)
            log.warning("twilio %s send failed: %s", self.name, why)
            raise SendFailed(why, retryable=True) from None
        count = segments(text).count if text is not None and self.name == "sms" else None
        status = STATUSES.get(str(message.status or ""), DeliveryStatus.QUEUED)
        log.info("twilio %s accepted %s (%s segments)", self.name, message.sid, count)
        return Sent(provider_id=str(message.sid), status=status, segments=count)

    def _error(self, exc: TwilioException) -> SendError:
        code = _int(getattr(exc, "code", None))
        status = _int(getattr(exc, "status", None)) or 0
        why = f"Twilio {status} error {code}: {getattr(exc, 'msg', '') or type(exc).__name__}"
        log.warning("twilio %s send failed: %s", self.name, why)
        if code in STOPPED:
            return ContactStopped(why, code=code)
        if code in UNREACHABLE:
            return Unreachable(why, code=code)
        if code in OUTSIDE_WINDOW:
            return OutsideWindow(why, code=code)
        if code in THROTTLED or status == 429:
            return Throttled(why, code=code, retry_after=self._http.retry_after())
        if code in CONFIG or status in (401, 403):
            return ChannelConfig(why, code=code)
        # Twilio's own trouble is worth another try; a rejected request is not.
        return SendFailed(why, code=code, retryable=status >= 500)


def unreachable(exc: OSError) -> str:
    """'Twilio unreachable at host/path: ConnectionError (Connection refused)': where and why,
    without the credentials (no userinfo or query string; the path holds only the account SID)."""
    url = getattr(getattr(exc, "request", None), "url", None)
    where = ""
    if isinstance(url, str) and url:
        parts = urlsplit(url)
        host = parts.hostname or ""
        where = f" at {host}{f':{parts.port}' if parts.port else ''}{parts.path}"
    return f"Twilio unreachable{where}: {type(exc).__name__} ({_cause(exc)})"


def _cause(exc: BaseException) -> str:
    """The innermost reason of a requests/urllib3 failure: 'Connection refused', 'timed out'."""
    seen: set[int] = set()
    current: BaseException = exc
    while id(current) not in seen:
        seen.add(id(current))
        # requests wraps urllib3's MaxRetryError (args[0]), which holds the reason; the socket
        # error is the cause of urllib3's NewConnectionError.
        inner = getattr(current, "reason", None) or current.__cause__
        if inner is None and current.args and isinstance(current.args[0], BaseException):
            inner = current.args[0]
        if not isinstance(inner, BaseException):
            break
        current = inner
    if isinstance(current, OSError) and current.strerror:
        return current.strerror
    # urllib3's messages start with the pool's repr ("HTTPConnectionPool(host=…): Read timed out.")
    return str(current).rsplit("): ", 1)[-1] or type(current).__name__


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def build_sms(settings: TwilioSettings) -> TwilioChannel | None:
    s = settings
    if not (s.twilio_account_sid and s.twilio_auth_token):
        return None
    if not (s.twilio_sms_from or s.twilio_messaging_service_sid):
        return None
    # SMS_SMART_ENCODING defaults on: see channels/sms_segments.py.
    return TwilioChannel("sms", s, smart_encoding=s.sms_smart_encoding)


def build_whatsapp(settings: TwilioSettings) -> TwilioChannel | None:
    s = settings
    if not (s.twilio_account_sid and s.twilio_auth_token and s.twilio_whatsapp_from):
        return None
    return TwilioChannel("whatsapp", s)
