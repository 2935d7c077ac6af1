"""Canonical JSON for hashes and audit snapshots (same bytes on SQLite and PostgreSQL)."""
import hashlib
import json
from datetime import date, datetime
from decimal import Decimal
from enum import Enum

from portal.clock import as_utc


def jsonable(value):
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    return value


def canonical(value) -> str:
    return json.dumps(jsonable(value), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def sha256_of(value) -> str:
    return hashlib.sha256(canonical(value).encode()).hexdigest()
