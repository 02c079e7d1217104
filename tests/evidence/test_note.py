"""Signed notes and cosignatures against Go's golang.org/x/mod/sumdb/note vector, and round trips."""

from __future__ import annotations

import base64
import struct

import pytest

from redline.evidence.note import COSIGNATURE_V1, NoteError, SignerKey, VerifierKey, open_note, sign

GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT + "\n— PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def test_go_reference_note_is_reproduced_byte_for_byte_and_verifies() -> None:
    signer = SignerKey.parse(GO_SKEY)
    assert signer.text() == GO_SKEY
    assert signer.verifier().text() == GO_VKEY
    assert sign(GO_TEXT, signer) == GO_NOTE  # Ed25519 is deterministic
    note = open_note(GO_NOTE, [VerifierKey.parse(GO_VKEY)])
    assert note.text == GO_TEXT
    with pytest.raises(NoteError, match="does not verify"):
        open_note(GO_NOTE.replace("cryptography", "cryptographY"), [VerifierKey.parse(GO_VKEY)])


def test_unknown_keys_are_not_trusted_and_mangled_keys_are_refused() -> None:
    other = SignerKey.generate("someone.example/log").verifier()
    with pytest.raises(NoteError, match="no signature from a trusted key"):
        open_note(GO_NOTE, [other])
    for bad in (GO_VKEY.replace("c74f20a3", "c74f20a4"), GO_VKEY[:-2], "Peter Neumann+c74f20a3+AA==", "x"):
        with pytest.raises(NoteError):
            VerifierKey.parse(bad)


def test_cosignature_round_trip_and_timestamp_is_signed() -> None:
    witness = SignerKey.generate("witness.example/w1", COSIGNATURE_V1)
    body = "example.com/log\n3\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    log = SignerKey.generate("example.com/log")
    note = sign(body, log) + witness.signature_line(body, timestamp=1679315147)
    opened = open_note(note, [log.verifier(), witness.verifier()])
    cosig = opened.signed_by(witness.verifier())
    assert cosig is not None and cosig.timestamp == 1679315147
    assert VerifierKey.parse(witness.verifier().text()) == witness.verifier()
    # A cosignature moved to another checkpoint, or with its time changed, does not verify.
    line = witness.signature_line(body, timestamp=1679315147)
    moved = sign(body.replace("\n3\n", "\n4\n"), log) + line
    with pytest.raises(NoteError, match=r"witness\.example/w1"):
        open_note(moved, [log.verifier(), witness.verifier()])


def test_cosignature_key_ids_and_layout_match_transparency_dev_formats() -> None:
    """Vectors of transparency-dev/formats note/note_cosigv1_test.go: a native cosignature/v1 vkey (its key
    hash covers the 0x04 byte), and a signature blob whose timestamp is 1727964367."""
    key = VerifierKey.parse("remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2")
    assert key.alg == COSIGNATURE_V1 and key.key_id.hex() == "da77ade7"
    blob = base64.b64decode(
        "ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gxEHWWOworDcFiEBYJXORmnFBOBA=="
    )
    assert len(blob) == 4 + 8 + 64
    assert struct.unpack(">Q", blob[4:12]) == (1727964367,)
