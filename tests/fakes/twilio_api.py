"""A loopback Twilio REST API (2010-04-01 Messages), checked against Twilio's OpenAPI description.

Success answers are Message resources shaped like the spec's own examples; error answers use
Twilio's error body (`error(21610)`). Every request is checked against
`../shared/provider-specs/twilio_api_v2010.json` (and the Content API description): the path
matches a spec path template, the method exists there, required form fields are present, every
field is known, values fit their type / enum / pattern, and HTTP Basic auth names the account.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import format_datetime
from functools import cache
from typing import Any

from tests.fakes.base import SPECS, FakeProvider, Recorded

SPEC_FILES = ("twilio_api_v2010.json", "twilio_content_v1.json")
FORM = "application/x-www-form-urlencoded"
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_WA = re.compile(r"^whatsapp:\+?[A-Za-z0-9._-]{3,64}$")
_count = itertools.count(1)


def error(code: int, status: int = 400, message: str | None = None) -> dict[str, Any]:
    """Twilio's REST error body: https://www.twilio.com/docs/usage/twilios-response#response-formats-exceptions"""
    return {
        "code": code,
        "message": message or MESSAGES.get(code, "Error"),
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


# Twilio's own wording of the errors the rows use.
MESSAGES = {
    20003: "Authenticate",
    20429: "Too Many Requests",
    21211: "The 'To' number +15005550001 is not a valid phone number.",
    21610: "Attempt to send to unsubscribed recipient",
    21612: "The 'To' phone number is not currently reachable using the 'From' phone number",
    21614: "'To' number is not a valid mobile number",
    63016: (
        "Failed to send freeform message because you are outside the allowed window. "
        "If you are using WhatsApp, please use a Message Template."
    ),
    63018: "Rate limit exceeded for Channel",
    63024: "Invalid message recipient",
}


@cache
def _specs() -> tuple[dict[str, Any], ...]:
    return tuple(json.loads((SPECS / name).read_text()) for name in SPEC_FILES)


@cache
def _routes() -> tuple[tuple[re.Pattern[str], dict[str, Any], dict[str, Any]], ...]:
    out = []
    for spec in _specs():
        for template, item in spec["paths"].items():
            regex = re.sub(r"\\\{[^}]+\\\}", "([^/]+)", re.escape(template))
            out.append((re.compile(f"^{regex}$"), item, spec))
    return tuple(out)


def _resolve(spec: Mapping[str, Any], schema: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = schema.get("$ref")
    if not ref:
        return schema
    node: Any = spec
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return _resolve(spec, node)


def _check_value(name: str, value: str, schema: Mapping[str, Any]) -> list[str]:
    kind = schema.get("type", "string")
    if kind == "array":
        return _check_value(name, value, schema.get("items", {}))
    if kind == "integer" and not re.fullmatch(r"-?\d+", value):
        return [f"{name}={value!r} is not an integer"]
    if kind == "number":
        try:
            float(value)
        except ValueError:
            return [f"{name}={value!r} is not a number"]
    if kind == "boolean" and value.lower() not in ("true", "false"):
        return [f"{name}={value!r} is not true/false"]
    out: list[str] = []
    if "enum" in schema and value not in schema["enum"]:
        out.append(f"{name}={value!r} not one of {schema['enum']}")
    if "pattern" in schema and not re.search(schema["pattern"], value):
        out.append(f"{name}={value!r} does not match {schema['pattern']}")
    if len(value) < schema.get("minLength", 0) or len(value) > schema.get("maxLength", 10**9):
        out.append(f"{name}={value!r} has a length outside the spec's bounds")
    fmt = schema.get("format")
    ignore = schema.get("x-twilio", {}).get("ignoreFormat")
    if fmt == "phone-number" and not (_E164.match(value) or _WA.match(value)):
        out.append(f"{name}={value!r} is neither E.164 nor a whatsapp: address")
    if fmt == "uri" and not ignore:
        host = re.match(r"^https?://([^/?#]+)", value)
        if not host:
            out.append(f"{name}={value!r} is not an absolute http(s) URL")
        elif "_" in host.group(1):
            out.append(f"{name}={value!r}: Twilio rejects underscores in the host")
    return out


class FakeTwilio(FakeProvider):
    """Start with `with FakeTwilio() as fake:` and set TWILIO_API_URL=fake.url."""

    def default_body(self, req: Recorded) -> Mapping[str, Any]:
        m = re.match(r"^/2010-04-01/Accounts/(AC[0-9a-fA-F]{32})/Messages\.json$", req.path)
        if req.method != "POST" or not m:
            return error(20404, 404, "The requested resource was not found")
        account, f = m.group(1), req.form
        sid = f"SM{next(_count):032x}"
        stamp = format_datetime(datetime.now(UTC), usegmt=False)
        body = f.get("Body", "")
        return {
            "account_sid": account,
            "api_version": "2010-04-01",
            "body": body,
            "date_created": stamp,
            "date_sent": None,
            "date_updated": stamp,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": f.get("From"),
            "messaging_service_sid": f.get("MessagingServiceSid"),
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            # A messaging service first "accepts" a message, then queues it.
            "status": "accepted" if "MessagingServiceSid" in f else "queued",
            "subresource_uris": {
                "media": f"/2010-04-01/Accounts/{account}/Messages/{sid}/Media.json"
            },
            "to": f.get("To"),
            "uri": f"/2010-04-01/Accounts/{account}/Messages/{sid}.json",
        }

    def problems(self, req: Recorded) -> list[str]:
        if not SPECS.is_dir():
            return [f"provider specs not found at {SPECS}"]
        path = req.path
        found = next(((r.match(path), i, s) for r, i, s in _routes() if r.match(path)), None)
        if found is None:
            return ["no such path in Twilio's API description"]
        m, item, spec = found
        assert m is not None
        op = item.get(req.method.lower())
        if op is None:
            return [f"method {req.method} not allowed here (spec has {sorted(item)})"]
        out = self._auth(req, m.groups())
        body = op.get("requestBody", {}).get("content", {})
        if req.method in ("POST", "PUT") and FORM in body:
            ctype = req.headers.get("Content-Type", "")
            if not ctype.startswith(FORM):
                out.append(f"Content-Type {ctype!r} is not {FORM}")
            schema = _resolve(spec, body[FORM]["schema"])
            props = schema.get("properties", {})
            required = schema.get("required", [])
            out += [f"missing required field {k}" for k in required if k not in req.form]
            for name, value in req.form.items():
                if name not in props:
                    out.append(f"unknown field {name}")
                else:
                    out += _check_value(name, str(value), _resolve(spec, props[name]))
        if req.path.endswith("/Messages.json") and req.method == "POST":
            out += self._message_rules(req.form)
        return out

    @staticmethod
    def _auth(req: Recorded, path_args: tuple[str, ...]) -> list[str]:
        header = next((v for k, v in req.headers.items() if k.lower() == "authorization"), "")
        if not header.startswith("Basic "):
            return ["no HTTP Basic auth (account SID and auth token)"]
        user = base64.b64decode(header[6:]).decode().partition(":")[0]
        accounts = [a for a in path_args if a.startswith("AC")]
        if accounts and user != accounts[0]:
            return [f"Basic auth user {user!r} is not the account in the path"]
        return []

    @staticmethod
    def _message_rules(form: Mapping[str, Any]) -> list[str]:
        """Rules from Twilio's Message resource docs that the OpenAPI schema cannot express."""
        out = []
        if not (form.get("From") or form.get("MessagingServiceSid")):
            out.append("one of From or MessagingServiceSid is required (error 21603)")
        if not (form.get("Body") or form.get("MediaUrl") or form.get("ContentSid")):
            out.append("one of Body, MediaUrl or ContentSid is required (error 21602)")
        if "ContentVariables" in form:
            if "ContentSid" not in form:
                out.append("ContentVariables without ContentSid")
            try:
                variables = json.loads(form["ContentVariables"])
                if not isinstance(variables, dict):
                    out.append("ContentVariables is not a JSON object")
            except ValueError:
                out.append("ContentVariables is not JSON")
        wa_to = str(form.get("To", "")).startswith("whatsapp:")
        wa_from = str(form.get("From", "whatsapp:" if wa_to else "")).startswith("whatsapp:")
        if wa_to != wa_from:
            out.append("To and From must both be whatsapp: addresses, or neither (error 63007)")
        if len(str(form.get("Body", ""))) > 1600:
            out.append("Body longer than 1600 characters (error 21617)")
        return out
