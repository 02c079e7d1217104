"""The bank's operations in one namespace, for callers that want ``service.<name>``.

Each lives in the module of its aggregate: ``banks``, ``entries``, ``status`` (the one owner of entry status
and the change log), ``cases``, ``keys``, ``feed``, with ``errors``, ``hashes`` and ``audit`` below them.
Every function takes an open write session (``Database.write()``) so that a request's changes commit or
fail as one, writes its audit row in it, and raises a :class:`BankError` subclass for the caller to report.
"""

from __future__ import annotations

from redline.bank.audit import audit, audit_page
from redline.bank.banks import (
    create_bank,
    ensure_bank,
    get_bank,
    list_banks,
    threshold_for,
    update_bank,
    validate_thresholds,
)
from redline.bank.cases import (
    ATTESTATION_TEXT,
    ATTESTATION_TEXT_VERSION,
    CaseHashStatus,
    CaseStatus,
    NewCase,
    authenticate_case,
    case_status,
    record_matches,
    submit_case,
    withdraw_case,
)
from redline.bank.entries import add_entries, get_entry, set_entry_status
from redline.bank.errors import BankError, Conflict, Invalid, NotFound, WrongSecret
from redline.bank.feed import feed_page
from redline.bank.hashes import HashInput, normalize_hash
from redline.bank.keys import authenticate_key, create_api_key, list_api_keys, revoke_api_key
from redline.bank.status import change_status

__all__ = [
    "ATTESTATION_TEXT",
    "ATTESTATION_TEXT_VERSION",
    "BankError",
    "CaseHashStatus",
    "CaseStatus",
    "Conflict",
    "HashInput",
    "Invalid",
    "NewCase",
    "NotFound",
    "WrongSecret",
    "add_entries",
    "audit",
    "audit_page",
    "authenticate_case",
    "authenticate_key",
    "case_status",
    "change_status",
    "create_api_key",
    "create_bank",
    "ensure_bank",
    "feed_page",
    "get_bank",
    "get_entry",
    "list_api_keys",
    "list_banks",
    "normalize_hash",
    "record_matches",
    "revoke_api_key",
    "set_entry_status",
    "submit_case",
    "threshold_for",
    "update_bank",
    "validate_thresholds",
    "withdraw_case",
]
