"""The catalogue: shipped files, a province's own directories (DRUGFREE_CATALOG), pinned sets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

import catalog
from catalog import Catalog
from catalog.store import shipped_root
from domain.criteria import CriteriaSet
from domain.errors import InputError

# A province's own criteria: two criteria (YAML as a province officer writes it).
BAC_KAN_CRITERIA = """\
# Bộ tiêu chí thử nghiệm của tỉnh (test data).
id: bac-kan-2026
title_vi: Tiêu chí xã không ma túy (Bắc Kạn 2026)
title_en: Drug-free commune criteria (Bac Kan 2026)
source: test data
criteria:
  - id: 1
    title_vi: Không có tụ điểm
    title_en: No hotspots
    source: test data, 1
    requirements:
      - kind: none
        field: hotspots
  - id: 2
    title_vi: Dưới 5 người nghiện
    title_en: Fewer than 5 addicts
    source: test data, 2
    requirements:
      - kind: fewer_than
        field: addicts_total
        limit: 5
"""


def province_dir(tmp_path: Path, name: str = "bac-kan") -> Path:
    """A province directory: a plan (a copy of Ninh Bình's with its own criteria) and its set."""
    root = tmp_path / name
    (root / "plans").mkdir(parents=True)
    (root / "criteria_sets").mkdir()
    (root / "criteria_sets" / "bac-kan-2026.yaml").write_text(BAC_KAN_CRITERIA, encoding="utf-8")
    plan = yaml.safe_load((shipped_root() / "plans" / "ninh-binh-2026.yaml").read_text("utf-8"))
    plan.update(id="bac-kan-2026", province_code="06", criteria_set="bac-kan-2026")
    (root / "plans" / "bac-kan-2026.yaml").write_text(
        yaml.safe_dump(plan, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return root


@pytest.fixture
def with_province(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = province_dir(tmp_path)
    monkeypatch.setenv(catalog.ENV_VAR, str(root))
    return root


# -- shipped ---------------------------------------------------------------------------------


def test_shipped_ids() -> None:
    assert set(catalog.plan_ids()) >= {"tra-vinh-2025", "nhu-xuan-2024-2025", "ninh-binh-2026"}
    assert catalog.criteria_set_ids() == ("thanh-hoa-2024", "tra-vinh-2025")
    assert catalog.rule_set_ids() == ("decision-28-2025-example", "tra-vinh-2025")
    assert catalog.DEFAULT_PLAN in catalog.plan_ids()


def test_a_plan_comes_with_its_sets_embedded_and_is_loaded_once() -> None:
    plan = catalog.get_plan("nhu-xuan-2024-2025")
    assert plan.criteria == catalog.get_criteria_set("thanh-hoa-2024")
    assert plan.rules == catalog.get_rule_set("tra-vinh-2025")
    assert catalog.get_plan("nhu-xuan-2024-2025") is plan


@pytest.mark.parametrize(("getter", "code", "known"), [
    (catalog.get_plan, "plan.unknown", "tra-vinh-2025"),
    (catalog.get_criteria_set, "criteria.unknown", "thanh-hoa-2024"),
    (catalog.get_rule_set, "rules.unknown", "decision-28-2025-example"),
])
def test_an_unknown_id_lists_the_known_ones(getter: object, code: str, known: str) -> None:
    with pytest.raises(InputError) as info:
        getter("ha-giang-2030")  # type: ignore[operator]
    assert info.value.code == code
    assert "ha-giang-2030" in info.value.message and known in info.value.message
    assert "ha-giang-2030" in (info.value.message_vi or "") and "không có" in (
        info.value.message_vi or "")


@pytest.mark.parametrize("folder", ["criteria_sets", "rule_sets"])
def test_shipped_sets_are_readable_yaml(folder: str) -> None:
    # Block style and Vietnamese as UTF-8: what a province officer can read and edit.
    for path in (shipped_root() / folder).glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        assert "\\u" not in text and "\\x" not in text
        assert not any(line.rstrip().endswith(("{", "[")) for line in text.splitlines())
        assert "Trà Vinh" in text or "Thanh Hóa" in text or "QĐ" in text
        assert "001_bb5719cd39510399.txt" in text or "003_6ef7dbea58ef7382.txt" in text or (
            "illustrative" in text.lower())


def test_resolve_is_free_for_a_plan_that_carries_its_sets() -> None:
    plan = catalog.get_plan("tra-vinh-2025")
    assert catalog.resolve(plan) is plan


def test_resolve_embeds_what_an_old_input_lacks() -> None:
    full = catalog.get_plan("tra-vinh-2025")
    old = full.model_copy(update={"criteria": None, "rules": None})
    assert catalog.resolve(old) == full
    only_rules = full.model_copy(update={"criteria": None})
    assert catalog.resolve(only_rules) == full


def test_resolve_names_the_field_of_an_unknown_id() -> None:
    old = catalog.get_plan("tra-vinh-2025").model_copy(
        update={"criteria": None, "rules": None, "classification_rules": "nope"})
    with pytest.raises(InputError) as info:
        catalog.resolve(old)
    assert info.value.code == "rules.unknown"
    assert "classification_rules: unknown classification rule set 'nope'" in info.value.message


def test_warm_loads_everything() -> None:
    catalog.warm()


# -- a province's own directory --------------------------------------------------------------


def test_a_province_adds_a_plan_with_its_own_criteria(with_province: Path) -> None:
    assert "bac-kan-2026" in catalog.plan_ids()
    assert "bac-kan-2026" in catalog.criteria_set_ids()
    plan = catalog.get_plan("bac-kan-2026")
    assert isinstance(plan.criteria, CriteriaSet) and len(plan.criteria.criteria) == 2
    assert plan.rules == catalog.get_rule_set("tra-vinh-2025")  # a shipped set, by id
    catalog.warm()


def test_several_directories(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    (first / "criteria_sets").mkdir(parents=True)
    (first / "criteria_sets" / "bac-kan-2026.yaml").write_text(BAC_KAN_CRITERIA, "utf-8")
    (second / "criteria_sets").mkdir(parents=True)
    other = BAC_KAN_CRITERIA.replace("id: bac-kan-2026", "id: cao-bang-2026")
    (second / "criteria_sets" / "cao-bang-2026.yaml").write_text(other, "utf-8")
    monkeypatch.setenv(catalog.ENV_VAR, f"{first}{os.pathsep}{second}{os.pathsep}")
    assert {"bac-kan-2026", "cao-bang-2026"} <= set(catalog.criteria_set_ids())


def test_the_same_id_twice_names_both_files(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = province_dir(tmp_path, "a"), province_dir(tmp_path, "b")
    monkeypatch.setenv(catalog.ENV_VAR, f"{first}{os.pathsep}{second}")
    with pytest.raises(InputError) as info:
        catalog.get_criteria_set("bac-kan-2026")
    assert info.value.code == "catalog.duplicate"
    assert str(first / "criteria_sets" / "bac-kan-2026.yaml") in info.value.message
    assert str(second / "criteria_sets" / "bac-kan-2026.yaml") in info.value.message


def test_a_shipped_id_cannot_be_shadowed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "p"
    (root / "rule_sets").mkdir(parents=True)
    shipped = shipped_root() / "rule_sets" / "tra-vinh-2025.yaml"
    (root / "rule_sets" / "tra-vinh-2025.yaml").write_bytes(shipped.read_bytes())
    monkeypatch.setenv(catalog.ENV_VAR, str(root))
    with pytest.raises(InputError) as info:
        catalog.get_rule_set("tra-vinh-2025")
    assert info.value.code == "catalog.duplicate" and str(shipped) in info.value.message


def test_a_file_whose_id_is_not_its_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "p"
    (root / "criteria_sets").mkdir(parents=True)
    (root / "criteria_sets" / "bac-kan.yaml").write_text(BAC_KAN_CRITERIA, "utf-8")
    monkeypatch.setenv(catalog.ENV_VAR, str(root))
    with pytest.raises(InputError) as info:
        catalog.get_criteria_set("bac-kan")
    assert info.value.code == "catalog.id_mismatch"
    assert "id: 'bac-kan-2026' does not match the file name" in info.value.message


def test_a_plan_naming_an_unknown_set(with_province: Path) -> None:
    (with_province / "criteria_sets" / "bac-kan-2026.yaml").unlink()
    with pytest.raises(InputError) as info:
        catalog.get_plan("bac-kan-2026")
    message = info.value.message
    assert info.value.code == "criteria.unknown"
    assert message.startswith(str(with_province / "plans" / "bac-kan-2026.yaml"))
    assert "criteria_set: unknown criteria set 'bac-kan-2026'" in message


def test_an_invalid_set_file_names_every_problem(with_province: Path) -> None:
    path = with_province / "criteria_sets" / "bac-kan-2026.yaml"
    path.write_text(BAC_KAN_CRITERIA.replace("limit: 5", "limit: -5").replace(
        "field: hotspots", "field: dragons"), "utf-8")
    with pytest.raises(InputError) as info:
        catalog.get_criteria_set("bac-kan-2026")
    message = info.value.message
    assert info.value.code == "criteria.invalid" and message.startswith(str(path))
    assert "criteria.0.requirements.0.none.field: unknown numeric metrics field 'dragons'" in (
        message)
    assert "criteria.1.requirements.0.fewer_than.limit: Input should be greater than or " in (
        message)
    with pytest.raises(InputError):
        catalog.warm()  # a worker would not start with it


def test_a_missing_directory_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(catalog.ENV_VAR, str(tmp_path / "nowhere"))
    with pytest.raises(InputError) as info:
        catalog.plan_ids()
    assert info.value.code == "catalog.not_a_directory" and "nowhere" in info.value.message


def test_a_catalog_object_is_independent_of_the_environment(with_province: Path) -> None:
    shipped_only = Catalog([shipped_root()])
    assert "bac-kan-2026" not in shipped_only.ids("plan")
    assert "bac-kan-2026" in Catalog([shipped_root(), with_province]).ids("plan")


# -- files outside the catalogue -------------------------------------------------------------


def test_load_files_anywhere(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(BAC_KAN_CRITERIA, "utf-8")  # any name: not a catalogue entry
    assert catalog.load_criteria_set_file(path).id == "bac-kan-2026"
    rules = tmp_path / "rules.json"
    rules.write_text(catalog.get_rule_set("tra-vinh-2025").model_dump_json(), "utf-8")
    assert catalog.load_rule_set_file(rules) == catalog.get_rule_set("tra-vinh-2025")


def test_load_plan_file_embeds_the_sets(tmp_path: Path) -> None:
    plan = catalog.get_plan("ninh-binh-2026")
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(plan.model_dump(mode="json", exclude={"criteria", "rules"}),
                                   allow_unicode=True), "utf-8")
    assert catalog.load_plan_file(path) == plan


def test_amendments_are_catalogue_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``amendments/<id>.yaml``: shipped and a province's own, found by id and by plan; the
    shipped one is package data; a file in the folder is checked by `plans validate`."""
    shipped = shipped_root() / "amendments" / "tra-vinh-2025-reform.yaml"
    assert shipped.is_file()
    assert "tra-vinh-2025-reform" in catalog.amendment_ids()
    assert [a.id for a in catalog.catalog().amendments_of("tra-vinh-2025")] == [
        "tra-vinh-2025-reform"]
    assert catalog.catalog().amendments_of("nhu-xuan-2024-2025") == []
    root = tmp_path / "province"
    (root / "amendments").mkdir(parents=True)
    own = shipped.read_text(encoding="utf-8").replace("id: tra-vinh-2025-reform",
                                                      "id: tra-vinh-2025-extra")
    (root / "amendments" / "tra-vinh-2025-extra.yaml").write_text(own, encoding="utf-8")
    monkeypatch.setenv("DRUGFREE_CATALOG", str(root))
    assert catalog.get_amendment("tra-vinh-2025-extra").amends == ["tra-vinh-2025"]
    with pytest.raises(InputError) as exc:
        catalog.get_amendment("nowhere")
    assert exc.value.code == "amendment.unknown" and "tra-vinh-2025-reform" in exc.value.message
    (reports,) = [catalog.validate_files([shipped])]
    assert [(r.kind, r.id, r.valid) for r in reports] == [
        ("amendment", "tra-vinh-2025-reform", True)]
    broken = root / "amendments" / "tra-vinh-2025-extra.yaml"
    broken.write_text(own.replace("effective_on: 2025-07-01", "effective_on: soon"), "utf-8")
    (bad,) = catalog.validate_files([broken])
    assert not bad.valid and bad.problems[0].field == "effective_on"
