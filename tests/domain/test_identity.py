"""Signed identity tokens: only a valid, unexpired token for exactly this actor passes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.identity import IdentityError, public_key_of, sign_token, verify_token
from domain.roles import Actor

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
NOW = datetime(2025, 6, 1, tzinfo=UTC)
ACTOR = Actor(person_id="p-1", role="district_police", province_code="84", district_code="842")


def code_of(token: str | None, actor: Actor = ACTOR, now: datetime = NOW) -> str:
    with pytest.raises(IdentityError) as info:
        verify_token(public_key_of(KEY), token, actor, now)
    return info.value.code


def test_valid_token_passes() -> None:
    verify_token(public_key_of(KEY), sign_token(KEY, ACTOR, NOW + timedelta(hours=1)), ACTOR, NOW)


def test_missing_and_malformed() -> None:
    assert code_of(None) == "identity.missing_token"
    assert code_of("") == "identity.missing_token"
    assert code_of("no-dot") == "identity.bad_token"
    assert code_of("a.b.c") == "identity.bad_token"


def test_forged_signature() -> None:
    assert code_of(sign_token(OTHER_KEY, ACTOR, NOW + timedelta(hours=1))) == (
        "identity.bad_signature")
    body, sig = sign_token(KEY, ACTOR, NOW + timedelta(hours=1)).split(".")
    other = Actor(person_id="p-2", role="district_police", province_code="84",
                  district_code="842")
    other_body = sign_token(KEY, other, NOW + timedelta(hours=1)).split(".")[0]
    assert code_of(f"{other_body}.{sig}") == "identity.bad_signature"  # body swapped


def test_expiry_is_checked_against_the_given_clock() -> None:
    token = sign_token(KEY, ACTOR, NOW + timedelta(minutes=5))
    verify_token(public_key_of(KEY), token, ACTOR, NOW + timedelta(minutes=4))
    assert code_of(token, now=NOW + timedelta(minutes=5)) == "identity.expired"


@pytest.mark.parametrize("change", [
    {"person_id": "p-9"}, {"role": "district_health"}, {"province_code": "01"},
    {"district_code": "843"},
])
def test_a_token_vouches_for_one_actor_only(change: dict[str, str]) -> None:
    token = sign_token(KEY, ACTOR, NOW + timedelta(hours=1))
    assert code_of(token, actor=ACTOR.model_copy(update=change)) == "identity.mismatch"
