"""Administrative units (đơn vị hành chính): the legacy 3-level and the current 2-level tables.

Counts come from ../shared/data/README.md and the seeds: Trà Vinh (84) has 104 communes in
9 districts (001 §III.1); Như Xuân (district 402 of Thanh Hóa, 38) has 16 (003); since
1 Jul 2025 Viet Nam has 34 provinces and 3,321 communes and no districts (DOMAIN.md).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from domain.admin_units import AdminRegistry, Structure, registry
from domain.errors import InputError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def legacy() -> AdminRegistry:
    return registry("legacy")


@pytest.fixture(scope="module")
def current() -> AdminRegistry:
    return registry("current")


# -- legacy structure (before 1 Jul 2025) --------------------------------------------------


def test_tra_vinh_has_9_districts_and_104_communes(legacy: AdminRegistry) -> None:
    assert legacy.province("84").name == "Tỉnh Trà Vinh"
    districts = legacy.districts_of_province("84")
    communes = legacy.communes_of_province("84")
    assert len(districts) == 9
    assert len(communes) == 104  # 001 §III.1: "104 xã, phường, thị trấn"
    # the district lists partition the province's communes
    by_district = [c for d in districts for c in legacy.communes_of_district(d.code)]
    assert sorted(c.code for c in by_district) == [c.code for c in communes]


def test_nhu_xuan_district_has_16_communes(legacy: AdminRegistry) -> None:
    district = legacy.district("402")
    assert district.name == "Huyện Như Xuân"
    assert district.province_code == "38"
    communes = legacy.communes_of_district("402")
    assert len(communes) == 16  # 003: 100% of its 16 communes
    assert {(c.province_code, c.district_code) for c in communes} == {("38", "402")}
    assert "402" in {d.code for d in legacy.districts_of_province("38")}


def test_legacy_totals(legacy: AdminRegistry) -> None:
    assert len(legacy.provinces) == 63
    assert len(legacy.communes) == 10_051


def test_commune_knows_its_district_and_province(legacy: AdminRegistry) -> None:
    yen_cat = legacy.commune("16174")
    assert yen_cat.name == "Thị trấn Yên Cát"
    assert yen_cat.kind == "thi_tran"
    assert yen_cat.district_code == "402"
    assert yen_cat.province_code == "38"
    assert legacy.district(yen_cat.district_code).province_code == yen_cat.province_code


def test_every_legacy_commune_points_to_a_district_of_its_own_province(
    legacy: AdminRegistry,
) -> None:
    for commune in legacy.communes.values():
        assert commune.district_code is not None
        district = legacy.district(commune.district_code)
        assert district.province_code == commune.province_code, commune
        assert legacy.province(commune.province_code)


def test_commune_kind_is_read_from_the_name(legacy: AdminRegistry, current: AdminRegistry) -> None:
    # the CSV's commune_type column is unreliable (data README): the name's prefix decides
    assert legacy.commune("00001").kind == "phuong"  # Phường Phúc Xá
    assert legacy.commune("16177").kind == "xa"  # Xã Bãi Trành
    assert current.commune("06994").kind == "dac_khu"  # Đặc khu Vân Đồn
    for reg in (legacy, current):
        for c in reg.communes.values():
            prefix = {"xa": "Xã", "phuong": "Phường", "thi_tran": "Thị trấn", "dac_khu": "Đặc khu"}
            assert c.name.startswith(prefix[c.kind]), c


# -- current structure (since 1 Jul 2025) --------------------------------------------------


def test_current_structure_has_34_provinces_and_3321_communes(current: AdminRegistry) -> None:
    assert len(current.provinces) == 34
    assert len(current.communes) == 3_321
    assert sum(len(current.communes_of_province(p)) for p in current.provinces) == 3_321


def test_current_communes_have_a_province_and_no_district(current: AdminRegistry) -> None:
    for commune in current.communes.values():
        assert commune.district_code is None
        assert current.province(commune.province_code).code == commune.province_code
    assert current.province("37").name == "Ninh Bình"


@pytest.mark.parametrize(
    "call",
    [
        lambda r: r.district("402"),
        lambda r: r.communes_of_district("402"),
        lambda r: r.district("xyz"),  # the structure is refused before the code is even read
    ],
)
def test_districts_do_not_exist_in_the_current_structure(
    current: AdminRegistry, call: Callable[[AdminRegistry], object]
) -> None:
    with pytest.raises(InputError) as exc:
        call(current)
    assert exc.value.code == "units.no_districts"
    assert "district" in exc.value.message
    assert current.districts == {}
    assert current.districts_of_province("37") == []


def test_merged_province_is_unknown_in_the_current_structure(current: AdminRegistry) -> None:
    # Trà Vinh (84) was merged into Vĩnh Long (86) in 2025
    with pytest.raises(InputError) as exc:
        current.province("84")
    assert exc.value.code == "units.unknown"
    assert "'84'" in exc.value.message and "current" in exc.value.message


# -- bad and unknown codes -----------------------------------------------------------------

BAD_PROVINCES = ["", "8", "840", "8a", "ab", " 84", "84 ", "84\n", "-1", "８４", "٨٤"]
BAD_DISTRICTS = ["", "40", "4020", "40a", "abc", "402\n", "４０２"]
BAD_COMMUNES = ["", "1617", "161740", "1617a", "abcde", "16174\n", "１６１７４"]


@pytest.mark.parametrize("structure", ["legacy", "current"])
@pytest.mark.parametrize("code", BAD_PROVINCES)
def test_bad_province_code(structure: Structure, code: str) -> None:
    with pytest.raises(InputError) as exc:
        registry(structure).province(code)
    assert exc.value.code == "units.bad_code"
    assert "province code must be 2 digits" in exc.value.message
    with pytest.raises(InputError) as exc:
        registry(structure).communes_of_province(code)
    assert exc.value.code == "units.bad_code"


@pytest.mark.parametrize("code", BAD_DISTRICTS)
def test_bad_district_code(legacy: AdminRegistry, code: str) -> None:
    with pytest.raises(InputError) as exc:
        legacy.district(code)
    assert exc.value.code == "units.bad_code"
    assert "district code must be 3 digits" in exc.value.message


@pytest.mark.parametrize("structure", ["legacy", "current"])
@pytest.mark.parametrize("code", BAD_COMMUNES)
def test_bad_commune_code(structure: Structure, code: str) -> None:
    with pytest.raises(InputError) as exc:
        registry(structure).commune(code)
    assert exc.value.code == "units.bad_code"
    assert "commune code must be 5 digits" in exc.value.message


@pytest.mark.parametrize(
    ("structure", "kind", "code"),
    [
        ("legacy", "province", "99"),
        ("legacy", "province", "00"),
        ("legacy", "district", "999"),
        ("legacy", "commune", "99999"),
        ("current", "province", "99"),
        ("current", "commune", "99999"),
    ],
)
def test_unknown_code(structure: Structure, kind: str, code: str) -> None:
    with pytest.raises(InputError) as exc:
        getattr(registry(structure), kind)(code)
    assert exc.value.code == "units.unknown"
    assert repr(code) in exc.value.message


def test_unknown_structure() -> None:
    with pytest.raises(InputError) as exc:
        registry("three-level")  # type: ignore[arg-type,unused-ignore]
    assert exc.value.code == "units.bad_structure"


def test_registry_is_cached() -> None:
    assert registry("legacy") is registry("legacy")
    assert registry("current") is registry("current")


# -- the generated data module -------------------------------------------------------------


def test_generated_data_module_is_current() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/gen_admin_units.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, (
        "domain/_admin_units_data.py is stale: run python scripts/gen_admin_units.py\n"
        + result.stdout
        + result.stderr
    )
