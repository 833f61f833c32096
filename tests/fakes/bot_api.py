"""A loopback Telegram Bot API: `/bot<token>/<method>`, answers shaped like the real server's.

Every call is checked against the Bot API description in `SPECS/telegram_bot_api.json`: the
method exists, required fields are present, every field is known and has the right type (nested
objects such as reply_markup are checked field by field), and the documented limits hold
(callback_data 1-64 bytes, text 1-4096 characters, secret_token alphabet).

python-telegram-bot posts form-encoded bodies whose values are strings (objects JSON-encoded).
`problems()` first normalises them in place by the spec's types (integers, booleans, decoded
objects and arrays), so rows compare structures: `{"chat_id": 42, "reply_markup": {...}}`.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections.abc import Mapping
from functools import cache
from typing import Any

from tests.fakes.base import SPECS, FakeProvider, Recorded

SPEC_FILE = SPECS / "telegram_bot_api.json"
TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ"  # the shape BotFather gives (35 chars)
BOT_USER = {
    "id": 123456789,
    "is_bot": True,
    "first_name": "Acme NPS",
    "username": "acme_nps_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}

# Error bodies exactly as the Bot API sends them (https://core.telegram.org/bots/api#making-requests).
BLOCKED = {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}
DEACTIVATED = {"ok": False, "error_code": 403, "description": "Forbidden: user is deactivated"}
CHAT_NOT_FOUND = {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}
NOT_MODIFIED = {
    "ok": False,
    "error_code": 400,
    "description": "Bad Request: message is not modified: specified new message content and "
    "reply markup are exactly the same as a current content and reply markup of the message",
}
QUERY_TOO_OLD = {
    "ok": False,
    "error_code": 400,
    "description": "Bad Request: query is too old and response timeout expired or query ID is "
    "invalid",
}
UNAUTHORIZED = {"ok": False, "error_code": 401, "description": "Unauthorized"}
SERVER_ERROR = {"ok": False, "error_code": 500, "description": "Internal Server Error"}


def flood(seconds: int) -> dict[str, Any]:
    # https://core.telegram.org/bots/api#responseparameters
    return {
        "ok": False,
        "error_code": 429,
        "description": f"Too Many Requests: retry after {seconds}",
        "parameters": {"retry_after": seconds},
    }


@cache
def spec() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SPEC_FILE.read_text(encoding="utf-8"))
    return data


_PATH = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>[A-Za-z]+)$")
_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]{30,}$")
_SCALARS = {"Integer", "String", "Boolean", "Float", "Float number", "InputFile"}


class FakeBotApi(FakeProvider):
    """`fake.push_update({...})` queues an update for getUpdates (long polling)."""

    def __init__(self) -> None:
        super().__init__()
        # The stdlib server listens with a backlog of 5; concurrent sends would see dropped
        # connects (1 s retransmits, i.e. timeouts) that the real Bot API never causes.
        self._server.socket.listen(128)
        self._ids = itertools.count(1001)
        self._updates: list[dict[str, Any]] = []
        self._cond = threading.Condition()

    # --- getUpdates queue -------------------------------------------------------------------
    def push_update(self, *updates: Mapping[str, Any]) -> None:
        with self._cond:
            self._updates.extend(dict(u) for u in updates)
            self._cond.notify_all()

    def _take(self, offset: int | None, timeout: float) -> list[dict[str, Any]]:
        deadline = time.monotonic() + min(timeout, 5.0)
        with self._cond:
            while True:
                # Calling with an offset confirms every update below it.
                if offset is not None:
                    self._updates = [u for u in self._updates if u["update_id"] >= offset]
                if self._updates or time.monotonic() >= deadline:
                    return list(self._updates)
                self._cond.wait(0.05)

    # --- answers ----------------------------------------------------------------------------
    def method(self, req: Recorded) -> str:
        m = _PATH.match(req.path)
        return m.group("method") if m else ""

    def default_body(self, req: Recorded) -> Mapping[str, Any]:
        method = self.method(req)
        f = req.form
        now = int(time.time())
        if method == "getMe":
            return ok(BOT_USER)
        if method in ("answerCallbackQuery", "setWebhook", "deleteWebhook"):
            return ok(True)
        if method == "getWebhookInfo":
            return ok({"url": "", "has_custom_certificate": False, "pending_update_count": 0})
        if method == "getUpdates":
            offset = f.get("offset")
            return ok(
                self._take(None if offset is None else int(offset), float(f.get("timeout") or 0))
            )
        if method == "sendMessage":
            return ok(self._message(f, next(self._ids), now))
        if method == "editMessageText":
            return ok(self._message(f, int(f.get("message_id", 0)), now, edit_date=now))
        return {"ok": False, "error_code": 404, "description": "Not Found"}

    def _message(self, f: Mapping[str, Any], mid: int, now: int, **extra: Any) -> dict[str, Any]:
        cid = int(f.get("chat_id", 0))
        chat = (
            {"id": cid, "type": "private", "first_name": "Ana"}
            if cid > 0
            else {"id": cid, "type": "supergroup", "title": "Acme staff"}
        )
        msg: dict[str, Any] = {
            "message_id": mid,
            "from": {k: BOT_USER[k] for k in ("id", "is_bot", "first_name", "username")},
            "chat": chat,
            "date": now,
            "text": f.get("text", ""),
            **extra,
        }
        if isinstance(f.get("reply_markup"), dict):
            msg["reply_markup"] = f["reply_markup"]
        return msg

    # --- spec checks ------------------------------------------------------------------------
    def problems(self, req: Recorded) -> list[str]:
        m = _PATH.match(req.path)
        if not m:
            return [f"not a Bot API path (/bot<token>/<method>): {req.path}"]
        out: list[str] = []
        if not _TOKEN.match(m.group("token")):
            out.append("the token in the path does not look like a BotFather token")
        if req.method not in ("GET", "POST"):
            out.append(f"the Bot API takes GET or POST, not {req.method}")
        if not SPEC_FILE.is_file():
            return out
        method = m.group("method")
        desc = spec()["methods"].get(method)
        if desc is None:
            return [*out, f"no Bot API method {method!r}"]
        fields = {f["name"]: f for f in desc.get("fields", [])}
        for name, value in list(req.form.items()):
            if name not in fields:
                out.append(f"{method}: unknown field {name!r}")
                continue
            decoded, why = _normalise(value, fields[name]["types"])
            req.form[name] = decoded
            if why:
                out.append(f"{method}.{name}: {why}")
            else:
                out += [f"{method}.{name}{p}" for p in _check(decoded, fields[name]["types"])]
        for name, f in fields.items():
            if f["required"] and name not in req.form:
                out.append(f"{method}: required field {name!r} missing")
        return out + _limits(method, req.form)


def ok(result: Any) -> dict[str, Any]:
    return {"ok": True, "result": result}


def _normalise(value: Any, types: list[str]) -> tuple[Any, str | None]:
    """A form string as the value the spec describes (JSON bodies pass through)."""
    if not isinstance(value, str):
        return value, None
    if "Integer" in types and re.fullmatch(r"-?\d+", value):
        return int(value), None
    if "Boolean" in types and value in ("true", "false", "True", "False"):
        return value.lower() == "true", None
    if "String" in types or "InputFile" in types:
        return value, None
    if "Float" in types or "Float number" in types:
        try:
            return float(value), None
        except ValueError:
            return value, f"expected a number, got {value!r}"
    try:
        return json.loads(value), None
    except ValueError:
        return value, f"expected JSON ({' or '.join(types)}), got {value!r}"


def _check(value: Any, types: list[str], depth: int = 0) -> list[str]:
    """Problems of `value` against any one of `types` (empty when one of them fits)."""
    best: list[str] | None = None
    for kind in types:
        found = _check_one(value, kind, depth)
        if not found:
            return []
        if best is None or len(found) < len(best):
            best = found
    return best or []


def _check_one(value: Any, kind: str, depth: int) -> list[str]:
    if kind.startswith("Array of "):
        if not isinstance(value, list):
            return [f": expected an array, got {type(value).__name__}"]
        inner = kind.removeprefix("Array of ")
        out: list[str] = []
        for i, item in enumerate(value):
            out += [f"[{i}]{p}" for p in _check(item, [inner], depth + 1)]
        return out
    if kind == "Integer":
        ok_ = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok_ else [f": expected an integer, got {value!r}"]
    if kind in ("Float", "Float number"):
        return [] if isinstance(value, int | float) else [f": expected a number, got {value!r}"]
    if kind == "Boolean":
        return [] if isinstance(value, bool) else [f": expected a boolean, got {value!r}"]
    if kind in ("String", "InputFile"):
        return [] if isinstance(value, str) else [f": expected a string, got {value!r}"]
    desc = spec()["types"].get(kind)
    if desc is None:
        return []  # a type the spec does not describe: nothing to check
    if desc.get("subtypes"):
        return _check(value, desc["subtypes"], depth)
    if not isinstance(value, dict):
        return [f": expected a {kind} object, got {value!r}"]
    fields = {f["name"]: f for f in desc.get("fields", [])}
    out = []
    for name, item in value.items():
        if name not in fields:
            out.append(f".{name}: unknown field of {kind}")
        else:
            out += [f".{name}{p}" for p in _check(item, fields[name]["types"], depth + 1)]
    for name, f in fields.items():
        if f["required"] and name not in value:
            out.append(f": {kind} requires {name!r}")
    return out


def _limits(method: str, form: Mapping[str, Any]) -> list[str]:
    """Documented limits the types alone do not say."""
    out = []
    text = form.get("text")
    long = isinstance(text, str) and not 1 <= len(text) <= 4096
    if method in ("sendMessage", "editMessageText") and long and isinstance(text, str):
        out.append(f"{method}.text: must be 1-4096 characters, got {len(text)}")
    if method == "answerCallbackQuery" and isinstance(text, str) and len(text) > 200:
        out.append("answerCallbackQuery.text: at most 200 characters")
    if (
        method == "editMessageText"
        and "inline_message_id" not in form
        and not ("chat_id" in form and "message_id" in form)
    ):
        out.append("editMessageText: chat_id and message_id (or inline_message_id) required")
    markup = form.get("reply_markup")
    if isinstance(markup, dict):
        for row in markup.get("inline_keyboard", []):
            for button in row if isinstance(row, list) else []:
                data = button.get("callback_data") if isinstance(button, dict) else None
                if isinstance(data, str) and not 1 <= len(data.encode()) <= 64:
                    out.append(f"{method}: callback_data must be 1-64 bytes: {data!r}")
    secret = form.get("secret_token")
    if isinstance(secret, str) and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
        out.append("setWebhook.secret_token: 1-256 characters of A-Za-z0-9_-")
    updates = form.get("allowed_updates")
    if isinstance(updates, list) and SPEC_FILE.is_file():
        known = {f["name"] for f in spec()["types"]["Update"]["fields"]} - {"update_id"}
        out += [
            f"{method}.allowed_updates: unknown update type {u!r}"
            for u in updates
            if u not in known
        ]
    return out
