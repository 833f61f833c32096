"""The insights rollup (migration 0006): daily counts the reports read instead of a million
responses. Days are UTC days. `bot.insights.rollup.refresh_rollup` rebuilds the rows per day from
the raw tables; a day whose rows changed after the last refresh (the `updated_at` markers of
responses and invitations) is read from the raw tables until it is rebuilt."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, Index, Integer, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.models.base import Base, Id


class RollupState(Base):
    """One row (id 1): how far the rollup goes and which changes it has seen."""

    __tablename__ = "insights_rollup_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Days before this one (UTC) are in the rollup tables; later ones are read raw.
    upto: Mapped[date | None] = mapped_column(Date)
    # Rows changed at or after this moment may be missing from the rollup: their days are read raw.
    checked_at: Mapped[datetime | None]
    refreshed_at: Mapped[datetime | None]


class _Counts:
    """The dimensions every rollup has (as in `responses` and `invitations`)."""

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    survey_id: Mapped[int] = mapped_column(Id)
    channel: Mapped[str | None] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8))


class _Store:
    """The purchase metadata's "store" as the reports read it (`metadata ->> 'store'`); the
    flag says whether a `store=` filter can match it (on PostgreSQL: JSON strings only)."""

    store: Mapped[str | None] = mapped_column(Text)
    store_is_text: Mapped[bool] = mapped_column(Boolean)


class NpsDay(_Counts, Base):
    """Responses per UTC day (of `scored_at`), survey, channel, language and score."""

    __tablename__ = "nps_daily"

    score: Mapped[int] = mapped_column(SmallInteger)
    responses: Mapped[int] = mapped_column(Integer)


class NpsStoreDay(_Counts, _Store, Base):
    """`nps_daily` split by store: read when a report filters on the store."""

    __tablename__ = "nps_daily_store"
    __table_args__ = (Index("ix_nps_daily_store_store_day", "store", "day"),)

    score: Mapped[int] = mapped_column(SmallInteger)
    responses: Mapped[int] = mapped_column(Integer)


class NpsStoreMonth(_Counts, _Store, Base):
    """`nps_daily_store` summed per month (`day` is the 1st): the breakdown by store over long
    periods reads months, not days."""

    __tablename__ = "nps_monthly_store"

    score: Mapped[int] = mapped_column(SmallInteger)
    responses: Mapped[int] = mapped_column(Integer)


class ThemeDay(_Counts, Base):
    """Theme mentions per UTC day, survey, channel, language, theme and score."""

    __tablename__ = "themes_daily"

    theme: Mapped[str] = mapped_column(Text)
    score: Mapped[int] = mapped_column(SmallInteger)
    mentions: Mapped[int] = mapped_column(Integer)


class ThemeStoreDay(_Counts, _Store, Base):
    __tablename__ = "themes_daily_store"
    __table_args__ = (Index("ix_themes_daily_store_store_day", "store", "day"),)

    theme: Mapped[str] = mapped_column(Text)
    score: Mapped[int] = mapped_column(SmallInteger)
    mentions: Mapped[int] = mapped_column(Integer)


class RateDay(_Counts, Base):
    """Invitations delivered and answered per UTC day of `sent_at` (the response rate)."""

    __tablename__ = "rates_daily"

    delivered: Mapped[int] = mapped_column(Integer)
    answered: Mapped[int] = mapped_column(Integer)


class RateStoreDay(_Counts, _Store, Base):
    __tablename__ = "rates_daily_store"
    __table_args__ = (Index("ix_rates_daily_store_store_day", "store", "day"),)

    delivered: Mapped[int] = mapped_column(Integer)
    answered: Mapped[int] = mapped_column(Integer)
