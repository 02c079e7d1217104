"""The bytes of an audit row that its Merkle leaf commits to.

Canonical JSON of every column: keys sorted, no spaces, UTF-8, timestamps as UTC ISO 8601 with microseconds.
The row id is in it, so moving a row (changing its id, or swapping two rows' contents) changes the bytes as
surely as editing a field; the leaf's position in the log is fixed by the tree itself.

``AUDIT_COLUMNS`` is the list of columns by name, on purpose not read from the table at run time: a column
added to ``audit_log`` later must be added here knowingly (a test compares the two), with a new
``ROW_FORMAT``, so rows logged before keep the bytes they were logged with.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

ROW_FORMAT = "redline-audit-row/1"
AUDIT_COLUMNS = ("id", "at", "actor", "action", "subject", "details")


def format_time(at: datetime) -> str:
    if at.tzinfo is None:  # SQLite hands back naive UTC values when read without the ORM type
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def row_record(id: int, at: datetime, actor: str, action: str, subject: str, details: Any) -> dict[str, Any]:
    """The row as the JSON object that exports and evidence bundles carry."""
    if isinstance(details, str):  # raw SELECTs on SQLite return the JSON column as text
        details = json.loads(details)
    return {
        "id": id,
        "at": format_time(at),
        "actor": actor,
        "action": action,
        "subject": subject,
        "details": details if details is not None else {},
    }


def canonical_bytes(record: dict[str, Any]) -> bytes:
    if set(record) != set(AUDIT_COLUMNS):
        raise ValueError(f"an audit row has exactly the columns {', '.join(AUDIT_COLUMNS)}")
    return json.dumps(
        record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()
