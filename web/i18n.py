"""What a page says, in the reader's language: Vietnamese by default, English on the toggle;
dates in Asia/Ho_Chi_Minh as ``dd/mm/yyyy``."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Literal

Lang = Literal["vi", "en"]
# Asia/Ho_Chi_Minh has had no daylight saving since 1975: a fixed +07:00 (as domain.plan).
VN = timezone(timedelta(hours=7), "ICT")
LANG_COOKIE = "drugfree_lang"


def pick(lang: Lang, vi: str, en: str) -> str:
    return en if lang == "en" else vi


def day(value: date | datetime | str | None) -> str:
    """``dd/mm/yyyy`` (an instant in Viet Nam's time), ``-`` for none."""
    if value is None or value == "":
        return "-"
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value or " " in value else \
            date.fromisoformat(value)
    if isinstance(value, datetime):
        value = _local(value).date()
    return value.strftime("%d/%m/%Y")


def moment(value: datetime | str | None) -> str:
    """``dd/mm/yyyy HH:MM`` in Viet Nam's time, ``-`` for none."""
    if value is None or value == "":
        return "-"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return _local(value).strftime("%d/%m/%Y %H:%M")


def _local(value: datetime) -> datetime:
    if value.tzinfo is None:  # our instants are UTC; a naive one is read as such
        value = value.replace(tzinfo=UTC)
    return value.astimezone(VN)
