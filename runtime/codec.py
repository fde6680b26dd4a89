"""Payload encryption at rest in Temporal (AES-256-GCM), on when a key is configured.

Case data are sensitive (Decree 13/2023/NĐ-CP): with ``DRUGFREE_PAYLOAD_KEY`` set (64 hex
characters), every payload the workflow service stores (inputs, updates, results, activity
arguments) is encrypted by the client and worker before it leaves the process.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCODING = b"binary/encrypted"
KEY_ID = b"drugfree-key-1"


class EncryptionCodec(PayloadCodec):
    def __init__(self, key: bytes, key_id: bytes = KEY_ID) -> None:
        if len(key) != 32:
            raise ValueError("payload key must be 32 bytes (64 hex characters)")
        self._aead = AESGCM(key)
        self._key_id = key_id

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        out = []
        for p in payloads:
            nonce = os.urandom(12)
            sealed = self._aead.encrypt(nonce, p.SerializeToString(), None)
            out.append(Payload(metadata={"encoding": ENCODING, "encryption-key-id": self._key_id},
                               data=nonce + sealed))
        return out

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        out = []
        for p in payloads:
            if p.metadata.get("encoding") != ENCODING:
                out.append(p)
                continue
            if p.metadata.get("encryption-key-id") != self._key_id:
                raise ValueError("payload encrypted with an unknown key id")
            plain = self._aead.decrypt(p.data[:12], p.data[12:], None)
            decoded = Payload()
            decoded.ParseFromString(plain)
            out.append(decoded)
        return out


def codec_from_env() -> EncryptionCodec | None:
    raw = os.environ.get("DRUGFREE_PAYLOAD_KEY")
    if not raw:
        return None
    try:
        key = bytes.fromhex(raw)
    except ValueError:
        raise ValueError("DRUGFREE_PAYLOAD_KEY must be hexadecimal") from None
    return EncryptionCodec(key)
