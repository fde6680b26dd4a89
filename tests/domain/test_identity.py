"""Identity tokens and command proofs (EdDSA JWTs): only a statement signed by a trusted key,
for its audience, alive now, and bound to exactly this workflow, request and content passes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from domain.identity import (
    MAX_PROOF_TTL,
    IdentityError,
    KeyRing,
    Signer,
    command_digest,
    issue_token,
    prove,
    token_hash,
    verify_proof,
    verify_token,
)
from domain.roles import Actor

SIGNER = Signer.from_seed(bytes(range(32)))
OTHER = Signer.from_seed(bytes(range(1, 33)))
RING = SIGNER.ring()
NOW = datetime(2025, 6, 1, tzinfo=UTC)
ACTOR = Actor(person_id="p-1", role="district_police", province_code="84", district_code="842")
CASE = "conversion:tra-vinh-2025:29242"
COMMAND = {"request_id": "r-1", "actor": ACTOR.model_dump(mode="json"), "selected": True,
           "reason": ""}
DIGEST = command_digest(COMMAND)


def proof(signer: Signer = SIGNER, actor: Actor = ACTOR, now: datetime = NOW,
          **over: object) -> str:
    args: dict[str, object] = {"target": CASE, "request_id": "r-1", "digest": DIGEST}
    args.update(over)
    return prove(signer, actor, now=now, **args)  # type: ignore[arg-type]


def refusal(statement: str | None, actor: Actor = ACTOR, now: datetime = NOW,
            ring: KeyRing = RING, **over: object) -> str:
    args: dict[str, object] = {"target": CASE, "request_id": "r-1", "digest": DIGEST}
    args.update(over)
    with pytest.raises(IdentityError) as info:
        verify_proof(ring, statement, actor, now=now, **args)  # type: ignore[arg-type]
    return info.value.code


def test_a_proof_for_exactly_this_command_passes() -> None:
    verify_proof(RING, proof(), ACTOR, target=CASE, request_id="r-1", digest=DIGEST, now=NOW)


def test_missing_malformed_and_foreign_proofs() -> None:
    assert refusal(None) == "identity.missing_token"
    assert refusal("") == "identity.missing_token"
    assert refusal("not-a-jwt") == "identity.bad_token"
    assert refusal("x" * 5000) == "identity.bad_token"
    assert refusal(proof(OTHER)) == "identity.unknown_key"
    # a token of the right key id whose signature is another key's
    forged = jwt.encode(jwt.decode(proof(), options={"verify_signature": False}), OTHER.key,
                        algorithm="EdDSA", headers={"kid": SIGNER.kid})
    assert refusal(forged) == "identity.bad_signature"
    # "alg: none" and HMAC tricks are refused before any key is used
    unsigned = jwt.encode({"sub": "p-1"}, None, algorithm="none", headers={"kid": SIGNER.kid})
    assert refusal(unsigned) == "identity.bad_token"


def test_a_proof_lifted_from_history_authorises_nothing_else() -> None:
    lifted = proof()
    assert refusal(lifted, target="conversion:tra-vinh-2025:29245") == "identity.wrong_target"
    assert refusal(lifted, request_id="r-2") == "identity.wrong_request"
    changed = command_digest({**COMMAND, "selected": False})
    assert refusal(lifted, digest=changed) == "identity.wrong_content"
    someone = ACTOR.model_copy(update={"person_id": "p-2"})
    assert refusal(lifted, actor=someone) == "identity.mismatch"


def test_expiry_lifetime_and_audience() -> None:
    assert refusal(proof(), now=NOW + timedelta(minutes=5)) == "identity.expired"
    verify_proof(RING, proof(), ACTOR, target=CASE, request_id="r-1", digest=DIGEST,
                 now=NOW + timedelta(minutes=4))
    assert refusal(proof(ttl=MAX_PROOF_TTL + timedelta(minutes=1))) == "identity.bad_lifetime"
    assert refusal(proof(now=NOW + timedelta(hours=1))) == "identity.bad_lifetime"  # future
    # an identity token is not a command proof (another audience), and the other way round
    token = issue_token(SIGNER, ACTOR, NOW)
    assert refusal(token) == "identity.wrong_audience"
    with pytest.raises(IdentityError) as info:
        verify_token(RING, proof(), NOW)
    assert info.value.code == "identity.wrong_audience"


def test_relayed_proofs_only_from_the_cases_own_campaign() -> None:
    relayed = proof(via="campaign:tra-vinh-2025")
    verify_proof(RING, relayed, ACTOR, target=CASE, request_id="r-1", digest=DIGEST, now=NOW,
                 via="campaign:tra-vinh-2025")
    assert refusal(relayed) == "identity.wrong_relay"
    assert refusal(relayed, via="campaign:other") == "identity.wrong_relay"


def test_identity_tokens_vouch_for_their_person_and_keep_only_a_hash() -> None:
    token = issue_token(SIGNER, ACTOR, NOW, ttl=timedelta(hours=8), name="Nguyễn Văn A")
    assert verify_token(RING, token, NOW + timedelta(hours=7)) == ACTOR
    with pytest.raises(IdentityError) as info:
        verify_token(RING, token, NOW + timedelta(hours=8))
    assert info.value.code == "identity.expired"
    with pytest.raises(IdentityError):
        issue_token(SIGNER, ACTOR, NOW, ttl=timedelta(days=365))  # a year-long token: never
    with_hash = jwt.decode(proof(token=token), options={"verify_signature": False})
    assert with_hash["tok"] == token_hash(token) and token not in json.dumps(with_hash)


def test_key_sets_rotate_and_round_trip() -> None:
    both = KeyRing.from_jwks(json.loads(json.dumps((SIGNER.ring() + OTHER.ring()).jwks())))
    for signer in (SIGNER, OTHER):
        verify_proof(both, proof(signer), ACTOR, target=CASE, request_id="r-1", digest=DIGEST,
                     now=NOW)
    assert Signer.from_pem(SIGNER.pem()).kid == SIGNER.kid
    with pytest.raises(IdentityError):
        KeyRing.from_jwks({"keys": []})
    with pytest.raises(IdentityError):
        KeyRing.from_jwks({"keys": [{"kty": "RSA", "n": "x", "e": "AQAB"}]})
    with pytest.raises(IdentityError):
        Signer.from_pem(b"-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")
