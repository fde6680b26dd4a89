"""RFC 6962 Merkle tree: every shared test vector (accepting exactly those with wantErr false),
proofs generated here verified for random trees, tampered proofs refused, and the streamed root
(``Frontier``, resumable) equal to the RFC's recursive definition."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import InputError
from domain.merkle import (
    EMPTY_ROOT,
    Frontier,
    MerkleError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)

REPO = Path(__file__).resolve().parents[2]
# The shared copy beside the repository when there is one (the source); the copy
# committed under tests/data/ (same files, with their licence) on a clone anywhere else, as CI.
SHARED = REPO.parent / "shared" / "testdata" / "rfc6962"
COMMITTED = REPO / "tests" / "data" / "rfc6962"
VECTORS = SHARED if SHARED.is_dir() else COMMITTED
VECTOR_DIRS = ("inclusion", "consistency", "inclusion/additional", "inclusion/single-entry",
               "consistency/additional")


def _vector_files() -> list[Path]:
    return sorted(VECTORS.glob("**/*.json")) if VECTORS.is_dir() else []


def test_the_shared_vectors_are_there() -> None:
    """A missing vector directory fails (it would otherwise turn the vector tests into none)."""
    if not VECTORS.is_dir():
        pytest.fail(f"the RFC 6962 test vectors are missing: expected the directory {VECTORS} "
                    "(shared/testdata/rfc6962 beside the repository)")
    for sub in VECTOR_DIRS:
        assert list((VECTORS / sub).glob("**/*.json")), f"no vectors under {VECTORS / sub}"
    files = _vector_files()
    assert len(files) >= 190, f"only {len(files)} vector files under {VECTORS}"
    wanted = [json.loads(f.read_text())["wantErr"] for f in files]
    assert wanted.count(False) >= 10 and wanted.count(True) >= 150


def test_the_committed_vectors_are_the_shared_ones() -> None:
    """The copy under tests/data/ is byte for byte the shared one (checked where both are)."""
    assert COMMITTED.is_dir(), f"missing {COMMITTED}"
    if not SHARED.is_dir():
        return  # a clone away from the shared folder: the committed copy is what there is
    ours = {p.relative_to(COMMITTED): p.read_bytes() for p in COMMITTED.rglob("*") if p.is_file()}
    theirs = {p.relative_to(SHARED): p.read_bytes() for p in SHARED.rglob("*") if p.is_file()}
    assert ours == theirs


def _b64(value: str | None) -> bytes:
    return base64.b64decode(value or "", validate=True)


def _proof(value: list[str] | None) -> list[bytes]:
    return [_b64(p) for p in value or []]


def _check(vector: dict[str, Any]) -> None:
    if "leafIdx" in vector:
        verify_inclusion(vector["leafIdx"], vector["treeSize"], _b64(vector["leafHash"]),
                         _proof(vector["proof"]), _b64(vector["root"]))
    else:
        verify_consistency(vector["size1"], vector["size2"], _proof(vector["proof"]),
                           _b64(vector["root1"]), _b64(vector["root2"]))


@pytest.mark.parametrize("path", _vector_files(),
                         ids=lambda p: str(p.relative_to(VECTORS)) if VECTORS.is_dir() else "")
def test_vector(path: Path) -> None:
    vector = json.loads(path.read_text())
    if vector["wantErr"]:
        with pytest.raises(MerkleError) as refused:
            _check(vector)
        assert refused.value.code in {"merkle.bad_size", "merkle.bad_hash", "merkle.bad_proof",
                                      "merkle.mismatch"}
        assert refused.value.message and refused.value.message_vi
    else:
        _check(vector)


# -- the RFC's definitions, written recursively, as the reference -------------------------


def reference_root(leaves: list[bytes]) -> bytes:
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = 1 << ((n - 1).bit_length() - 1)
    return node_hash(reference_root(leaves[:k]), reference_root(leaves[k:]))


def leaves_of(n: int, salt: int = 0) -> list[bytes]:
    return [leaf_hash(f"event {salt}/{i}".encode()) for i in range(n)]


def test_hashes_have_the_rfc_prefixes() -> None:
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    a, b = leaf_hash(b"a"), leaf_hash(b"b")
    assert node_hash(a, b) == hashlib.sha256(b"\x01" + a + b).digest()
    assert EMPTY_ROOT == bytes.fromhex(
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    assert root([]) == EMPTY_ROOT
    assert root([a]) == a


def test_known_root_of_rfc6962_reference_tree() -> None:
    """The 8-leaf tree of the RFC 6962 reference tests (certificate-transparency)."""
    data = [bytes.fromhex(h) for h in
            ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
             "606162636465666768696a6b6c6d6e6f")]
    assert root([leaf_hash(d) for d in data]).hex() == \
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 300))
def test_streamed_root_equals_the_recursive_definition(n: int) -> None:
    leaves = leaves_of(n)
    assert root(leaves) == reference_root(leaves)
    frontier = Frontier()
    for leaf in leaves:
        frontier.append(leaf)
    assert frontier.root() == reference_root(leaves)
    assert frontier.size == n and len(frontier.hashes) == n.bit_count()


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 200), st.integers(0, 200))
def test_a_stored_frontier_resumes(m: int, extra: int) -> None:
    leaves = leaves_of(m + extra, salt=1)
    first = Frontier()
    first.extend(leaves[:m])
    saved_size, saved = first.size, first.hashes
    resumed = Frontier.restore(saved_size, saved)
    assert resumed.root() == reference_root(leaves[:m])
    resumed.extend(iter(leaves[m:]))
    assert resumed.root() == reference_root(leaves)
    assert resumed.hashes == Frontier.restore(len(leaves), resumed.hashes).hashes


def test_frontier_refuses_bad_input() -> None:
    with pytest.raises(MerkleError) as bad:
        Frontier.restore(3, [leaf_hash(b"x")])
    assert bad.value.code == "merkle.bad_proof"
    with pytest.raises(MerkleError) as bad:
        Frontier.restore(1, [b"short"])
    assert bad.value.code == "merkle.bad_hash"
    with pytest.raises(MerkleError) as bad:
        Frontier.restore(-1, [])
    assert bad.value.code == "merkle.bad_size"
    frontier = Frontier()
    with pytest.raises(MerkleError) as bad:
        frontier.append(b"x" * 31)
    assert bad.value.code == "merkle.bad_hash"
    frontier.extend(leaves_of(3))
    with pytest.raises(MerkleError):
        frontier.extend([leaf_hash(b"ok"), "not bytes"])  # type: ignore[list-item]
    assert frontier.size == 4  # what came before the bad hash is kept, consistently
    assert frontier.root() == reference_root([*leaves_of(3), leaf_hash(b"ok")])
    assert isinstance(bad.value, InputError)


@st.composite
def tree_and_index(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(st.integers(1, 140))
    return size, draw(st.integers(0, size - 1))


@settings(max_examples=300, deadline=None)
@given(tree_and_index(), st.booleans())
def test_generated_inclusion_proofs_verify(case: tuple[int, int], by_callback: bool) -> None:
    size, index = case
    leaves = leaves_of(size + 3, salt=2)  # more leaves than the tree: only the prefix counts
    source = leaves.__getitem__ if by_callback else leaves
    proof = inclusion_proof(index, size, source)
    tree_root = reference_root(leaves[:size])
    verify_inclusion(index, size, leaves[index], proof, tree_root)
    assert root_from_inclusion_proof(index, size, leaves[index], proof) == tree_root
    # Anything else is refused: another leaf, another index, another size, a changed proof.
    with pytest.raises(MerkleError):
        verify_inclusion(index, size, leaf_hash(b"forged"), proof, tree_root)
    if size > 1:
        with pytest.raises(MerkleError):
            verify_inclusion((index + 1) % size, size, leaves[index], proof, tree_root)
    with pytest.raises(MerkleError):  # the same leaf, against the next tree's root
        verify_inclusion(index, size + 1, leaves[index], proof, reference_root(leaves[:size + 1]))
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([proof[i][0] ^ 1]) + proof[i][1:]
        with pytest.raises(MerkleError):
            verify_inclusion(index, size, leaves[index], flipped, tree_root)
    with pytest.raises(MerkleError) as longer:
        verify_inclusion(index, size, leaves[index], [*proof, tree_root], tree_root)
    assert longer.value.code == "merkle.bad_proof"


@st.composite
def two_sizes(draw: st.DrawFn) -> tuple[int, int]:
    new = draw(st.integers(1, 140))
    return draw(st.integers(1, new)), new


@settings(max_examples=300, deadline=None)
@given(two_sizes(), st.booleans())
def test_generated_consistency_proofs_verify(sizes: tuple[int, int], by_callback: bool) -> None:
    old, new = sizes
    leaves = leaves_of(new, salt=3)
    source = leaves.__getitem__ if by_callback else leaves
    proof = consistency_proof(old, new, source)
    old_root, new_root = reference_root(leaves[:old]), reference_root(leaves)
    verify_consistency(old, new, proof, old_root, new_root)
    if old == new:
        assert proof == []
        return
    # A rewritten history is refused: one leaf of the old prefix changed, roots recomputed.
    rewritten = list(leaves)
    rewritten[old - 1] = leaf_hash(b"rewritten")
    with pytest.raises(MerkleError):
        verify_consistency(old, new, consistency_proof(old, new, rewritten), old_root,
                           reference_root(rewritten))
    with pytest.raises(MerkleError):
        verify_consistency(old, new, proof, new_root, old_root)
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = proof[i][:-1] + bytes([proof[i][-1] ^ 0x80])
        with pytest.raises(MerkleError):
            verify_consistency(old, new, flipped, old_root, new_root)
    with pytest.raises(MerkleError) as shorter:
        verify_consistency(old, new, proof[:-1], old_root, new_root)
    assert shorter.value.code == "merkle.bad_proof"


def test_empty_and_equal_trees() -> None:
    leaves = leaves_of(5)
    assert consistency_proof(5, 5, leaves) == []
    verify_consistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT)
    verify_consistency(5, 5, None, reference_root(leaves), reference_root(leaves))
    with pytest.raises(MerkleError) as bad:
        consistency_proof(0, 5, leaves)
    assert bad.value.code == "merkle.bad_size"
    with pytest.raises(MerkleError) as bad:
        verify_consistency(5, 5, [EMPTY_ROOT], reference_root(leaves), reference_root(leaves))
    assert bad.value.code == "merkle.bad_proof"


@pytest.mark.parametrize(("call", "code"), [
    (lambda: inclusion_proof(5, 5, leaves_of(5)), "merkle.bad_size"),
    (lambda: inclusion_proof(0, 0, []), "merkle.bad_size"),
    (lambda: inclusion_proof(-1, 5, leaves_of(5)), "merkle.bad_size"),
    (lambda: inclusion_proof(0, 6, leaves_of(5)), "merkle.bad_size"),
    (lambda: inclusion_proof(0, True, leaves_of(5)), "merkle.bad_size"),
    (lambda: inclusion_proof(0, 4, [b"short"] * 4), "merkle.bad_hash"),
    (lambda: consistency_proof(6, 5, leaves_of(6)), "merkle.bad_size"),
    (lambda: consistency_proof(2, 9, leaves_of(5)), "merkle.bad_size"),
    (lambda: consistency_proof(2, 2**64, leaves_of(5)), "merkle.bad_size"),
    (lambda: verify_inclusion(3, 2, leaf_hash(b""), [], EMPTY_ROOT), "merkle.bad_size"),
    (lambda: verify_inclusion(0, 2, leaf_hash(b""), [b"x"], EMPTY_ROOT), "merkle.bad_hash"),
    (lambda: verify_inclusion(0, 2, leaf_hash(b""), [], EMPTY_ROOT), "merkle.bad_proof"),
    (lambda: verify_consistency(3, 2, [], EMPTY_ROOT, EMPTY_ROOT), "merkle.bad_size"),
    (lambda: verify_consistency(1, 2, [], EMPTY_ROOT, EMPTY_ROOT), "merkle.bad_proof"),
    (lambda: verify_consistency(1, 2, [EMPTY_ROOT], EMPTY_ROOT, EMPTY_ROOT), "merkle.mismatch"),
    (lambda: verify_consistency(0, 0, [], b"x", b"x"), "merkle.mismatch"),
])
def test_malformed_input_is_refused_with_a_code(call: Any, code: str) -> None:
    with pytest.raises(MerkleError) as refused:
        call()
    assert refused.value.code == code
    assert refused.value.message_vi


def test_a_callback_that_fails_is_not_hidden() -> None:
    def leaf(i: int) -> bytes:
        raise KeyError(i)

    with pytest.raises(KeyError):
        inclusion_proof(0, 4, leaf)


@pytest.mark.parametrize(("old", "new"), [(1, 2), (2, 3), (3, 4), (4, 8), (7, 8), (8, 9),
                                          (511, 1024), (1023, 1025), (1024, 2049), (777, 3001)])
def test_consistency_at_power_of_two_boundaries(old: int, new: int) -> None:
    leaves = leaves_of(new, salt=4)
    proof = consistency_proof(old, new, leaves)
    verify_consistency(old, new, proof, root(leaves[:old]), root(leaves))
    for index in (0, old - 1, new - 1):
        verify_inclusion(index, new, leaves[index], inclusion_proof(index, new, leaves),
                         root(leaves))
