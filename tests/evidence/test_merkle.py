"""RFC 6962 hashing and proofs against the published test vectors (Go's transparency-dev/merkle, the same
vectors Certificate Transparency uses), and against a brute-force reference on every small tree."""

from __future__ import annotations

import pytest

from redline.evidence.merkle import (
    EMPTY_ROOT,
    Frontier,
    MemoryTree,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)

h = bytes.fromhex
LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
TREE = MemoryTree(leaf_hash(h(x)) for x in LEAVES)


def reference_root(leaves: list[bytes]) -> bytes:
    """RFC 6962 section 2.1, literally."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(reference_root(leaves[:k]), reference_root(leaves[k:]))


def test_roots_match_the_published_vectors() -> None:
    assert root_of([]) == h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    for size, expected in enumerate(ROOTS, start=1):
        assert TREE.root(size) == h(expected)
        assert root_of(leaf_hash(h(x)) for x in LEAVES[:size]) == h(expected)


def test_inclusion_proofs_match_the_published_vectors() -> None:
    proof = inclusion_proof(TREE.read, 5, 8)
    assert proof == [
        h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
        h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    ]
    verify_inclusion(5, 8, leaf_hash(h(LEAVES[5])), proof, h(ROOTS[7]))
    with pytest.raises(ProofError):
        verify_inclusion(4, 8, leaf_hash(h(LEAVES[5])), proof, h(ROOTS[7]))
    assert inclusion_proof(TREE.read, 2, 3) == [h(ROOTS[1])]


def test_consistency_proofs_match_the_published_vectors() -> None:
    proof = consistency_proof(TREE.read, 6, 8)
    assert proof == [
        h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
        h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
        h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    ]
    verify_consistency(6, 8, h(ROOTS[5]), h(ROOTS[7]), proof)
    with pytest.raises(ProofError):
        verify_consistency(6, 8, h(ROOTS[4]), h(ROOTS[7]), proof)
    assert consistency_proof(TREE.read, 2, 5) == [
        h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
    ]


def test_every_proof_of_every_small_tree_verifies_and_no_altered_one_does() -> None:
    leaves = [leaf_hash(i.to_bytes(2, "big")) for i in range(70)]
    tree = MemoryTree(leaves)
    for size in range(1, len(leaves) + 1):
        root = reference_root(leaves[:size])
        assert tree.root(size) == root
        for index in range(size):
            proof = inclusion_proof(tree.read, index, size)
            verify_inclusion(index, size, leaves[index], proof, root)
            with pytest.raises(ProofError):
                verify_inclusion(index, size, leaves[(index + 1) % 70], proof, root)
            if proof:
                with pytest.raises(ProofError):
                    verify_inclusion(index, size, leaves[index], proof[:-1], root)
        for old in range(0, size + 1):
            old_root = reference_root(leaves[:old])
            proof = consistency_proof(tree.read, old, size)
            verify_consistency(old, size, old_root, root, proof)
            if 0 < old < size:
                with pytest.raises(ProofError):
                    verify_consistency(old, size, old_root, node_hash(root, root), proof)
                with pytest.raises(ProofError):
                    verify_consistency(old, size, node_hash(old_root, old_root), root, proof)


def test_frontier_records_every_perfect_subtree_it_completes() -> None:
    leaves = [leaf_hash(bytes([i])) for i in range(13)]
    tree = MemoryTree(leaves)
    frontier, stored = Frontier(), []
    for leaf in leaves:
        frontier.append(leaf, stored)
    assert frontier.root() == tree.root()
    assert {(lv, i): v for lv, i, v in stored} == {
        (lv, i): v for lv, row in enumerate(tree.levels) for i, v in enumerate(row)
    }
    resumed = Frontier(13, [tree.read(lv, i) for lv, i in Frontier.positions(13)])
    resumed.append(leaf_hash(b"x"))
    assert resumed.root() == MemoryTree([*leaves, leaf_hash(b"x")]).root()
