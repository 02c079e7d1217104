"""Reading hash lists for bulk import: CSV (header ``type,value[,quality]``) or JSON Lines
(``{"type": ..., "value": ..., "quality": ...}`` per line). The whole file is checked before anything is
stored, and errors name the line, so an operator fixes the file and imports again rather than cleaning up
half an import.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any, Literal

from redline.bank.errors import BankError
from redline.bank.hashes import HashInput, normalize_hash

ImportFormat = Literal["csv", "jsonl"]
_MAX_ERRORS = 20


def parse_hashes(text: str, fmt: ImportFormat) -> list[HashInput]:
    """All hashes in ``text``; :class:`BankError` listing up to 20 bad lines."""
    hashes: list[HashInput] = []
    errors: list[str] = []
    for line_no, record in _records(text, fmt, errors):
        try:
            quality = record.get("quality")
            if quality in ("", None):
                quality = None
            elif isinstance(quality, str):
                quality = int(quality)
            if not isinstance(record.get("type"), str) or not isinstance(record.get("value"), str):
                raise BankError("needs string fields type and value")
            if quality is not None and (not isinstance(quality, int) or isinstance(quality, bool)):
                raise BankError("quality must be an integer")
            hashes.append(normalize_hash(record["type"], record["value"], quality))
        except (BankError, ValueError) as exc:
            errors.append(f"line {line_no}: {getattr(exc, 'detail', exc)}")
        if len(errors) >= _MAX_ERRORS:
            break
    if errors:
        raise BankError("; ".join(errors))
    if not hashes:
        raise BankError("no hashes found")
    return hashes


def _records(text: str, fmt: ImportFormat, errors: list[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    if fmt == "csv":
        reader = csv.DictReader(io.StringIO(text))
        try:
            if reader.fieldnames is None or not {"type", "value"} <= set(reader.fieldnames):
                raise BankError("CSV needs a header line with at least: type,value")
            for row in reader:
                yield reader.line_num, row
        except csv.Error as exc:  # e.g. a stray quote or NUL byte: the caller's error, not a server fault
            raise BankError(f"line {reader.line_num}: malformed CSV ({exc})") from None
        return
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            errors.append(f"line {line_no}: not JSON")
            continue
        if not isinstance(record, dict):
            errors.append(f"line {line_no}: not a JSON object")
            continue
        yield line_no, record
