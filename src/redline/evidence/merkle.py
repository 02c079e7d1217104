"""RFC 6962 / RFC 9162 Merkle tree hashing, inclusion and consistency proofs.

Leaves are ``SHA-256(0x00 || data)``, interior nodes ``SHA-256(0x01 || left || right)``; the tree over ``n``
leaves splits at the largest power of two below ``n`` (RFC 6962 section 2.1). The domain separation byte is
what stops a leaf from being passed off as an interior node (second-preimage attacks).

Proof *generation* works over any store of perfect subtrees: ``read(level, index)`` returns the hash of the
complete subtree of ``2**level`` leaves starting at leaf ``index * 2**level``. Every subtree a proof needs is
either such a perfect subtree or splits into O(log n) of them, so a proof reads O(log^2 n) stored hashes
whatever the size of the log. Proof *verification* follows RFC 9162 sections 2.1.3.2 and 2.1.4.2 and needs
nothing but the proof.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

#: ``read(level, index)``: hash of the perfect subtree of ``2**level`` leaves starting at ``index << level``.
NodeReader = Callable[[int, int], bytes]


class ProofError(ValueError):
    """A proof does not verify, or asks for sizes/indexes that do not exist."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class Frontier:
    """The right edge of a growing tree: the roots of its perfect subtrees, largest first.

    Appending a leaf merges equal-sized subtrees (like binary addition); ``appended`` collects every perfect
    subtree completed on the way, as ``(level, index, hash)``, for storage."""

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        levels = [b for b in range(size.bit_length() - 1, -1, -1) if size >> b & 1]
        if len(levels) != len(hashes):
            raise ValueError(f"a tree of {size} leaves has {len(levels)} frontier hashes, got {len(hashes)}")
        self.size = size
        self._stack: list[tuple[int, bytes]] = list(zip(levels, hashes, strict=True))

    @staticmethod
    def positions(size: int) -> list[tuple[int, int]]:
        """``(level, index)`` of the frontier subtrees of a tree of ``size`` leaves, largest first."""
        found, offset = [], 0
        for level in range(size.bit_length() - 1, -1, -1):
            if size >> level & 1:
                found.append((level, offset >> level))
                offset += 1 << level
        return found

    def append(self, leaf: bytes, appended: list[tuple[int, int, bytes]] | None = None) -> None:
        index = self.size
        self._stack.append((0, leaf))
        if appended is not None:
            appended.append((0, index, leaf))
        self.size += 1
        while len(self._stack) >= 2 and self._stack[-1][0] == self._stack[-2][0]:
            (level, right), (_, left) = self._stack.pop(), self._stack.pop()
            merged = node_hash(left, right)
            self._stack.append((level + 1, merged))
            if appended is not None:
                appended.append((level + 1, (self.size >> (level + 1)) - 1, merged))

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        root = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            root = node_hash(left, root)
        return root


def root_of(leaves: Iterable[bytes]) -> bytes:
    """Merkle tree hash of leaf hashes, in one pass and O(log n) memory."""
    frontier = Frontier()
    for leaf in leaves:
        frontier.append(leaf)
    return frontier.root()


def subtree_hash(read: NodeReader, start: int, end: int) -> bytes:
    """``MTH(D[start:end])`` for a range whose start is aligned as RFC 6962's recursion produces."""
    n = end - start
    if n <= 0:
        return EMPTY_ROOT
    if n & (n - 1) == 0 and start % n == 0:
        return read(n.bit_length() - 1, start // n)
    k = _split(n)
    return node_hash(subtree_hash(read, start, start + k), subtree_hash(read, start + k, end))


def inclusion_proof(read: NodeReader, index: int, size: int) -> list[bytes]:
    """RFC 6962 ``PATH(index, D[0:size])``: sibling hashes from the leaf up."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size}")
    proof: list[bytes] = []
    start, end, m = 0, size, index
    # Walk down from the root, collecting siblings; they are reversed at the end (leaf first).
    while end - start > 1:
        k = _split(end - start)
        if m < k:
            proof.append(subtree_hash(read, start + k, end))
            end = start + k
        else:
            proof.append(subtree_hash(read, start, start + k))
            start, m = start + k, m - k
    return proof[::-1]


def consistency_proof(read: NodeReader, old: int, new: int) -> list[bytes]:
    """RFC 6962 ``PROOF(old, D[0:new])``; empty when ``old`` is 0 or equals ``new``."""
    if not 0 <= old <= new:
        raise ProofError(f"no consistency proof from {old} to {new}")
    if old in (0, new):
        return []
    proof: list[bytes] = []
    start, end, m, whole = 0, new, old, True
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            proof.append(subtree_hash(read, start + k, end))
            end = start + k
        else:
            proof.append(subtree_hash(read, start, start + k))
            start, m, whole = start + k, m - k, False
    if not whole:
        proof.append(subtree_hash(read, start, end))
    return proof[::-1]


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """RFC 9162 2.1.3.2; raises :class:`ProofError` unless ``leaf`` is leaf ``index`` of the tree ``root``."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("inclusion proof is too short")
    if r != root:
        raise ProofError(f"leaf {index} is not in the tree of size {size} with this root")


def verify_consistency(old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> None:
    """RFC 9162 2.1.4.2; raises :class:`ProofError` unless tree ``new`` extends tree ``old`` unchanged."""
    if not 0 <= old <= new:
        raise ProofError(f"no consistency between sizes {old} and {new}")
    if old == 0:
        if proof:
            raise ProofError("the proof from an empty tree must be empty")
        return
    if old == new:
        if proof or old_root != new_root:
            raise ProofError("two different roots for the same size")
        return
    path = list(proof)
    if old & (old - 1) == 0:
        path.insert(0, old_root)
    if not path:
        raise ProofError("empty consistency proof")
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("consistency proof is too short")
    if fr != old_root or sr != new_root:
        raise ProofError(f"the tree of size {new} does not extend the tree of size {old}")


class MemoryTree:
    """Every perfect subtree of a list of leaves, in memory: the reference store (tests, bench, verifier)."""

    def __init__(self, leaves: Iterable[bytes] = ()) -> None:
        self.levels: list[list[bytes]] = [[]]
        for leaf in leaves:
            self.append(leaf)

    def append(self, leaf: bytes) -> None:
        self.levels[0].append(leaf)
        level = 0
        while len(self.levels[level]) % 2 == 0:
            below = self.levels[level]
            if level + 1 == len(self.levels):
                self.levels.append([])
            self.levels[level + 1].append(node_hash(below[-2], below[-1]))
            level += 1

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def read(self, level: int, index: int) -> bytes:
        return self.levels[level][index]

    def root(self, size: int | None = None) -> bytes:
        return subtree_hash(self.read, 0, self.size if size is None else size)
