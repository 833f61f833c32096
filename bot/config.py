"""Settings from environment variables (and an optional `.env`), validated once at start-up.

Every variable is documented in the README's configuration table; `VARIABLES` below is the
source of that table. A bad value stops start-up with a message naming the variable.
Over 400 lines: every setting is declared, documented and validated here, in one place.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import timedelta
from pathlib import Path
from typing import Any

from dotenv import dotenv_values
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from channels import registry

LANGUAGES = ("es", "en", "pt")


class ConfigError(ValueError):
    """One or more settings are wrong; `problems` maps each variable to what is wrong."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.problems = dict(problems)
        lines = [f"{k}: {v}" for k, v in self.problems.items()]
        super().__init__("invalid configuration:\n  " + "\n  ".join(lines))


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///npsbot.db"
    database_pool_size: int = 10
    secret_key: str = field(default_factory=lambda: secrets.token_hex(32), repr=False)
    public_base_url: str | None = None
    trusted_proxies: int = 0
    default_language: str = "es"
    default_country: str = "MX"
    business_name: str = "npsbot"
    sandbox_enabled: bool = True
    scheduler_enabled: bool = True
    surveys_file: str | None = None
    log_level: str = "INFO"
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = field(default=None, repr=False)
    twilio_sms_from: str | None = None
    twilio_messaging_service_sid: str | None = None
    twilio_whatsapp_from: str | None = None
    twilio_api_url: str | None = None
    telegram_bot_token: str | None = field(default=None, repr=False)
    telegram_webhook_secret: str | None = field(default=None, repr=False)
    telegram_api_url: str | None = None
    # Shops that trigger surveys (bot/integrations/shops/, docs/integrations.md).
    shops_file: str | None = None
    tiendanube_api_url: str = "https://api.tiendanube.com"
    tiendanube_user_agent: str = "npsbot"
    staff_telegram_chat_id: str | None = None
    # Staff alerts and cases (bot/staff/, docs/staff.md).
    staff_escalation_chat_id: str | None = None
    staff_telegram_user_ids: str | None = None
    staff_notify_urls: str | None = field(default=None, repr=False)  # URLs carry tokens
    staff_take_minutes: int = 30
    staff_resolve_hours: int = 24
    staff_show_names: bool = False
    staff_digest: str = "off"
    staff_digest_hour: int = 9
    reason_timeout_minutes: int = 30
    contact_fatigue_days: int = 0
    redis_url: str | None = None
    # The Delighted-compatible API (bot/web/delighted/): requests per minute per API key.
    delighted_rate_limit: int = 600
    http_timeout: float = 10.0
    sms_smart_encoding: bool = True
    send_rate_limits: str | None = None
    nps_benchmark: str | None = None
    # The dispatcher (scheduler/dispatch/, scheduler/loop.py).
    dispatch_lease_seconds: int = 120
    dispatch_concurrency: int = 8
    # The inbound spool (bot/inbound/spool.py, docs/reliability.md).
    spool_dir: str | None = None
    spool_max_bytes: int = 64 * 1024 * 1024
    spool_max_entries: int = 100_000
    # Retention (bot/privacy/retention.py, docs/privacy.md): days, 0 = kept forever.
    retention_messages_days: int = 0
    retention_comments_days: int = 0
    retention_contacts_days: int = 0
    retention_cases_days: int = 0
    retention_deliveries_days: int = 0

    @property
    def sqlalchemy_url(self) -> str:
        return normalise_database_url(self.database_url)

    # One rule for "late": escalation (scheduler.alerts.escalate) and the follow-up metrics
    # (bot.insights.followup) both read these.
    @property
    def case_take_target(self) -> timedelta:
        """A case nobody took for longer than this is late (escalated; taken late)."""
        return timedelta(minutes=self.staff_take_minutes)

    @property
    def case_resolve_target(self) -> timedelta:
        """A case unresolved for longer than this is overdue (escalated; resolved late)."""
        return timedelta(hours=self.staff_resolve_hours)


# variable name -> (Settings field, description for the README)
VARIABLES: dict[str, tuple[str, str]] = {
    "DATABASE_URL": (
        "database_url",
        "SQLAlchemy URL; `postgres://` accepted. Default: SQLite file `npsbot.db`.",
    ),
    "DATABASE_POOL_SIZE": (
        "database_pool_size",
        "Database connections each process keeps open: at least its threads that use the "
        "database (gunicorn `--threads`, `npsbot serve --threads`; the worker's "
        "`DISPATCH_CONCURRENCY` senders plus 2). Default `10`.",
    ),
    "SECRET_KEY": (
        "secret_key",
        "Signs sessions, buttons and links (the web survey page's `survey_url`: a new key voids "
        "them). Default: random per process (set it in production).",
    ),
    "PUBLIC_BASE_URL": (
        "public_base_url",
        "Public https URL of this app, used to verify webhook signatures behind a proxy and in "
        "`survey_url`.",
    ),
    "TRUSTED_PROXIES": (
        "trusted_proxies",
        "How many reverse proxies in front of npsbot set `X-Forwarded-For`/`-Proto` (their client "
        "address and https then count: log-in throttle, `Secure` cookie). Default `0`: ignored.",
    ),
    "DEFAULT_LANGUAGE": (
        "default_language",
        "`es`, `en` or `pt`: language for contacts that give none, and of the dashboard for a "
        "user who chose none and whose browser asks for none of the three. Default `es`.",
    ),
    "DEFAULT_COUNTRY": (
        "default_country",
        "ISO country for phone numbers written without `+`. Default `MX`.",
    ),
    "BUSINESS_NAME": ("business_name", "Name used in help texts. Default `npsbot`."),
    "SANDBOX_ENABLED": (
        "sandbox_enabled",
        "Serve the `/sandbox` play page and channel. Default `true`; set `false` in production.",
    ),
    "SCHEDULER_ENABLED": (
        "scheduler_enabled",
        "Run the dispatcher loop inside `npsbot serve`. Default `true`.",
    ),
    "SURVEYS_FILE": (
        "surveys_file",
        "TOML file of surveys (touchpoints) that seeds an empty database; later, owners edit "
        "them in the dashboard or `npsbot surveys import FILE`. Default: the built-in survey.",
    ),
    "LOG_LEVEL": ("log_level", "Python logging level. Default `INFO`."),
    "SPOOL_DIR": (
        "spool_dir",
        "Where Twilio webhooks wait while the database cannot take them (one file per process; "
        "replayed in arrival order when it answers). Default: `npsbot-spool` beside the SQLite "
        "file, else in the working directory. Must be local, durable disk.",
    ),
    "SPOOL_MAX_BYTES": (
        "spool_max_bytes",
        "The spool's size limit in bytes; when full, webhooks answer 503 again. "
        "Default `67108864` (64 MiB).",
    ),
    "SPOOL_MAX_ENTRIES": (
        "spool_max_entries",
        "The spool's limit in webhooks; when full, webhooks answer 503 again. Default `100000`.",
    ),
    "TWILIO_ACCOUNT_SID": (
        "twilio_account_sid",
        "Twilio account SID (`AC…`); enables SMS/WhatsApp with the token.",
    ),
    "TWILIO_AUTH_TOKEN": ("twilio_auth_token", "Twilio auth token (signs webhooks; never logged)."),
    "TWILIO_SMS_FROM": ("twilio_sms_from", "E.164 SMS sender number; or use a messaging service."),
    "TWILIO_MESSAGING_SERVICE_SID": (
        "twilio_messaging_service_sid",
        "Messaging service SID (`MG…`) for SMS.",
    ),
    "TWILIO_WHATSAPP_FROM": ("twilio_whatsapp_from", "WhatsApp sender, E.164 (`+14155238886`)."),
    "TWILIO_API_URL": ("twilio_api_url", "Override Twilio's API base URL (tests, sandboxes)."),
    "TELEGRAM_BOT_TOKEN": (
        "telegram_bot_token",
        "Token from BotFather; enables Telegram (never logged).",
    ),
    "TELEGRAM_WEBHOOK_SECRET": (
        "telegram_webhook_secret",
        "Secret token Telegram echoes in `X-Telegram-Bot-Api-Secret-Token`.",
    ),
    "TELEGRAM_API_URL": (
        "telegram_api_url",
        "Override the Bot API base URL (tests, self-hosted Bot API server).",
    ),
    "STAFF_TELEGRAM_CHAT_ID": (
        "staff_telegram_chat_id",
        "Telegram group that receives detractor alerts.",
    ),
    "STAFF_ESCALATION_CHAT_ID": (
        "staff_escalation_chat_id",
        "Telegram group for cases not taken or not resolved in time. Default: the staff group.",
    ),
    "STAFF_TELEGRAM_USER_IDS": (
        "staff_telegram_user_ids",
        "Comma-separated Telegram user ids that may act on cases without a membership check.",
    ),
    "STAFF_NOTIFY_URLS": (
        "staff_notify_urls",
        "One-way alert destinations as Apprise URLs (Slack, Teams, e-mail, Discord…), "
        "comma or space separated (never logged).",
    ),
    "STAFF_TAKE_MINUTES": (
        "staff_take_minutes",
        "Minutes before a case nobody took is re-alerted to the escalation group; also the "
        "target of the follow-up metrics' *taken in time*. Default `30`.",
    ),
    "STAFF_RESOLVE_HOURS": (
        "staff_resolve_hours",
        "Hours before an unresolved case is re-alerted to the escalation group; also the "
        "target of the follow-up metrics' *resolved in time*. Default `24`.",
    ),
    "STAFF_SHOW_NAMES": (
        "staff_show_names",
        "Sign staff replies to customers with the staff member's first name. Default `false`.",
    ),
    "STAFF_DIGEST": (
        "staff_digest",
        "`off`, `daily` or `weekly`: NPS digest to the staff group. Default `off`.",
    ),
    "STAFF_DIGEST_HOUR": (
        "staff_digest_hour",
        "UTC hour (0-23) after which the digest of the previous period is sent. Default `9`.",
    ),
    "REASON_TIMEOUT_MINUTES": (
        "reason_timeout_minutes",
        "Minutes to wait for the *why* before a response completes without it. Default `30`.",
    ),
    "CONTACT_FATIGUE_DAYS": (
        "contact_fatigue_days",
        "At most one survey per contact in this many days, over all surveys (transactional and "
        "relational); a survey inside it is skipped with the reason `fatigue`. Default `0`: off.",
    ),
    "REDIS_URL": ("redis_url", "Shares send rate limits across processes when set."),
    "SHOPS_FILE": (
        "shops_file",
        "TOML file of shops whose order webhooks trigger surveys (`[[shop]]`: key, platform, "
        "secret, survey, topics, store_id, access_token), besides `npsbot shops add`; it holds "
        "secrets. See docs/integrations.md.",
    ),
    "TIENDANUBE_API_URL": (
        "tiendanube_api_url",
        "Tiendanube/Nuvemshop's API base URL, where a shop's orders are read "
        "(`https://api.nuvemshop.com.br` for Nuvemshop; tests point it at a fake). "
        "Default `https://api.tiendanube.com`.",
    ),
    "TIENDANUBE_USER_AGENT": (
        "tiendanube_user_agent",
        "The `User-Agent` Tiendanube requires: your app's name and a contact, "
        "e.g. `Acme NPS (ops@acme.example)`. Default `npsbot`.",
    ),
    "DELIGHTED_RATE_LIMIT": (
        "delighted_rate_limit",
        "Requests per minute per API key on the Delighted-compatible API (`/delighted/v1/`); "
        "over it a 429 with `Retry-After`, as Delighted answered. `0`: no limit. Default `600`.",
    ),
    "HTTP_TIMEOUT": ("http_timeout", "Seconds before a provider API call times out. Default `10`."),
    "NPS_BENCHMARK": (
        "nps_benchmark",
        "Industry benchmark line on the dashboard, `Label=NPS` (e.g. `Retail=45`) or a number; "
        "cite your source.",
    ),
    "SEND_RATE_LIMITS": (
        "send_rate_limits",
        "Messages per second per channel, e.g. `telegram=30,whatsapp=20,sms=10` (the defaults); "
        "shared across processes through Redis when `REDIS_URL` is set.",
    ),
    "DISPATCH_LEASE_SECONDS": (
        "dispatch_lease_seconds",
        "Seconds a worker holds a survey or a queued reply it is sending; a worker that dies "
        "mid-send leaves it `unknown` after this. Keep it above the rate-limit wait (30 s) plus "
        "`HTTP_TIMEOUT`. Default `120`.",
    ),
    "DISPATCH_CONCURRENCY": (
        "dispatch_concurrency",
        "Sends in flight at once per worker process (threads); with a slow provider, "
        "rate × latency of them are needed to reach the rate limit. Default `8`.",
    ),
    "RETENTION_MESSAGES_DAYS": (
        "retention_messages_days",
        "Days a message's text and payload are kept; the worker then blanks them daily (the row, "
        "its status and times stay). Default `0`: kept forever.",
    ),
    "RETENTION_COMMENTS_DAYS": (
        "retention_comments_days",
        "Days a response's comment is kept; then removed (score, category and themes stay). "
        "Default `0`: kept forever.",
    ),
    "RETENTION_CONTACTS_DAYS": (
        "retention_contacts_days",
        "Days without a message, invitation or response after which a contact is erased (as "
        "`npsbot contacts erase` does; anonymous scores stay). Default `0`: kept forever.",
    ),
    "RETENTION_CASES_DAYS": (
        "retention_cases_days",
        "Days after its resolution a case is deleted with its events and replies (open cases "
        "never are). Default `0`: kept forever.",
    ),
    "RETENTION_DELIVERIES_DAYS": (
        "retention_deliveries_days",
        "Days delivery records (sent or failed staff alerts of resolved cases, digests, and "
        "outbound webhook deliveries with their events) are kept. Default `0`: kept forever.",
    ),
    "SMS_SMART_ENCODING": (
        "sms_smart_encoding",
        "Drop á í ó ú from an SMS when that lowers its segment count (cost). Default `true`.",
    ),
}

_BOOL = {
    "1": True,
    "true": True,
    "yes": True,
    "on": True,
    "0": False,
    "false": False,
    "no": False,
    "off": False,
}
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_TG_TOKEN = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{30,}$")
_TG_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


def normalise_database_url(url: str) -> str:
    """Heroku-style `postgres://` URLs and bare `postgresql://` use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def load_settings(
    environ: Mapping[str, str] | None = None, dotenv: str | Path | None = ".env"
) -> Settings:
    """Read and validate settings. Real environment variables win over `.env`."""
    raw: dict[str, str] = {}
    if dotenv is not None and Path(dotenv).is_file():
        raw.update({k: v for k, v in dotenv_values(dotenv).items() if v is not None})
    raw.update(os.environ if environ is None else environ)
    return settings_from(raw)


def settings_from(raw: Mapping[str, Any]) -> Settings:
    """Build settings from a mapping of variable names (or Settings field names) to values."""
    problems: dict[str, str] = {}
    values: dict[str, Any] = {}
    by_field = {f.name: f for f in fields(Settings)}
    for var, (name, _) in VARIABLES.items():
        value = raw.get(var, raw.get(name))
        if value is None or value == "":
            continue
        kind = by_field[name].type
        try:
            if "bool" in str(kind) and not isinstance(value, bool):
                if str(value).strip().lower() not in _BOOL:
                    raise ValueError(f"expected true or false, got {value!r}")
                value = _BOOL[str(value).strip().lower()]
            elif str(kind) == "int" and not isinstance(value, int):
                if not str(value).strip().isdigit():
                    raise ValueError(f"must be a whole number ≥ 0, got {value!r}")
                value = int(str(value).strip())
            elif "float" in str(kind) and not isinstance(value, float | int):
                value = float(value)
                if value <= 0:
                    raise ValueError("must be a positive number of seconds")
            elif isinstance(value, str):
                value = value.strip()
        except ValueError as exc:
            problems[var] = (
                str(exc)
                if "expected" in str(exc) or "must" in str(exc)
                else f"not a number: {value!r}"
            )
            continue
        values[name] = value
    settings = Settings(**values)
    problems.update(_check(settings))
    if problems:
        raise ConfigError(problems)
    return settings


def _check(s: Settings) -> dict[str, str]:
    p: dict[str, str] = {}
    try:
        url = make_url(s.sqlalchemy_url)
        if url.get_backend_name() not in ("sqlite", "postgresql"):
            p["DATABASE_URL"] = (
                f"unsupported database {url.get_backend_name()!r} (use sqlite or postgresql)"
            )
    except ArgumentError:
        p["DATABASE_URL"] = f"not a database URL: {s.database_url!r}"
    if s.default_language not in LANGUAGES:
        p["DEFAULT_LANGUAGE"] = f"must be one of {', '.join(LANGUAGES)}, got {s.default_language!r}"
    if not re.fullmatch(r"[A-Z]{2}", s.default_country):
        p["DEFAULT_COUNTRY"] = (
            f"must be a two-letter ISO country code like MX, got {s.default_country!r}"
        )
    if s.public_base_url and not re.match(r"^https?://[^/\s]+", s.public_base_url):
        p["PUBLIC_BASE_URL"] = f"must be an absolute http(s) URL, got {s.public_base_url!r}"
    if s.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        p["LOG_LEVEL"] = f"must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {s.log_level!r}"
    if s.shops_file and not Path(s.shops_file).is_file():
        p["SHOPS_FILE"] = f"no such file: {s.shops_file}"
    if s.surveys_file and not Path(s.surveys_file).is_file():
        p["SURVEYS_FILE"] = f"no such file: {s.surveys_file}"
    # Twilio: the SID and token only make sense together, and a sender must exist.
    if s.twilio_account_sid and not s.twilio_auth_token:
        p["TWILIO_AUTH_TOKEN"] = "required when TWILIO_ACCOUNT_SID is set"
    if s.twilio_auth_token and not s.twilio_account_sid:
        p["TWILIO_ACCOUNT_SID"] = "required when TWILIO_AUTH_TOKEN is set"
    if s.twilio_account_sid and not re.fullmatch(r"AC[0-9a-fA-F]{32}", s.twilio_account_sid):
        p["TWILIO_ACCOUNT_SID"] = "must look like AC followed by 32 hex characters"
    if s.twilio_messaging_service_sid and not re.fullmatch(
        r"MG[0-9a-fA-F]{32}", s.twilio_messaging_service_sid
    ):
        p["TWILIO_MESSAGING_SERVICE_SID"] = "must look like MG followed by 32 hex characters"
    for var, value in (
        ("TWILIO_SMS_FROM", s.twilio_sms_from),
        ("TWILIO_WHATSAPP_FROM", s.twilio_whatsapp_from),
    ):
        if value and not _E164.match(value.removeprefix("whatsapp:")):
            p[var] = f"must be an E.164 number like +14155238886, got {value!r}"
        if value and not s.twilio_account_sid:
            p.setdefault("TWILIO_ACCOUNT_SID", f"required when {var} is set")
    if s.twilio_account_sid and not (
        s.twilio_sms_from or s.twilio_messaging_service_sid or s.twilio_whatsapp_from
    ):
        p["TWILIO_SMS_FROM"] = (
            "set TWILIO_SMS_FROM, TWILIO_MESSAGING_SERVICE_SID or TWILIO_WHATSAPP_FROM: "
            "Twilio is configured but has no sender"
        )
    for var, value in (
        ("TWILIO_API_URL", s.twilio_api_url),
        ("TELEGRAM_API_URL", s.telegram_api_url),
        ("TIENDANUBE_API_URL", s.tiendanube_api_url),
    ):
        if value and not re.match(r"^https?://[^/\s]+", value):
            p[var] = f"must be an absolute http(s) URL, got {value!r}"
    if s.telegram_bot_token and not _TG_TOKEN.match(s.telegram_bot_token):
        p["TELEGRAM_BOT_TOKEN"] = "does not look like a BotFather token (digits:35 characters)"
    if s.telegram_webhook_secret and not _TG_SECRET.match(s.telegram_webhook_secret):
        p["TELEGRAM_WEBHOOK_SECRET"] = (
            "1-256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule)"
        )
    if s.telegram_webhook_secret and not s.telegram_bot_token:
        p["TELEGRAM_BOT_TOKEN"] = "required when TELEGRAM_WEBHOOK_SECRET is set"
    if s.staff_telegram_chat_id and not re.fullmatch(r"-?\d+", s.staff_telegram_chat_id):
        p["STAFF_TELEGRAM_CHAT_ID"] = "must be a numeric Telegram chat id like -1001234567890"
    if s.staff_escalation_chat_id and not re.fullmatch(r"-?\d+", s.staff_escalation_chat_id):
        p["STAFF_ESCALATION_CHAT_ID"] = "must be a numeric Telegram chat id like -1001234567890"
    if s.staff_telegram_user_ids and not re.fullmatch(
        r"\d+(\s*[,\s]\s*\d+)*", s.staff_telegram_user_ids.strip()
    ):
        p["STAFF_TELEGRAM_USER_IDS"] = "must be numeric Telegram user ids separated by commas"
    for entry in re.split(r"[,\s]+", s.staff_notify_urls or ""):
        if entry and not re.match(r"^[a-z][a-z0-9+.-]*://", entry):
            # Never echo the URL: it carries the destination's token.
            p["STAFF_NOTIFY_URLS"] = "each entry must be an Apprise URL like slack://… or json://…"
    if s.staff_digest not in ("off", "daily", "weekly"):
        p["STAFF_DIGEST"] = f"must be off, daily or weekly, got {s.staff_digest!r}"
    if not 0 <= s.staff_digest_hour <= 23:
        p["STAFF_DIGEST_HOUR"] = f"must be an hour from 0 to 23, got {s.staff_digest_hour}"
    for var, number in (
        ("STAFF_TAKE_MINUTES", s.staff_take_minutes),
        ("STAFF_RESOLVE_HOURS", s.staff_resolve_hours),
        ("REASON_TIMEOUT_MINUTES", s.reason_timeout_minutes),
    ):
        if number < 1:
            p[var] = f"must be at least 1, got {number}"
    if s.database_pool_size < 1:
        p["DATABASE_POOL_SIZE"] = f"must be at least 1, got {s.database_pool_size}"
    if s.dispatch_concurrency < 1:
        p["DISPATCH_CONCURRENCY"] = f"must be at least 1, got {s.dispatch_concurrency}"
    if s.dispatch_lease_seconds < 1:
        p["DISPATCH_LEASE_SECONDS"] = f"must be at least 1, got {s.dispatch_lease_seconds}"
    for var, number in (
        ("SPOOL_MAX_BYTES", s.spool_max_bytes),
        ("SPOOL_MAX_ENTRIES", s.spool_max_entries),
    ):
        if number < 1:
            p[var] = f"must be at least 1, got {number}"
    if s.nps_benchmark:
        value = s.nps_benchmark.rpartition("=")[2].strip()
        try:
            if not -100 <= float(value) <= 100:
                raise ValueError
        except ValueError:
            p["NPS_BENCHMARK"] = (
                f"must be Label=NPS with NPS from -100 to 100, got {s.nps_benchmark!r}"
            )
    try:
        parse_rates(s.send_rate_limits)
    except ValueError as exc:
        p["SEND_RATE_LIMITS"] = str(exc)
    if s.redis_url and not re.match(r"^rediss?://", s.redis_url):
        p["REDIS_URL"] = f"must start with redis:// or rediss://, got {s.redis_url!r}"
    return p


def parse_rates(text: str | None) -> dict[str, int]:
    """SEND_RATE_LIMITS over the providers' defaults: "telegram=30,sms=1" -> {"telegram": 30,
    "sms": 1, …}; ValueError naming the bad part."""
    rates = {n: c.rate for n, c in registry.CAPABILITIES.items() if c.rate is not None}
    for part in (text or "").replace(";", ",").split(","):
        if not part.strip():
            continue
        name, _, value = part.partition("=")
        if not name.strip() or not value.strip().isdigit() or int(value) <= 0:
            raise ValueError(f"{part.strip()!r} is not channel=messages_per_second")
        rates[name.strip()] = int(value)
    return rates
