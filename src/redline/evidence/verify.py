"""Offline verification, with nothing but files and public keys: no server, no database, no network.

* :func:`verify_export` checks a whole log export (``redline log export``): the checkpoint is signed by the
  log key (and cosigned by each witness key given), the rows rebuild exactly the signed root, and an older
  checkpoint one holds (``previous``) is a prefix of it. When the rows do not rebuild the root, the leaf
  hashes stored at sequencing time say which rows differ from what was logged.
* :func:`verify_bundle` checks an evidence bundle (:mod:`redline.evidence.bundle`): every file against its
  ``SHA256SUMS`` line, the checkpoint signature, and each of the case's rows against its inclusion proof.

Each returns a :class:`Report`; ``report.ok`` is False with the reasons in ``report.problems``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redline.evidence.checkpoint import Checkpoint
from redline.evidence.merkle import Frontier, ProofError, leaf_hash, verify_inclusion
from redline.evidence.note import NoteError, VerifierKey, open_note
from redline.evidence.rows import canonical_bytes

#: Files of a bundle the verifier reads (the others are explanations and templates, checked by hash only).
BUNDLE_ROWS, BUNDLE_CHECKPOINT, BUNDLE_KEY, BUNDLE_SUMS = (
    "rows.jsonl",
    "checkpoint.txt",
    "log.vkey",
    "SHA256SUMS",
)
#: A third-party case's signed intake manifest (:mod:`redline.intake.manifest`), when the case has one.
BUNDLE_MANIFEST = "intake-manifest.txt"


@dataclass
class Report:
    checkpoint: Checkpoint | None = None
    rows: int = 0
    cosigned_by: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and self.checkpoint is not None


def _open_checkpoint(
    note_text: str, key: VerifierKey, witnesses: Sequence[VerifierKey], report: Report
) -> Checkpoint | None:
    try:
        note = open_note(note_text, [key, *witnesses])
    except NoteError as exc:
        report.problems.append(f"checkpoint: {exc}")
        return None
    if note.signed_by(key) is None:
        report.problems.append("checkpoint: not signed by the log key")
        return None
    try:
        checkpoint = Checkpoint.parse(note.text)
    except NoteError as exc:
        report.problems.append(f"checkpoint: {exc}")
        return None
    for witness in witnesses:
        if note.signed_by(witness) is None:
            report.problems.append(f"checkpoint: no cosignature from witness {witness.name}")
        else:
            report.cosigned_by.append(witness.name)
    report.checkpoint = checkpoint
    return checkpoint


def _row_leaf(record: Any) -> bytes:
    if not isinstance(record, dict):
        raise ValueError("not an audit row")
    return leaf_hash(canonical_bytes(record))


def verify_export(
    path: Path,
    key: VerifierKey,
    witnesses: Sequence[VerifierKey] = (),
    previous: Iterable[str] = (),
) -> Report:
    """Check a log export; ``previous``: older signed checkpoints (note texts) that must be its prefixes."""
    report = Report()
    with open(path, encoding="utf-8") as lines:
        try:
            header = json.loads(next(lines))
            note_text = header["checkpoint"]
        except (StopIteration, ValueError, KeyError, TypeError):
            report.problems.append("not a Redline log export (no header line)")
            return report
        checkpoint = _open_checkpoint(note_text, key, witnesses, report)
        if checkpoint is None:
            return report
        earlier: dict[int, bytes] = {}
        for text in previous:
            before = Report()
            old = _open_checkpoint(text, key, (), before)
            if old is None:
                report.problems.extend(f"previous {p}" for p in before.problems)
            elif old.origin != checkpoint.origin or old.size > checkpoint.size:
                report.problems.append(f"previous checkpoint of size {old.size} is not older than this one")
            else:
                earlier[old.size] = old.root
        rebuilt, stored = Frontier(), Frontier()
        differing: list[str] = []
        for number, line in enumerate(lines, start=1):
            try:
                item = json.loads(line)
                index = item["index"]
                logged = bytes.fromhex(item["leaf_hash"])
            except (ValueError, KeyError, TypeError):
                report.problems.append(f"line {number + 1}: not a log line")
                return report
            if index != rebuilt.size:
                report.problems.append(f"leaf {rebuilt.size} is missing (the next line is leaf {index})")
                return report
            record = item.get("row")
            if record is None:
                differing.append(f"leaf {index}: its audit row is gone from the database")
                actual = b""
            else:
                try:
                    actual = _row_leaf(record)
                except (ValueError, TypeError) as exc:
                    report.problems.append(f"leaf {index}: {exc}")
                    return report
                if actual != logged:
                    differing.append(
                        f"leaf {index}: audit row {record.get('id')} differs from what was logged"
                    )
            rebuilt.append(actual)
            stored.append(logged)
            report.rows += 1
            if rebuilt.size in earlier and rebuilt.root() != earlier[rebuilt.size]:
                report.problems.append(
                    f"the log was rewritten: its first {rebuilt.size} rows do not give the root of the "
                    "previous checkpoint"
                )
    if rebuilt.size != checkpoint.size:
        report.problems.append(f"the export has {rebuilt.size} rows, the checkpoint {checkpoint.size}")
    elif rebuilt.root() != checkpoint.root:
        report.problems.append(
            "the rows do not give the signed root: the log was changed after it was signed"
        )
        if stored.root() == checkpoint.root:
            report.problems.extend(differing)
        else:
            report.problems.append("the log's own leaf hashes do not give the signed root either")
    return report


def _sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def verify_bundle(
    folder: Path, key: VerifierKey | None = None, witnesses: Sequence[VerifierKey] = ()
) -> Report:
    """Check an unpacked evidence bundle. Without ``key`` the bundle's own ``log.vkey`` is used: then the
    result only means something once that key is compared with the one the operator publishes."""
    report = Report()
    sums = folder / BUNDLE_SUMS
    if not sums.is_file():
        report.problems.append(f"{BUNDLE_SUMS} is missing")
        return report
    listed: dict[str, str] = {}
    for line in sums.read_text(encoding="utf-8").splitlines():
        digest, _, name = line.partition("  ")
        if len(digest) != 64 or not name or "/" in name or name.startswith("."):
            report.problems.append(f"{BUNDLE_SUMS}: malformed line {line!r}")
            continue
        listed[name] = digest
    present = {p.name for p in folder.iterdir() if p.is_file()} - {BUNDLE_SUMS}
    for name in sorted(present - listed.keys()):
        report.problems.append(f"{name} is not listed in {BUNDLE_SUMS}")
    for name, digest in sorted(listed.items()):
        if name not in present:
            report.problems.append(f"{name} is listed but missing")
        elif _sha256_file(folder / name) != digest:
            report.problems.append(f"{name} does not match its SHA-256 in {BUNDLE_SUMS}: it was changed")
    try:
        bundled_key = VerifierKey.parse((folder / BUNDLE_KEY).read_text(encoding="utf-8"))
    except (OSError, NoteError) as exc:
        report.problems.append(f"{BUNDLE_KEY}: {exc}")
        return report
    if key is not None and bundled_key != key:
        report.problems.append(f"{BUNDLE_KEY} is not the log key given to the verifier")
    try:
        note_text = (folder / BUNDLE_CHECKPOINT).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        report.problems.append(f"{BUNDLE_CHECKPOINT}: {exc}")
        return report
    checkpoint = _open_checkpoint(note_text, key or bundled_key, witnesses, report)
    if checkpoint is None:
        return report
    try:
        lines = (folder / BUNDLE_ROWS).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        report.problems.append(f"{BUNDLE_ROWS}: {exc}")
        return report
    for number, line in enumerate(lines, start=1):
        try:
            item = json.loads(line)
            index, size = int(item["index"]), int(item["tree_size"])
            proof = [base64.b64decode(p, validate=True) for p in item["inclusion_proof"]]
            leaf = _row_leaf(item["row"])
        except (ValueError, KeyError, TypeError) as exc:
            report.problems.append(f"{BUNDLE_ROWS} line {number}: malformed ({exc})")
            continue
        if size != checkpoint.size:
            report.problems.append(f"{BUNDLE_ROWS} line {number}: proof is for another checkpoint")
            continue
        try:
            verify_inclusion(index, size, leaf, proof, checkpoint.root)
        except ProofError as exc:
            report.problems.append(f"{BUNDLE_ROWS} line {number} (audit row {item['row'].get('id')}): {exc}")
            continue
        report.rows += 1
    if (folder / BUNDLE_MANIFEST).is_file():
        _check_manifest(folder / BUNDLE_MANIFEST, lines, report)
    return report


def _check_manifest(path: Path, lines: Sequence[str], report: Report) -> None:
    """The intake manifest verifies against the key it names, and a proven row logged its SHA-256 and key."""
    from redline.intake.manifest import ManifestError, open_manifest

    try:
        opened = open_manifest(path.read_text(encoding="utf-8"))
    except (ManifestError, OSError, UnicodeDecodeError) as exc:
        report.problems.append(f"{BUNDLE_MANIFEST}: {exc}")
        return
    for line in lines:
        try:
            details = json.loads(line)["row"]["details"]
        except (ValueError, KeyError, TypeError):
            continue
        if details.get("manifest_sha256") == opened.sha256:
            if details.get("manifest_signer") != opened.signer.text():
                report.problems.append(f"{BUNDLE_MANIFEST}: signed by another key than the log recorded")
            return
    report.problems.append(f"{BUNDLE_MANIFEST}: its SHA-256 is in none of the logged rows")
