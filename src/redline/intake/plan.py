"""Which files belong to which person: each top-level sub-folder of the collection, or a mapping file the
flagger edits (``redline intake FOLDER --write-mapping`` writes one to start from).

A mapping file has one line per folder or file, ``label<TAB>path`` (path relative to the collection);
lines with the same label are one person, ``#`` starts a comment, a folder left out is not taken in. Labels
and paths stay on the flagger's machine: the server never sees them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


class PlanError(ValueError):
    """The collection or the mapping file cannot be used; the message says where."""


@dataclass
class Person:
    label: str
    #: Files under the person's folders, relative to the collection, in a stable order.
    files: list[str] = field(default_factory=list)


def _files_under(root: Path, start: Path) -> list[str]:
    if start.is_file():
        return [start.relative_to(root).as_posix()]
    found = [p for p in start.rglob("*") if p.is_file() and not p.is_symlink()]
    return sorted(p.relative_to(root).as_posix() for p in found if not p.name.startswith("."))


def default_mapping(root: Path) -> list[tuple[str, str]]:
    """(label, folder) for each top-level sub-folder: the label is the folder's own name, locally."""
    if not root.is_dir():
        raise PlanError(f"{root} is not a folder")
    folders = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise PlanError(f"{root} has no sub-folders: put each person's files in a folder of their own")
    return [(name, name) for name in folders]


def write_mapping(root: Path, target: Path) -> int:
    lines = ["# label<TAB>folder or file, relative to the collection. Same label = same person.\n"]
    mapping = default_mapping(root)
    lines += [f"{label}\t{path}\n" for label, path in mapping]
    target.write_text("".join(lines), encoding="utf-8")
    return len(mapping)


def read_mapping(path: Path) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        label, tab, target = line.partition("\t")
        if not tab or not label.strip() or not target.strip():
            raise PlanError(f"{path}:{number}: expected label<TAB>path")
        found.append((label.strip(), target.strip()))
    if not found:
        raise PlanError(f"{path}: no person listed")
    return found


def plan(root: Path, mapping: list[tuple[str, str]] | None = None) -> list[Person]:
    """The persons of the collection with their files (each file once, under its first label)."""
    root = root.resolve()
    persons: dict[str, Person] = {}
    taken: set[str] = set()
    for label, target in mapping if mapping is not None else default_mapping(root):
        start = (root / target).resolve()
        if start != root and root not in start.parents:
            raise PlanError(f"{target!r} is outside the collection")
        if not start.exists():
            raise PlanError(f"{target!r} does not exist in the collection")
        person = persons.setdefault(label, Person(label))
        for rel in _files_under(root, start):
            if rel not in taken:
                taken.add(rel)
                person.files.append(rel)
    return list(persons.values())
