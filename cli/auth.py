"""``drugfree auth``: key pairs and identity tokens (khóa và thẻ định danh).

``keygen`` writes an Ed25519 key pair: the private key (PEM, readable by its owner only) and
its public half as a JWKS document, which workers (``DRUGFREE_IDENTITY_KEYS``) and the API
trust. ``issue`` prints an identity token (EdDSA JWT) for one person in one role and
jurisdiction, for a few hours: what a province's own sign-on would otherwise issue.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from cli.errors import fail
from cli.lang import Lang, LangOption
from domain.admin_units import registry
from domain.errors import InputError
from domain.identity import MAX_TOKEN_TTL, IdentityError, Signer, issue_token
from domain.roles import ROLE_SCOPE, ROLES, Actor, Role

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Khóa và thẻ định danh / keys and identity tokens.")

ENV_SIGNING_KEY = "DRUGFREE_SIGNING_KEY"
_TTL = re.compile(r"^(\d{1,4})([mhd])$")


def _say(lang: Lang, vi: str, en: str) -> str:
    return vi if lang is Lang.vi else en


def parse_ttl(text: str) -> timedelta:
    """``30m``, ``8h``, ``1d``: a token's lifetime, at most ``MAX_TOKEN_TTL``."""
    match = _TTL.fullmatch(text.strip())
    if match is None:
        raise InputError("auth.bad_ttl", f"--ttl {text!r}: expected a number and m, h or d "
                         "(e.g. 8h)", f"--ttl {text!r}: cần một số và m, h hoặc d (ví dụ 8h)")
    unit = {"m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
    ttl = timedelta(**{unit: int(match.group(1))})
    if not timedelta(0) < ttl <= MAX_TOKEN_TTL:
        raise InputError("auth.bad_ttl", f"--ttl {text}: a token lives at most "
                         f"{int(MAX_TOKEN_TTL.total_seconds() // 3600)}h",
                         f"--ttl {text}: thẻ chỉ có hiệu lực tối đa "
                         f"{int(MAX_TOKEN_TTL.total_seconds() // 3600)} giờ")
    return ttl


def person(role: str, province: str, district: str | None, commune: str | None,
           person_id: str, unit: str | None = None) -> Actor:
    """The person a token vouches for, checked against the official unit codes: a commune
    role names its commune, a district role its district, each inside the province."""
    if role not in ROLES:
        raise InputError("auth.bad_role", f"--role {role}: not one of {', '.join(ROLES)}",
                         f"--role {role}: không thuộc {', '.join(ROLES)}")
    scope = ROLE_SCOPE[role]
    if scope == "commune" and commune is None:
        raise InputError("auth.missing_unit", f"--role {role} needs --commune",
                         f"vai trò {role} cần --commune")
    if scope == "district" and district is None:
        raise InputError("auth.missing_unit", f"--role {role} needs --district",
                         f"vai trò {role} cần --district")
    units = registry("legacy" if district else "current")
    units.province(province)
    if district is not None:
        if units.district(district).province_code != province:
            raise InputError("auth.bad_unit", f"district {district} is not in province "
                             f"{province}", f"huyện {district} không thuộc tỉnh {province}")
    if commune is not None:
        c = units.commune(commune)
        if c.province_code != province or (district is not None and
                                          c.district_code != district):
            raise InputError("auth.bad_unit", f"commune {commune} is not in the given "
                             "province/district", f"xã {commune} không thuộc tỉnh/huyện đã nêu")
    role_: Role = role
    return Actor(person_id=person_id, role=role_, province_code=province,
                 district_code=district if scope != "province" else None,
                 commune_code=commune if scope == "commune" else None, unit=unit)


@app.command("keygen")
def keygen_cmd(
    out: Annotated[Path, typer.Option("--out", file_okay=False,
                                      help="Thư mục ghi khóa / directory for the keys")] =
    Path("var/keys"),
    name: Annotated[str, typer.Option("--name", help="Tên tệp / file name stem")] = "identity",
    lang: LangOption = Lang.vi,
) -> None:
    """Tạo cặp khóa Ed25519 / write an Ed25519 key pair: NAME.pem (private) and NAME.jwks.json
    (public, for DRUGFREE_IDENTITY_KEYS)."""
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name):
        fail(_say(lang, f"--name {name!r}: chỉ gồm chữ, số, - và _",
                  f"--name {name!r}: letters, digits, - and _ only"))
    private, public = out / f"{name}.pem", out / f"{name}.jwks.json"
    for path in (private, public):
        if path.exists():
            fail(_say(lang, f"{path} đã có; không ghi đè khóa", f"{path} exists; keys are "
                      "never overwritten"))
    out.mkdir(parents=True, exist_ok=True)
    signer = Signer.generate()
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(signer.pem())
    public.write_text(json.dumps(signer.ring().jwks(), indent=1) + "\n", encoding="utf-8")
    typer.echo(_say(lang, f"khóa riêng: {private}\nkhóa công khai (JWKS): {public}\nmã khóa: "
                    f"{signer.kid}", f"private key: {private}\npublic key (JWKS): {public}\n"
                    f"key id: {signer.kid}"))


@app.command("issue")
def issue_cmd(
    role: Annotated[str, typer.Option("--role", help="Vai trò / role: " + ", ".join(ROLES))],
    province: Annotated[str, typer.Option("--province", help="Mã tỉnh / province code")],
    name: Annotated[str, typer.Option("--name", help="Họ tên / the person's name")],
    district: Annotated[str | None, typer.Option("--district", help="Mã huyện / district "
                                                 "code")] = None,
    commune: Annotated[str | None, typer.Option("--commune", help="Mã xã / commune code")] =
    None,
    person_id: Annotated[str | None, typer.Option("--person-id", help="Mã người dùng / "
                                                  "person id (default: generated)")] = None,
    unit: Annotated[str | None, typer.Option(
        "--unit", help="Sở, ngành báo cáo (mã đơn vị) / the department a person reports for, "
                       "e.g. health")] = None,
    ttl: Annotated[str, typer.Option("--ttl", help="Thời hạn / lifetime: 30m, 8h, 1d")] = "8h",
    key: Annotated[Path | None, typer.Option("--key", envvar=ENV_SIGNING_KEY, dir_okay=False,
                                             help="Khóa riêng (PEM) / private key")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="In JSON / print JSON")] = False,
    lang: LangOption = Lang.vi,
) -> None:
    """Cấp thẻ định danh / print an identity token (EdDSA JWT) for one person."""
    if key is None:
        fail(_say(lang, f"thiếu khóa ký: --key FILE hoặc {ENV_SIGNING_KEY}",
                  f"no signing key: --key FILE or {ENV_SIGNING_KEY}"))
    if not name.strip() or len(name) > 200:
        fail(_say(lang, "--name: cần họ tên (tối đa 200 ký tự)",
                  "--name: a name is required (at most 200 characters)"))
    try:
        pem = key.read_bytes()
    except OSError as exc:
        fail(_say(lang, f"không đọc được {key}: {exc.strerror}",
                  f"cannot read {key}: {exc.strerror}"))
    try:
        signer = Signer.from_pem(pem)
        lifetime = parse_ttl(ttl)
        who = person(role, province, district, commune,
                     person_id or f"p-{uuid.uuid4().hex[:12]}", unit)
    except (IdentityError, InputError) as exc:
        fail(f"{exc.text(lang.value)} [{exc.code}]")
    except ValueError as exc:  # pydantic: a malformed code or id
        fail(_say(lang, f"giá trị không hợp lệ: {exc.__class__.__name__}",
                  f"invalid value: {exc.__class__.__name__}"))
    now = datetime.now(UTC)
    token = issue_token(signer, who, now, lifetime, name=name.strip())
    if as_json:
        typer.echo(json.dumps({"token": token, "person": who.model_dump(exclude={"token"}),
                               "name": name.strip(), "expires_at":
                               (now + lifetime).isoformat()}, ensure_ascii=False))
    else:
        typer.echo(token)
