"""HMA's bank formats, for import and export.

* **HMA content, JSON Lines**: one object per piece of content as HMA's
  ``GET /c/bank/<name>/content/<id>?include_signals=true`` returns it —
  ``{"id": 1, "signals": {"pdq": "<hex>"},
  ...}``; only ``signals`` is read. Export writes ``{"id", "signals"}`` (active entries only).
* **Signal file**: ``<signal_type> <value>`` per line (``pdq <hex>``, ``video_md5 <hex>``), the format of
  python-threatexchange's local-file exchange, which HMA can fetch from.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from redline.bank import service
from redline.bank.models import Entry
from redline.bank.service import BankError, HashInput
from redline.interop.hma import TO_HMA, to_redline_signal

_MAX_ERRORS = 20


def parse_hma(text: str) -> list[HashInput]:
    """Hashes of an HMA content dump or signal file; :class:`BankError` lists up to 20 bad lines."""
    hashes: list[HashInput] = []
    errors: list[str] = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            if line.startswith("{"):
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    raise BankError("not JSON") from None
                signals = record.get("signals") if isinstance(record, dict) else None
                if not isinstance(signals, dict) or not signals:
                    raise BankError("needs a non-empty signals object")
                for kind, value in signals.items():
                    if not isinstance(value, str):
                        raise BankError(f"signal {kind} must be a string")
                    hashes.append(to_redline_signal(str(kind), value))
            else:
                kind, _, value = line.partition(" ")
                hashes.append(to_redline_signal(kind, value.strip()))
        except BankError as exc:
            errors.append(f"line {line_no}: {exc.detail}")
        if len(errors) >= _MAX_ERRORS:
            break
    if errors:
        raise BankError("; ".join(errors))
    if not hashes:
        raise BankError("no hashes found")
    return hashes


def export_hma(session: Session, bank_name: str, fmt: str) -> Iterator[str]:
    """The bank's active hashes of the types HMA knows, one line each, in entry order."""
    bank = service.get_bank(session, bank_name)
    rows = session.execute(
        select(Entry.id, Entry.signal_type, Entry.value)
        .where(Entry.bank_id == bank.id, Entry.status == "active", Entry.signal_type.in_(tuple(TO_HMA)))
        .order_by(Entry.id)
        .execution_options(yield_per=10_000)
    )
    for entry_id, kind, value in rows:
        if fmt == "signals":
            yield f"{TO_HMA[kind]} {value}"
        else:
            yield json.dumps({"id": entry_id, "signals": {TO_HMA[kind]: value}}, separators=(",", ":"))
