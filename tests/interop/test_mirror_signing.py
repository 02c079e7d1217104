"""What a mirror checks on a signed feed page before it applies anything (``redline.mirror.signing``)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from redline.evidence.note import SignerKey
from redline.mirror.signing import (
    PageRefused,
    feed_signers,
    finish_rotation,
    sign_page,
    start_rotation,
    verifier_texts,
    verify_page,
)

NONCE = "0123456789abcdef0123456789abcdef"
ITEMS: list[dict[str, Any]] = [
    {
        "seq": 3,
        "entry_id": 1,
        "bank": "survivors",
        "type": "pdq",
        "value": "a" * 64,
        "quality": 90,
        "tags": [],
        "status": "active",
    },
    {
        "seq": 7,
        "entry_id": 2,
        "bank": "survivors",
        "type": "md5",
        "value": None,
        "quality": None,
        "tags": [],
        "status": "withdrawn",
    },
]


def _page(signers: list[SignerKey], **overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"after": 2, "position": 9, "head": 12, "banks": [], "nonce": NONCE}
    fields.update(overrides)
    items = fields.pop("items", ITEMS)
    return {"note": sign_page(items, signers=signers, **fields), "items": copy.deepcopy(items)}


def _verify(body: Any, keys: list[str], **overrides: Any) -> Any:
    args: dict[str, Any] = {"after": 2, "head_seen": 5, "banks": [], "nonce": NONCE}
    args.update(overrides)
    return verify_page(body, pinned=keys, **args)


def _refused(body: Any, keys: list[str], reason: str, **overrides: Any) -> str:
    with pytest.raises(PageRefused) as caught:
        _verify(body, keys, **overrides)
    assert caught.value.reason == reason, caught.value
    return caught.value.detail


def test_a_signed_page_verifies_and_names_its_keys(tmp_path: Path) -> None:
    signers = feed_signers(tmp_path)
    keys = verifier_texts(signers)
    page = _verify(_page(signers), keys)
    assert (page.after, page.position, page.head) == (2, 9, 12)
    assert page.items == ITEMS and page.keys == keys and len(page.digest) == 64
    assert feed_signers(tmp_path)[0].seed == signers[0].seed  # made once, then read back


def test_unsigned_altered_replayed_and_rolled_back_pages_are_refused(tmp_path: Path) -> None:
    signers = feed_signers(tmp_path)
    keys = verifier_texts(signers)
    assert "no signed note" in _refused({"items": ITEMS}, keys, "unsigned")
    assert "no signed note" in _refused({"note": "", "items": ITEMS}, keys, "unsigned")

    altered = _page(signers)
    altered["items"][0]["value"] = "b" * 64
    assert "do not match" in _refused(altered, keys, "altered")
    dropped = _page(signers)
    dropped["items"].pop()  # a withdrawal held back by someone in between
    _refused(dropped, keys, "altered")
    forged = _page(signers)
    forged["note"] = forged["note"].replace("head 12", "head 99")
    assert "does not verify" in _refused(forged, keys, "bad-signature")
    other = SignerKey.generate("redline-feed/intruder")
    _refused(_page([other]), keys, "bad-signature")  # a key nobody pinned

    assert "nonce" in _refused(_page(signers), keys, "replayed", nonce="f" * 32)
    assert "continues from 2" in _refused(_page(signers), keys, "replayed", after=9)
    assert "below" in _refused(_page(signers), keys, "rolled-back", head_seen=13)
    # A hub restored from an older backup: its head is below the position the mirror asks to continue from.
    assert "below" in _refused(_page(signers, after=20, position=20, head=12), keys, "rolled-back", after=20)
    _refused(_page(signers, banks=["survivors"]), keys, "altered")  # filtered to banks not asked for
    unordered = _page(signers, items=list(reversed(ITEMS)))
    _refused(unordered, keys, "malformed")
    _refused({"note": "x\n\n— k abc\n", "items": "nope"}, keys, "malformed")


def test_rotation_signs_with_both_keys_and_the_mirror_pins_what_a_trusted_page_lists(tmp_path: Path) -> None:
    old = verifier_texts(feed_signers(tmp_path))
    start_rotation(tmp_path)
    both = feed_signers(tmp_path)
    assert len(both) == 2
    page = _verify(_page(both), old)  # a mirror that pinned only the old key accepts it
    assert page.keys == verifier_texts(both)
    new = finish_rotation(tmp_path)
    after = feed_signers(tmp_path)
    assert verifier_texts(after) == [new.verifier().text()] != old
    _verify(_page(after), page.keys)  # with what it pinned from the overlap, the new key alone is enough
    _refused(_page(after), old, "bad-signature")  # a mirror that never saw the overlap is told so
    with pytest.raises(ValueError, match="no rotation"):
        finish_rotation(tmp_path)
