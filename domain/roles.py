"""Actors (người thực hiện) and their jurisdictions (địa bàn quản lý).

Every person acts in a role within a jurisdiction: a province code, and for district and
commune roles also the district / commune code (DOMAIN.md, "Actors"). A case's scope is the
commune's province / district / commune; a decision from outside it is refused.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

Role = Literal[
    "commune_ubnd",  # UBND xã/phường/thị trấn: runs the conversion, submits reports and dossier
    "district_ubnd",  # UBND huyện: proposes communes, starts cases, reviews (xét duyệt)
    "district_police",  # Công an huyện: chairs the district appraisal (thẩm định)
    "district_labour",  # Phòng LĐTBXH: co-appraises (003 §IV.2)
    "district_health",  # Trung tâm Y tế: co-appraises (003 §IV.3)
    "province_police",  # Công an tỉnh: selects communes, receives reports, chairs appraisal
    "province_department",  # Sở, ngành tỉnh: co-appraise with the provincial police
    "province_council",  # Hội đồng xét duyệt tỉnh (after the 2025 reform)
    "province_ubnd",  # UBND tỉnh: approves the list of recognised communes
    "auditor",  # thanh tra / kiểm tra: read-only
    "operator",  # vận hành hệ thống: the codec server (decrypted payloads); no case access
]

ROLES: tuple[Role, ...] = (
    "commune_ubnd",
    "district_ubnd",
    "district_police",
    "district_labour",
    "district_health",
    "province_police",
    "province_department",
    "province_council",
    "province_ubnd",
    "auditor",
    "operator",
)

# roles with no part in cases or rounds: the system operator reads decrypted payloads through
# the codec server (runtime/codec_server.py), and nothing through the API or the pages
NO_CASE_ACCESS: frozenset[Role] = frozenset({"operator"})

Scope = Literal["commune", "district", "province"]

ROLE_SCOPE: dict[Role, Scope] = {
    "commune_ubnd": "commune",
    "district_ubnd": "district",
    "district_police": "district",
    "district_labour": "district",
    "district_health": "district",
    "province_police": "province",
    "province_department": "province",
    "province_council": "province",
    "province_ubnd": "province",
    "auditor": "province",
    "operator": "province",
}

ROLE_NAMES_VI: dict[Role, str] = {
    "commune_ubnd": "UBND cấp xã",
    "district_ubnd": "UBND cấp huyện",
    "district_police": "Công an cấp huyện",
    "district_labour": "Phòng Lao động - Thương binh và Xã hội",
    "district_health": "Trung tâm Y tế cấp huyện",
    "province_police": "Công an tỉnh",
    "province_department": "Sở, ngành tỉnh",
    "province_council": "Hội đồng xét duyệt tỉnh",
    "province_ubnd": "UBND tỉnh",
    "auditor": "Thanh tra, kiểm tra",
    "operator": "Vận hành hệ thống",
}


class Actor(BaseModel):
    """A person acting in a role. ``person_id`` is opaque: no names travel with decisions."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    person_id: str = Field(min_length=1, max_length=64)
    role: Role
    province_code: str = Field(pattern=r"^\d{2}$")
    district_code: str | None = Field(default=None, pattern=r"^\d{3}$")
    commune_code: str | None = Field(default=None, pattern=r"^\d{5}$")
    token: str | None = Field(default=None, max_length=4096)  # see domain/identity.py
    # the department (sở, ngành) a person reports for, when their role has several
    # (province_department): a reporting unit's id (domain.reporting)
    unit: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)

    @model_serializer(mode="wrap")
    def _as_before(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # left out while unset: an actor without a unit is the same message (and command
        # digest) as before units existed
        data: dict[str, Any] = handler(self)
        if self.unit is None:
            data.pop("unit", None)
        return data


class CaseScope(BaseModel):
    """The territory a case belongs to: its commune, district (legacy plans) and province."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    province_code: str
    district_code: str | None
    commune_code: str


def jurisdiction_error(actor: Actor, scope: CaseScope) -> str | None:
    """Why ``actor`` may not act on a case in ``scope``, or None if they may."""
    problem = jurisdiction_problem(actor, scope)
    return problem[0] if problem else None


def jurisdiction_problem(actor: Actor, scope: CaseScope) -> tuple[str, str] | None:
    """Why ``actor`` may not act on a case in ``scope``, in English and in Vietnamese, or
    None if they may."""
    if actor.province_code != scope.province_code:
        return (f"actor's province {actor.province_code} is not the case's {scope.province_code}",
                f"hồ sơ không thuộc địa bàn quản lý của bạn: bạn thuộc tỉnh "
                f"{actor.province_code}, hồ sơ thuộc tỉnh {scope.province_code}")
    kind = ROLE_SCOPE[actor.role]
    if kind in ("district", "commune") and scope.district_code is not None:
        if actor.district_code != scope.district_code:
            return (
                f"actor's district {actor.district_code} is not the case's {scope.district_code}",
                f"hồ sơ không thuộc địa bàn quản lý của bạn: bạn thuộc huyện "
                f"{actor.district_code}, hồ sơ thuộc huyện {scope.district_code}",
            )
    if kind == "commune" and actor.commune_code != scope.commune_code:
        return (f"actor's commune {actor.commune_code} is not the case's {scope.commune_code}",
                f"hồ sơ không thuộc địa bàn quản lý của bạn: bạn thuộc xã "
                f"{actor.commune_code}, hồ sơ thuộc xã {scope.commune_code}")
    return None
