"""The data model: typed SQLAlchemy 2 models, one module per area.

This package is the storage's public face: `from bot.storage.models import X` for any model,
enum or column type. Migrations in `migrations/` must produce exactly this schema (a test runs
autogenerate against a migrated database on SQLite and PostgreSQL and expects no difference).
"""

from bot.storage.models.accounts import ApiKey, StaffRole, StaffUser
from bot.storage.models.audit import AuditEvent
from bot.storage.models.base import NAMING, Base, Id, Json, UTCDateTime, utcnow
from bot.storage.models.contacts import Consent, Contact, ContactChannel
from bot.storage.models.messages import Message
from bot.storage.models.rollup import (
    NpsDay,
    NpsStoreDay,
    NpsStoreMonth,
    RateDay,
    RateStoreDay,
    RollupState,
    ThemeDay,
    ThemeStoreDay,
)
from bot.storage.models.shops import Shop, ShopEvent
from bot.storage.models.staff import Alert, AlertState, Case, CaseEvent, CaseStatus
from bot.storage.models.surveys import (
    OPEN_STATES,
    Invitation,
    InvitationState,
    ProgramRun,
    Response,
    Survey,
)
from bot.storage.models.touchpoints import Touchpoint
from bot.storage.models.webhooks import (
    DeliveryState,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)

__all__ = [
    "NAMING",
    "OPEN_STATES",
    "Alert",
    "AlertState",
    "ApiKey",
    "AuditEvent",
    "Base",
    "Case",
    "CaseEvent",
    "CaseStatus",
    "Consent",
    "Contact",
    "ContactChannel",
    "DeliveryState",
    "Id",
    "Invitation",
    "InvitationState",
    "Json",
    "Message",
    "NpsDay",
    "NpsStoreDay",
    "NpsStoreMonth",
    "ProgramRun",
    "RateDay",
    "RateStoreDay",
    "Response",
    "RollupState",
    "Shop",
    "ShopEvent",
    "StaffRole",
    "StaffUser",
    "Survey",
    "ThemeDay",
    "ThemeStoreDay",
    "Touchpoint",
    "UTCDateTime",
    "WebhookDelivery",
    "WebhookEvent",
    "WebhookSubscription",
    "utcnow",
]
