"""Merkle tree (cây Merkle) of the transparency log: RFC 6962 / RFC 9162 hashing and proofs.

Pure: no I/O, no clock. The audit log (issue 11) hashes every event hash in global order into
one tree; a signed checkpoint (``domain.checkpoint``) names its size and root; a consistency
proof shows a later tree still holds exactly that prefix, an inclusion proof that one event
is in it.

- ``leaf_hash(data)`` = SHA-256(0x00 || data), ``node_hash(l, r)`` = SHA-256(0x01 || l || r);
  the root of the empty tree is SHA-256 of nothing (``EMPTY_ROOT``).
- ``root(leaves)``: the root of a list (or any iterable) of leaf hashes.
- ``Frontier``: the compact range [0, size) (one subtree root per set bit of size, so at most
  64 hashes): append leaf hashes one at a time, read the root at any moment, store it
  (``hashes``, ``size``) and resume it later (``Frontier.restore``) without re-reading what
  it already covers. A checkpoint over 1,000,000 event hashes thus needs constant memory.
- ``inclusion_proof`` / ``consistency_proof``: generated from the leaf hashes, given as a
  sequence or as a callback ``leaf(i) -> bytes`` (the store's); each subtree they need is
  hashed in a streaming pass (O(log n) memory, O(n) hashing per proof).
- ``verify_inclusion`` / ``verify_consistency``: the verification algorithms of RFC 9162
  §2.1.3.2 and §2.1.4.2 (RFC 6962's, written out), raising ``MerkleError`` on any failure.

Every refusal is a ``MerkleError`` (an ``InputError``) with a stable code:
``merkle.bad_size`` (a size or index out of range), ``merkle.bad_hash`` (a leaf hash, proof
hash or stored frontier hash that is not 32 bytes), ``merkle.bad_proof`` (a proof of the
wrong length for its sizes), ``merkle.mismatch`` (the proof does not lead to the given root),
never an assertion or an ``IndexError``.

Conventions the test vectors (transparency-dev/merkle's) fix beyond the RFC text: a proof
between equal sizes is empty and the two roots must be equal bytes; the tree of size 0 has
exactly the root ``EMPTY_ROOT``; a consistency proof from the empty tree to a larger one is
refused (``merkle.bad_size``: nothing to prove, every tree extends the empty one, so a caller
checks an empty checkpoint by its root alone).

Why our own code and not a library: PyPI has no well-kept, typed RFC 6962 package with proof
generation. ``sigstore`` verifies inclusion proofs only, in a private module
(``sigstore._internal``), and would bring its whole dependency tree; the other packages that
mention RFC 6962 are new single-author projects. The algorithms are short and fully pinned by
the RFC and the test vectors; ``hashlib``'s SHA-256 does the work.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

from domain.errors import InputError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
MAX_SIZE = 2**63  # tree sizes and indexes stay below this (RFC 9162 uses uint64 sizes)

_LEAF = b"\x00"
_NODE = b"\x01"
_sha256 = hashlib.sha256

LeafSource = Sequence[bytes] | Callable[[int], bytes]
"""Where proof generation reads leaf hash ``i``: a sequence, or a callback ``leaf(i)``."""


class MerkleError(InputError):
    """A size, hash or proof the Merkle code cannot use, or a proof that does not verify."""


def _size_error(message: str, message_vi: str) -> MerkleError:
    return MerkleError("merkle.bad_size", message, message_vi)


def _proof_error(message: str, message_vi: str) -> MerkleError:
    return MerkleError("merkle.bad_proof", message, message_vi)


def _mismatch(message: str, message_vi: str) -> MerkleError:
    return MerkleError("merkle.mismatch", message, message_vi)


def _check_hash(value: object, what: str, what_vi: str) -> bytes:
    if not isinstance(value, bytes | bytearray) or len(value) != HASH_SIZE:
        size = len(value) if isinstance(value, bytes | bytearray) else type(value).__name__
        raise MerkleError("merkle.bad_hash",
                          f"{what} must be {HASH_SIZE} bytes (SHA-256), got {size}",
                          f"{what_vi} phải dài {HASH_SIZE} byte (SHA-256), nhận được {size}")
    return bytes(value)


def _check_size(value: object, what: str, what_vi: str, low: int = 0) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value < MAX_SIZE:
        raise _size_error(f"{what} must be an integer in [{low}, 2^63), got {value!r}",
                          f"{what_vi} phải là số nguyên trong [{low}, 2^63), "
                          f"nhận được {value!r}")
    return value


def leaf_hash(data: bytes) -> bytes:
    """The RFC 6962 hash of one leaf: SHA-256(0x00 || data)."""
    return _sha256(_LEAF + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The RFC 6962 hash of an inner node: SHA-256(0x01 || left || right)."""
    return _sha256(_NODE + left + right).digest()


def _largest_power_of_two_below(n: int) -> int:
    """k, the largest power of two smaller than n (n >= 2), as in RFC 9162 §2.1.1."""
    return 1 << ((n - 1).bit_length() - 1)


class Frontier:
    """The compact range [0, size): the roots of the perfect subtrees the tree's size splits into.

    ``hashes`` holds one root per set bit of ``size``, largest (leftmost) subtree first, so at
    most 64 hashes whatever the size. ``append`` adds one leaf hash (amortised one node hash),
    ``root()`` folds them into the tree's root; ``Frontier.restore(size, hashes)`` resumes a
    stored frontier.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self) -> None:
        self._hashes: list[bytes] = []
        self._size = 0

    @classmethod
    def restore(cls, size: int, hashes: Sequence[bytes]) -> Frontier:
        """A frontier saved earlier as its ``size`` and ``hashes``; refused when they disagree."""
        _check_size(size, "the frontier's size", "kích thước frontier")
        stored = list(hashes)
        if len(stored) != size.bit_count():
            raise _proof_error(
                f"a frontier of size {size} holds {size.bit_count()} hashes, got {len(stored)}",
                f"frontier kích thước {size} phải có {size.bit_count()} hash, "
                f"nhận được {len(stored)}")
        frontier = cls()
        frontier._hashes = [_check_hash(h, "a frontier hash", "hash của frontier")
                            for h in stored]
        frontier._size = size
        return frontier

    @property
    def size(self) -> int:
        """The number of leaves covered."""
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        """The subtree roots, largest subtree first (what to store to resume later)."""
        return tuple(self._hashes)

    def append(self, leaf: bytes) -> None:
        """Add the next leaf hash (32 bytes: ``leaf_hash`` of the entry, not the entry)."""
        _check_hash(leaf, "a leaf hash", "hash của lá")
        if self._size + 1 >= MAX_SIZE:
            raise _size_error("the tree is full (2^63 leaves)", "cây đã đầy (2^63 lá)")
        hashes = self._hashes
        hashes.append(bytes(leaf))
        size = self._size
        while size & 1:  # merge the equal-sized subtrees at the right end
            right = hashes.pop()
            hashes[-1] = _sha256(_NODE + hashes[-1] + right).digest()
            size >>= 1
        self._size += 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Append every leaf hash of ``leaves`` in order (a stream: nothing is kept)."""
        hashes = self._hashes
        n = self._size
        sha, node = _sha256, _NODE
        try:
            for leaf in leaves:
                if type(leaf) is not bytes or len(leaf) != HASH_SIZE:
                    _check_hash(leaf, "a leaf hash", "hash của lá")
                    leaf = bytes(leaf)
                hashes.append(leaf)
                size = n
                while size & 1:
                    right = hashes.pop()
                    hashes[-1] = sha(node + hashes[-1] + right).digest()
                    size >>= 1
                n += 1
        finally:  # what was appended before a bad hash stays appended, consistently
            self._size = n
        if n >= MAX_SIZE:
            raise _size_error("the tree is full (2^63 leaves)", "cây đã đầy (2^63 lá)")

    def root(self) -> bytes:
        """The RFC 6962 root of the leaves appended so far (``EMPTY_ROOT`` when none)."""
        if not self._hashes:
            return EMPTY_ROOT
        acc = self._hashes[-1]
        for left in reversed(self._hashes[:-1]):
            acc = _sha256(_NODE + left + acc).digest()
        return acc

    def copy(self) -> Frontier:
        frontier = Frontier()
        frontier._hashes = list(self._hashes)
        frontier._size = self._size
        return frontier

    def __repr__(self) -> str:
        return f"Frontier(size={self._size}, root={self.root().hex()})"


def root(leaves: Iterable[bytes]) -> bytes:
    """The RFC 6962 root of these leaf hashes (streamed: O(log n) memory)."""
    frontier = Frontier()
    frontier.extend(leaves)
    return frontier.root()


# -- proof generation ---------------------------------------------------------------------


def _reader(leaves: LeafSource) -> Callable[[int, int], bytes]:
    """The root of the leaves [start, end) of ``leaves``, streamed."""
    if callable(leaves):
        fetch = leaves

        def subtree(start: int, end: int) -> bytes:
            frontier = Frontier()
            frontier.extend(fetch(i) for i in range(start, end))
            return frontier.root()
    else:
        sequence = leaves

        def subtree(start: int, end: int) -> bytes:
            frontier = Frontier()
            frontier.extend(sequence[i] for i in range(start, end))
            return frontier.root()

    return subtree


def _check_source(leaves: LeafSource, size: int) -> None:
    if not callable(leaves) and len(leaves) < size:
        raise _size_error(f"the tree of size {size} needs {size} leaves, got {len(leaves)}",
                          f"cây kích thước {size} cần {size} lá, nhận được {len(leaves)}")


def inclusion_proof(index: int, size: int, leaves: LeafSource) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of the first ``size`` leaves (RFC 9162
    §2.1.3.1 PATH), nearest sibling first, as ``verify_inclusion`` takes it."""
    _check_size(size, "the tree size", "kích thước cây", 1)
    _check_size(index, "the leaf index", "chỉ số lá")
    if index >= size:
        raise _size_error(f"leaf index {index} is outside a tree of size {size}",
                          f"chỉ số lá {index} nằm ngoài cây kích thước {size}")
    _check_source(leaves, size)
    subtree = _reader(leaves)
    path: list[bytes] = []  # top-down; reversed at the end
    start, end, m = 0, size, index
    while end - start > 1:
        k = _largest_power_of_two_below(end - start)
        if m < k:
            path.append(subtree(start + k, end))
            end = start + k
        else:
            path.append(subtree(start, start + k))
            start, m = start + k, m - k
    path.reverse()
    return path


def consistency_proof(old_size: int, new_size: int, leaves: LeafSource) -> list[bytes]:
    """The proof that the tree of ``old_size`` leaves is a prefix of the tree of ``new_size``
    (RFC 9162 §2.1.4.1 PROOF), as ``verify_consistency`` takes it. Empty when the sizes are
    equal; ``old_size`` 0 is refused (there is nothing to prove)."""
    _check_size(new_size, "the new tree size", "kích thước cây mới")
    _check_size(old_size, "the old tree size", "kích thước cây cũ")
    if old_size > new_size:
        raise _size_error(f"the old size {old_size} exceeds the new size {new_size}",
                          f"kích thước cũ {old_size} lớn hơn kích thước mới {new_size}")
    if old_size == new_size:
        return []
    if old_size == 0:
        raise _size_error("no consistency proof from the empty tree (every tree extends it)",
                          "không có bằng chứng nhất quán từ cây rỗng (mọi cây đều mở rộng nó)")
    _check_source(leaves, new_size)
    subtree = _reader(leaves)
    proof: list[bytes] = []  # top-down; reversed at the end
    start, end, m, complete = 0, new_size, old_size, True
    while m != end - start:
        k = _largest_power_of_two_below(end - start)
        if m <= k:
            proof.append(subtree(start + k, end))
            end = start + k
        else:
            proof.append(subtree(start, start + k))
            start, m, complete = start + k, m - k, False
    if not complete:
        proof.append(subtree(start, end))
    proof.reverse()
    return proof


# -- verification --------------------------------------------------------------------------


def _check_proof(proof: Sequence[bytes] | None, want: int) -> list[bytes]:
    hashes = list(proof or ())
    if len(hashes) != want:
        raise _proof_error(f"the proof must hold {want} hashes, got {len(hashes)}",
                           f"bằng chứng phải có {want} hash, nhận được {len(hashes)}")
    return [_check_hash(h, f"proof hash {i}", f"hash {i} của bằng chứng")
            for i, h in enumerate(hashes)]


def _inclusion_length(index: int, size: int) -> int:
    """The audit path's length for leaf ``index`` of ``size``: inner nodes + border nodes."""
    inner = (index ^ (size - 1)).bit_length()
    return inner + (index >> inner).bit_count()


def root_from_inclusion_proof(index: int, size: int, leaf: bytes,
                              proof: Sequence[bytes] | None) -> bytes:
    """The root that the audit path ``proof`` of leaf hash ``leaf`` at ``index`` leads to."""
    _check_size(size, "the tree size", "kích thước cây", 1)
    _check_size(index, "the leaf index", "chỉ số lá")
    if index >= size:
        raise _size_error(f"leaf index {index} is outside a tree of size {size}",
                          f"chỉ số lá {index} nằm ngoài cây kích thước {size}")
    current = _check_hash(leaf, "the leaf hash", "hash của lá")
    path = _check_proof(proof, _inclusion_length(index, size))
    fn, sn = index, size - 1
    for sibling in path:  # RFC 9162 §2.1.3.2, step 3
        if sn == 0:
            raise _proof_error("the proof is longer than the path",
                               "bằng chứng dài hơn đường đi")
        if fn & 1 or fn == sn:
            current = node_hash(sibling, current)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            current = node_hash(current, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise _proof_error("the proof is shorter than the path", "bằng chứng ngắn hơn đường đi")
    return current


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes] | None,
                     root_hash: bytes) -> None:
    """Check that leaf hash ``leaf`` is leaf ``index`` of the tree of ``size`` with root
    ``root_hash`` (RFC 9162 §2.1.3.2); ``MerkleError`` when it is not."""
    if root_from_inclusion_proof(index, size, leaf, proof) != root_hash:
        raise _mismatch(f"leaf {index} is not in the tree of size {size} with this root",
                        f"lá {index} không thuộc cây kích thước {size} có gốc này")


def verify_consistency(old_size: int, new_size: int, proof: Sequence[bytes] | None,
                       old_root: bytes, new_root: bytes) -> None:
    """Check that the tree of ``old_size`` with ``old_root`` is a prefix of the tree of
    ``new_size`` with ``new_root`` (RFC 9162 §2.1.4.2); ``MerkleError`` when it is not."""
    _check_size(new_size, "the new tree size", "kích thước cây mới")
    _check_size(old_size, "the old tree size", "kích thước cây cũ")
    if old_size > new_size:
        raise _size_error(f"the old size {old_size} exceeds the new size {new_size}",
                          f"kích thước cũ {old_size} lớn hơn kích thước mới {new_size}")
    if old_size == new_size:
        _check_proof(proof, 0)
        if old_root != new_root or (new_size == 0 and new_root != EMPTY_ROOT):
            raise _mismatch(f"two different roots for one tree size {new_size}",
                            f"hai gốc khác nhau cho cùng kích thước cây {new_size}")
        return
    if old_size == 0:
        raise _size_error("no consistency proof from the empty tree (every tree extends it)",
                          "không có bằng chứng nhất quán từ cây rỗng (mọi cây đều mở rộng nó)")
    # The lowest perfect subtree the old tree ends with is the proof's seed: given as
    # proof[0], or the old root itself when the old tree is perfect (a power of two).
    level = (old_size & -old_size).bit_length() - 1
    index = (old_size - 1) >> level
    seeded = index != 0
    want = _inclusion_length(index, ((new_size - 1) >> level) + 1) + seeded
    path = _check_proof(proof, want)
    if not seeded:
        path.insert(0, _check_hash(old_root, "the old root", "gốc cũ"))
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:  # RFC 9162 §2.1.4.2, step 4
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:  # step 6
        if sn == 0:
            raise _proof_error("the proof is longer than the path",
                               "bằng chứng dài hơn đường đi")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise _proof_error("the proof is shorter than the path", "bằng chứng ngắn hơn đường đi")
    if fr != old_root:
        raise _mismatch(f"the proof does not lead to the old root (size {old_size})",
                        f"bằng chứng không dẫn tới gốc cũ (kích thước {old_size})")
    if sr != new_root:
        raise _mismatch(f"the proof does not lead to the new root (size {new_size})",
                        f"bằng chứng không dẫn tới gốc mới (kích thước {new_size})")
