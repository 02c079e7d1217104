"""An evidence bundle for one case: what the log recorded about it, provable offline, with no images, no
names. Made by ``redline evidence bundle CASE --out DIR|FILE.zip`` or ``GET /v1/evidence/cases/{id}``.

Files: ``rows.jsonl`` (the case's audit rows, each with its leaf index and inclusion proof),
``checkpoint.txt`` (the signed checkpoint with its cosignatures), ``log.vkey`` (+ ``witnesses.vkeys``),
``README*.md`` (en, zh-Hant, zh-Hans), two certificate templates, ``VERIFY.txt``, for a third-party case its
signed intake manifest (``intake-manifest.txt``: hashes, sizes, media types, times, no names), and
``SHA256SUMS`` over all of them. The making of a bundle is itself audited, with the SHA-256 of its
``SHA256SUMS``, so the bank's own log later shows which bundle it issued.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from redline.bank.models import AuditEvent, Case, CaseManifest, Entry
from redline.bank.service import audit
from redline.evidence import texts
from redline.evidence.log import (
    TransparencyLog,
    cosigned_note,
    latest_checkpoint,
    leaves_of_rows,
    prove_inclusion,
)
from redline.evidence.models import LogWitness
from redline.evidence.rows import format_time
from redline.evidence.verify import (
    BUNDLE_CHECKPOINT,
    BUNDLE_KEY,
    BUNDLE_MANIFEST,
    BUNDLE_ROWS,
    BUNDLE_SUMS,
)
from redline.review.models import ReviewItem


class BundleError(ValueError):
    pass


@dataclass(frozen=True)
class Bundle:
    case_id: str
    size: int
    rows: int
    #: SHA-256 of ``SHA256SUMS``: the one hash that identifies the whole bundle.
    digest: str
    files: dict[str, bytes]

    def write_folder(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in self.files.items():
            (folder / name).write_bytes(data)

    def zip_bytes(self) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in self.files.items():
                archive.writestr(f"{self.case_id}/{name}", data)
        return buffer.getvalue()


def case_audit_ids(session: Session, case_id: str) -> list[int]:
    """Audit rows about the case: its own, its entries' (status changes) and their review items'."""
    entry_ids = session.scalars(select(Entry.id).where(Entry.case_id == case_id)).all()
    review_ids = session.scalars(
        select(ReviewItem.id).join(Entry, Entry.id == ReviewItem.entry_id).where(Entry.case_id == case_id)
    ).all()
    subjects = [f"case:{case_id}", *(f"entry:{e}" for e in entry_ids)]
    subjects += [f"review:{r}" for r in review_ids]
    found: set[int] = set()
    for chunk in range(0, len(subjects), 500):
        found.update(
            session.scalars(
                select(AuditEvent.id).where(
                    or_(
                        AuditEvent.subject.in_(subjects[chunk : chunk + 500]),
                        AuditEvent.actor == subjects[0],
                    )
                )
            )
        )
    return sorted(found)


def verify_command() -> str:
    # The key to pass is the one the operator publishes, not the copy inside the bundle: a forger would
    # replace both.
    return 'redline log verify BUNDLE_FOLDER_OR_ZIP --key "<the log key the operator publishes>"'


def build_bundle(tlog: TransparencyLog, case_id: str, *, actor: str) -> Bundle:
    """Publish a checkpoint covering everything logged so far, then assemble the case's bundle."""
    with tlog.db.read() as session:
        if session.get(Case, case_id) is None:
            raise BundleError(f"no case {case_id}")
    tlog.publish()
    with tlog.db.read() as session:
        checkpoint = latest_checkpoint(session)
        assert checkpoint is not None
        note = cosigned_note(session, checkpoint)
        lines = []
        for row in leaves_of_rows(session, case_audit_ids(session, case_id)):
            if row.index >= checkpoint.size or row.record is None:
                continue
            proof = prove_inclusion(session, row.index, checkpoint.size)
            item = {
                "index": row.index,
                "tree_size": checkpoint.size,
                "inclusion_proof": [base64.b64encode(p).decode() for p in proof],
                "row": row.record,
            }
            lines.append(json.dumps(item, ensure_ascii=False, sort_keys=True, separators=(",", ":")))
        witnesses = session.scalars(select(LogWitness.vkey).order_by(LogWitness.name)).all()
        manifest = session.get(CaseManifest, case_id)
    cosigners = [w.split("+", 1)[0] for w in witnesses if w.split("+", 1)[0] in note]
    made_at = format_time(checkpoint.at)
    files: dict[str, bytes] = {
        BUNDLE_ROWS: "".join(line + "\n" for line in lines).encode(),
        BUNDLE_CHECKPOINT: note.encode(),
        BUNDLE_KEY: (tlog.verifier.text() + "\n").encode(),
    }
    if witnesses:
        files["witnesses.vkeys"] = "".join(w + "\n" for w in witnesses).encode()
    if manifest is not None:
        # A third-party case's intake manifest (signed by the flagger; its SHA-256 is in a row above).
        files[BUNDLE_MANIFEST] = manifest.note.encode()
    fill = {
        "case_id": case_id,
        "origin": tlog.origin,
        "made_at": made_at,
        "rows": len(lines),
        "size": checkpoint.size,
        "verify_command": "    " + verify_command(),
        "cosigned": (
            f"It is cosigned by {len(cosigners)} independent witness(es) ({', '.join(cosigners)}), which "
            "checked that the log only ever grew."
            if cosigners
            else "It has no witness cosignature."
        ),
        "cosigned_zh": f"（獨立見證者／独立见证者：{', '.join(cosigners)}）" if cosigners else "",
    }
    for lang, template in texts.EXPLANATION.items():
        text = template.format(**fill) + (texts.MANIFEST_NOTE[lang] if manifest is not None else "")
        files["README.md" if lang == "en" else f"README.{lang}.md"] = text.encode()
    files["VERIFY.txt"] = (verify_command() + "\n").encode()
    sums_placeholder = "(see SHA256SUMS; its own SHA-256 is printed by the verifier)"
    measure = (
        f"checkpoints are cosigned by independent witnesses ({', '.join(cosigners)})"
        if cosigners
        else "[witness cosignatures: none configured]"
    )
    certificate_fill = {**fill, "sums_digest": sums_placeholder, "witness_measure": measure}
    certificate_fill["verify_command"] = verify_command()
    files["certificate-hk-s22a.md"] = texts.CERTIFICATE_HK.format(**certificate_fill).encode()
    files["certificate-us-fre-902.md"] = texts.CERTIFICATE_US.format(**certificate_fill).encode()
    sums = "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in sorted(files.items()))
    files[BUNDLE_SUMS] = sums.encode()
    digest = hashlib.sha256(files[BUNDLE_SUMS]).hexdigest()
    with tlog.db.write() as session:
        audit(
            session, actor, "evidence.bundle.created", f"case:{case_id}",
            tree_size=checkpoint.size, rows=len(lines), sha256sums=digest,
        )  # fmt: skip
    return Bundle(case_id, checkpoint.size, len(lines), digest, files)
