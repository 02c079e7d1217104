"""What the bank refuses: each error has a stable ``code`` that becomes the problem type in the API."""

from __future__ import annotations


class BankError(Exception):
    """A refused operation. ``code`` is stable and becomes the problem type in the API."""

    code = "invalid-request"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(BankError):
    code = "not-found"


class Conflict(BankError):
    code = "conflict"


class Invalid(BankError):
    code = "invalid-hash"


class WrongSecret(BankError):
    code = "wrong-case-secret"
