"""The one clock of the portal: UTC in storage, Asia/Shanghai on screen; tests move it."""
from datetime import datetime, timezone, timedelta
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
_offset = timedelta(0)


def utcnow() -> datetime:
    """Aware UTC now, shifted by whatever a test has set."""
    return datetime.now(timezone.utc) + _offset


def travel(delta: timedelta) -> None:
    """Move the clock (tests and demos only)."""
    global _offset
    _offset += delta


def reset() -> None:
    global _offset
    _offset = timedelta(0)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; treat them as the UTC they were stored as."""
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def local(value: datetime | None) -> datetime | None:
    return as_utc(value).astimezone(SHANGHAI) if value else None


def fmt(value: datetime | None, with_seconds: bool = False) -> str:
    """Cheap local formatting for lists (Babel per row costs too much)."""
    if value is None:
        return ""
    return local(value).strftime("%Y-%m-%d %H:%M:%S" if with_seconds else "%Y-%m-%d %H:%M")
