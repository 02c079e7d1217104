"""Checking a removal request against its jurisdiction: every problem at once, each with its field and a
stable code (the form turns codes into words in the requester's language; the API lists them).

Nothing here stores anything: an invalid request is answered and kept by the requester's form, not by us.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from redline.bank.hashes import HashInput
from redline.removal.jurisdictions import JURISDICTIONS, jurisdiction, required_statements

MAX_NAME = 200
MAX_EMAIL = 254
MAX_EXPLANATION = 5000
MIN_EXPLANATION = 20
MAX_LOCATION = 2000
MAX_ITEMS = 20
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]{2,}$")


@dataclass(frozen=True)
class RequestForm:
    """What a requester sends (already shaped by the API schema; checked here against the law)."""

    jurisdiction: str
    subject: str
    name: str = ""
    email: str = ""
    signature: str = ""
    phone: str = ""
    explanation: str = ""
    notice_reference: str = ""
    locations: Sequence[str] = ()
    #: Per picture hashed on her device, its hashes (validated and normalised).
    pictures: Sequence[Sequence[HashInput]] = ()
    statements: frozenset[str] = frozenset()
    case_id: str = ""
    case_secret: str = ""
    trusted_flagger: bool = False


@dataclass(frozen=True)
class FieldProblem:
    field: str
    code: str
    message: str


@dataclass
class Problems:
    found: list[FieldProblem] = field(default_factory=list)

    def add(self, name: str, code: str, message: str) -> None:
        self.found.append(FieldProblem(name, code, message))


def validate(form: RequestForm) -> list[FieldProblem]:
    """Every problem of ``form`` (empty: valid)."""
    out = Problems()
    if form.jurisdiction not in JURISDICTIONS:
        out.add("jurisdiction", "jurisdiction.unknown", "Choose where the law you rely on applies.")
        return out.found
    rules = jurisdiction(form.jurisdiction)
    if form.subject not in ("self", "agent"):
        out.add("subject", "subject.missing", "Say whether you are the person shown or act for her.")
    name = form.name.strip()
    if "name" in rules.required and not name:
        out.add("name", "name.missing", "Give your full name.")
    elif len(name) > MAX_NAME:
        out.add("name", "name.too_long", f"A name has at most {MAX_NAME} characters.")
    email = form.email.strip()
    if not email:
        out.add("email", "email.missing", "Give an e-mail address so we can tell you the outcome.")
    elif len(email) > MAX_EMAIL or not _EMAIL.match(email):
        out.add("email", "email.invalid", "This does not look like an e-mail address (name@example.org).")
    if "signature" in rules.required:
        signature = form.signature.strip()
        if not signature:
            out.add("signature", "signature.missing", "Sign by typing your full name.")
        elif name and signature.casefold() != name.casefold():
            out.add("signature", "signature.mismatch", "Type the same full name as above to sign.")
    if "explanation" in rules.required:
        text = form.explanation.strip()
        if not text:
            out.add("explanation", "explanation.missing", "Explain why this content is unlawful.")
        elif len(text) < MIN_EXPLANATION:
            out.add("explanation", "explanation.too_short", "Say a little more (a sentence or two).")
    if len(form.explanation) > MAX_EXPLANATION:
        out.add("explanation", "explanation.too_long", f"At most {MAX_EXPLANATION} characters.")
    if "notice_reference" in rules.required and not form.notice_reference.strip():
        out.add("notice_reference", "notice_reference.missing", "Give the removal notice's reference.")
    if not form.locations and not form.pictures:
        out.add("items", "items.missing", "Give a link to the picture, or choose it on this device.")
    if len(form.locations) + len(form.pictures) > MAX_ITEMS:
        out.add("items", "items.too_many", f"At most {MAX_ITEMS} pictures or links per request.")
    for i, location in enumerate(form.locations):
        if not _is_web_address(location):
            out.add(f"locations.{i}", "location.invalid", "Give the full web address (https://...).")
    for i, picture in enumerate(form.pictures):
        if not picture:
            out.add(f"pictures.{i}", "picture.empty", "This picture gave no codes: choose it again.")
    for statement in required_statements(rules, form.subject):
        if statement not in form.statements:
            out.add(f"statements.{statement}", f"statement.{statement}", "Tick this declaration to go on.")
    if form.case_id.strip() and not form.case_secret.strip():
        out.add("case_secret", "case_secret.missing", "Give the secret code of the case you link.")
    return out.found


def _is_web_address(text: str) -> bool:
    if len(text) > MAX_LOCATION or any(c.isspace() for c in text.strip()):
        return False
    parts = urlsplit(text.strip())
    return parts.scheme in ("http", "https") and bool(parts.hostname) and "." in (parts.hostname or "")
