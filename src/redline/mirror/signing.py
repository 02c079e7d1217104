"""Signed feed pages: what a hub signs and what a mirror checks before it applies anything.

Why a signed note per page and not TLS alone: a mirror may read its hub through proxies, caches and CDNs,
and a wrong hash in a mirror either blocks lawful content or lets abuse through. Each page the hub serves
is a C2SP signed note (``redline.evidence.note``, Ed25519) over a short text that binds everything the
mirror relies on::

    redline-feed/v1
    after 120            the position the mirror asked to continue from
    position 220         the last change-log row in this page
    head 5000            the hub's change log position when it served the page
    banks survivors      the banks the page was filtered to (* for all)
    nonce 9f2c...        the mirror's fresh request nonce: an old page replayed does not carry it
    items 100 3a7b...    how many items, and SHA-256 of their canonical JSON
    key redline-feed/...+ab12cd34+...   every key the hub signs with now (one line each)

A mirror refuses a page without a note, with no valid signature from a pinned key, with a note that does
not match the items (altered), with another nonce (replayed), that does not continue from its position, or
whose ``head`` is below one it has already seen (the hub, or someone in between, rolled it back). Key
rotation: the hub signs with its current key and its next key during the overlap; a page verified by a
pinned key lists both, and the mirror pins what that page lists, so the old key can then be retired.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redline.evidence.note import ED25519, NoteError, SignerKey, VerifierKey, open_note, sign

HEADER = "redline-feed/v1"
_KEY_DIR = "keys"
CURRENT_KEY, NEXT_KEY = "feed.key", "feed-next.key"


class PageRefused(Exception):
    """A page the mirror must not apply. ``reason`` is a stable word for the metric and the operator."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


# --- hub side -------------------------------------------------------------------------------------------


def _write_key(path: Path, key: SignerKey) -> None:
    """Made once, atomically (hard link of a finished file), owner-readable only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(key.text() + "\n")
        out.flush()
        os.fsync(out.fileno())
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass  # another process made it first: use theirs
    finally:
        tmp.unlink()


def _new_key() -> SignerKey:
    fresh = SignerKey.generate("pending", ED25519)
    return SignerKey(
        "redline-feed/" + hashlib.sha256(fresh.verifier().public).hexdigest()[:8], ED25519, fresh.seed
    )


def feed_signers(data_dir: Path) -> list[SignerKey]:
    """The keys the hub signs pages with now: ``keys/feed.key`` (made on first use) and, during a
    rotation, ``keys/feed-next.key``. Read on every page, so a rotation needs no restart."""
    folder = data_dir / _KEY_DIR
    current = folder / CURRENT_KEY
    if not current.exists():
        _write_key(current, _new_key())
    keys = [SignerKey.parse(current.read_text())]
    following = folder / NEXT_KEY
    if following.exists():
        keys.append(SignerKey.parse(following.read_text()))
    return keys


def start_rotation(data_dir: Path) -> SignerKey:
    """Make the next key (the hub signs with both from now on); returns it. Idempotent."""
    feed_signers(data_dir)
    path = data_dir / _KEY_DIR / NEXT_KEY
    if not path.exists():
        _write_key(path, _new_key())
    return SignerKey.parse(path.read_text())


def finish_rotation(data_dir: Path) -> SignerKey:
    """The next key becomes the only key; the old one is kept aside as ``feed-retired-<hash>.key``."""
    folder = data_dir / _KEY_DIR
    following = folder / NEXT_KEY
    if not following.exists():
        raise ValueError("no rotation under way: run `redline feed-key rotate` first")
    old = SignerKey.parse((folder / CURRENT_KEY).read_text())
    os.replace(folder / CURRENT_KEY, folder / f"feed-retired-{old.verifier().key_id.hex()}.key")
    os.replace(following, folder / CURRENT_KEY)
    return SignerKey.parse((folder / CURRENT_KEY).read_text())


def items_digest(items: Sequence[dict[str, Any]]) -> str:
    """SHA-256 of the items' canonical JSON (sorted keys, no spaces): what the note signs."""
    canonical = json.dumps(list(items), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _banks_text(banks: Sequence[str]) -> str:
    return ",".join(sorted(banks)) if banks else "*"


def sign_page(
    items: Sequence[dict[str, Any]],
    *,
    after: int,
    position: int,
    head: int,
    banks: Sequence[str],
    nonce: str,
    signers: Sequence[SignerKey],
) -> str:
    lines = [
        HEADER,
        f"after {after}",
        f"position {position}",
        f"head {head}",
        f"banks {_banks_text(banks)}",
        f"nonce {nonce}",
        f"items {len(items)} {items_digest(items)}",
        *(f"key {s.verifier().text()}" for s in signers),
    ]
    return sign("\n".join(lines) + "\n", *signers)


# --- mirror side ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifiedPage:
    items: list[dict[str, Any]]
    after: int
    position: int
    head: int
    #: The hub's signing keys as the page lists them (to pin from now on).
    keys: list[str]
    #: SHA-256 of the signed note.
    digest: str


def _fields(text: str) -> tuple[dict[str, str], list[str]]:
    lines = text.rstrip("\n").split("\n")
    if not lines or lines[0] != HEADER:
        raise PageRefused("malformed", "the signed note is not a redline-feed/v1 page")
    fields: dict[str, str] = {}
    keys: list[str] = []
    for line in lines[1:]:
        name, _, value = line.partition(" ")
        if name == "key":
            keys.append(value)
        elif name in fields:
            raise PageRefused("malformed", f"the signed note repeats {name!r}")
        else:
            fields[name] = value
    return fields, keys


def _integer(fields: dict[str, str], name: str) -> int:
    try:
        value = int(fields[name])
    except (KeyError, ValueError):
        raise PageRefused("malformed", f"the signed note has no valid {name!r}") from None
    if value < 0:
        raise PageRefused("malformed", f"{name!r} is negative")
    return value


def verify_page(
    body: Any,
    *,
    pinned: Iterable[str],
    after: int,
    head_seen: int,
    banks: Sequence[str],
    nonce: str,
) -> VerifiedPage:
    """Check a page against everything the mirror knows; :class:`PageRefused` says what is wrong."""
    if not isinstance(body, dict) or not isinstance(body.get("note"), str) or not body["note"]:
        raise PageRefused("unsigned", "the page carries no signed note")
    items = body.get("items")
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise PageRefused("malformed", "the page has no list of items")
    try:
        trusted = [VerifierKey.parse(k) for k in pinned]
        note = open_note(body["note"], trusted)
    except NoteError as exc:
        raise PageRefused("bad-signature", str(exc)) from None
    fields, keys = _fields(note.text)
    count, _, digest = fields.get("items", "").partition(" ")
    if count != str(len(items)) or digest != items_digest(items):
        raise PageRefused("altered", "the items do not match what the hub signed")
    if fields.get("nonce") != nonce:
        raise PageRefused("replayed", "the page answers another request (its nonce is not ours)")
    if fields.get("banks") != _banks_text(banks):
        raise PageRefused("altered", "the page is filtered to other banks than we asked for")
    page_after, position, head = (_integer(fields, n) for n in ("after", "position", "head"))
    if page_after != after:
        raise PageRefused("replayed", f"the page continues from {page_after}, not from our position {after}")
    if head < head_seen or position < after or head < position:
        raise PageRefused(
            "rolled-back", f"the hub's change log is at {head}, below position {max(head_seen, after)} seen"
        )
    last = after
    for item in items:
        seq = item.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool) or not last < seq <= position:
            raise PageRefused("malformed", "the items are not in order within the page's positions")
        last = seq
    return VerifiedPage(
        items=items,
        after=after,
        position=position,
        head=head,
        keys=keys,
        digest=hashlib.sha256(body["note"].encode()).hexdigest(),
    )


def new_nonce() -> str:
    return secrets.token_hex(16)


def verifier_texts(keys: Iterable[SignerKey]) -> list[str]:
    return [k.verifier().text() for k in keys]


__all__ = [
    "NoteError",
    "PageRefused",
    "VerifiedPage",
    "feed_signers",
    "finish_rotation",
    "new_nonce",
    "sign_page",
    "start_rotation",
    "verifier_texts",
    "verify_page",
]
