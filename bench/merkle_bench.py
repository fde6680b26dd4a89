"""Merkle benchmark (the pure core of the audit log's checkpoints; no database).

    python -m bench.merkle_bench [--leaves 1000000] [--rounds 3] [--out FILE]

Measures, on random 32-byte leaf hashes: the root of the whole tree (``merkle.root`` over a
list, and streamed through a ``Frontier`` from a generator, with the peak memory the stream
allocates); resuming a stored frontier; generating and verifying a consistency proof and an
inclusion proof; signing and verifying a checkpoint. Prints a table and the JSON (also written
to ``--out`` when given). Not part of ``make test``.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import time
import tracemalloc
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from domain import merkle
from domain.checkpoint import Checkpoint, sign, verify
from domain.identity import Signer

ORIGIN = "drugfree.example/bench"


def best(fn: Callable[[], object], rounds: int) -> float:
    """The best wall time of ``rounds`` calls, in seconds."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def stream(n: int, seed: int) -> Iterator[bytes]:
    rng = random.Random(seed)
    for _ in range(n):
        yield rng.randbytes(32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    n: int = args.leaves
    rng = random.Random(42)
    leaves = [rng.randbytes(32) for _ in range(n)]
    results: dict[str, Any] = {"leaves": n, "python": platform.python_version(),
                               "machine": platform.machine()}

    root = merkle.root(leaves)
    results["root_list_s"] = best(lambda: merkle.root(leaves), args.rounds)

    results["stream_generation_s"] = best(lambda: sum(1 for _ in stream(n, 42)), 1)
    start = time.perf_counter()
    streamed = merkle.root(stream(n, 42))
    results["root_streamed_s"] = time.perf_counter() - start  # leaf generation included
    tracemalloc.start()  # a separate run: tracing slows every allocation down
    merkle.root(stream(n, 42))
    results["root_streamed_peak_kib"] = tracemalloc.get_traced_memory()[1] / 1024
    tracemalloc.stop()
    assert streamed == root

    old = n * 3 // 5 + 1  # an odd size, so the proof has its seed hash
    frontier = merkle.Frontier()
    frontier.extend(leaves[:old])
    saved = (frontier.size, frontier.hashes)

    def resume() -> bytes:
        resumed = merkle.Frontier.restore(*saved)
        resumed.extend(leaves[old:])
        return resumed.root()

    assert resume() == root
    results["frontier_resume_s"] = best(resume, args.rounds)
    results["frontier_resume_from"] = old

    old_root = frontier.root()
    start = time.perf_counter()
    proof = merkle.consistency_proof(old, n, leaves)
    results["consistency_proof_generate_s"] = time.perf_counter() - start
    results["consistency_proof_hashes"] = len(proof)
    results["consistency_verify_ms"] = median_ms(
        lambda: merkle.verify_consistency(old, n, proof, old_root, root), 1000)

    index = n // 3
    start = time.perf_counter()
    path = merkle.inclusion_proof(index, n, leaves.__getitem__)
    results["inclusion_proof_generate_s"] = time.perf_counter() - start
    results["inclusion_verify_ms"] = median_ms(
        lambda: merkle.verify_inclusion(index, n, leaves[index], path, root), 1000)

    signer = Signer.from_seed(bytes(range(32)))
    checkpoint = Checkpoint(ORIGIN, n, root, datetime.now(UTC))
    note = sign(checkpoint, signer)
    public = signer.key.public_key()
    results["checkpoint_sign_ms"] = median_ms(lambda: sign(checkpoint, signer), 200)
    results["checkpoint_verify_ms"] = median_ms(
        lambda: verify(note, public, origin=ORIGIN), 200)

    width = max(map(len, results))
    for key, value in results.items():
        shown = f"{value:.4f}" if isinstance(value, float) else str(value)
        print(f"{key:<{width}}  {shown}")
    text = json.dumps(results, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
