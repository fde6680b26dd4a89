"""`drugfree plans validate` on bundles written here, and `--rules` / `--criteria` given a file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from catalog.store import shipped_root
from tests.cli.test_cli import CLASSIFY_INPUT

CRITERIA = """\
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
    title_vi: Dưới 25 người nghiện
    title_en: Fewer than 25 addicts
    source: test data, 2
    requirements:
      - kind: fewer_than
        field: addicts_total
        limit: 25
"""

RULES = """\
id: bac-kan-2026
title_vi: Phân loại thử nghiệm
title_en: Test classification
source: test data
classes:
  - classification: type_i
    criteria:
      kind: at_least
      k: 1
      of:
        - kind: compare
          quantity: addicts_total
          ge: 10
  - classification: less_complex
    criteria:
      kind: at_least
      k: 1
      of:
        - kind: compare
          quantity: addicts_total
          gt: 0
drug_free:
  kind: compare
  quantity: addicts_total
  le: 0
"""


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True,
                          text=True, timeout=60, env={**os.environ, **(env or {})})


def plan_yaml(**changes: str) -> str:
    plan = yaml.safe_load((shipped_root() / "plans" / "ninh-binh-2026.yaml").read_text("utf-8"))
    plan.update(id="bac-kan-2026", province_code="06", criteria_set="bac-kan-2026",
                classification_rules="bac-kan-2026")
    plan.update(changes)
    return yaml.safe_dump(plan, allow_unicode=True, sort_keys=False)


def bundle(tmp_path: Path, plan: str | None = None, criteria: str = CRITERIA,
           rules: str = RULES) -> list[str]:
    """A province's folder: plans/, criteria_sets/, rule_sets/ with one file each."""
    files = {"plans/bac-kan-2026.yaml": plan if plan is not None else plan_yaml(),
             "criteria_sets/bac-kan-2026.yaml": criteria,
             "rule_sets/bac-kan-2026.yaml": rules}
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    return [str(tmp_path / name) for name in files]


def problems(r: subprocess.CompletedProcess[str]) -> list[str]:
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stdout + r.stderr
    return r.stdout.strip().splitlines()


def test_a_good_bundle_with_its_own_criteria_and_rules(tmp_path: Path) -> None:
    files = bundle(tmp_path)
    r = run("plans", "validate", *files)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert r.stdout.strip().splitlines() == [
        f"{files[0]}: hợp lệ (kế hoạch bac-kan-2026)",
        f"{files[1]}: hợp lệ (bộ tiêu chí bac-kan-2026)",
        f"{files[2]}: hợp lệ (bộ quy tắc phân loại bac-kan-2026)",
    ]
    en = run("plans", "validate", *files, "--lang", "en")
    assert en.stdout.splitlines()[0] == f"{files[0]}: valid (plan bac-kan-2026)"
    out = json.loads(run("plans", "validate", *files, "--json").stdout)
    assert out["valid"] is True
    assert [(f["kind"], f["id"], f["problems"]) for f in out["files"]] == [
        ("plan", "bac-kan-2026", []), ("criteria", "bac-kan-2026", []),
        ("rules", "bac-kan-2026", [])]


def test_then_the_province_uses_it_through_drugfree_catalog(tmp_path: Path) -> None:
    bundle(tmp_path)
    env = {"DRUGFREE_CATALOG": str(tmp_path)}
    listed = run("plans", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "bac-kan-2026" in {line.split("\t")[0] for line in listed.stdout.splitlines()}
    shown = json.loads(run("plans", "show", "bac-kan-2026", "--json", env=env).stdout)
    assert shown["criteria"]["id"] == "bac-kan-2026" and len(shown["criteria"]["criteria"]) == 2
    metrics = tmp_path / "m.json"
    metrics.write_text(json.dumps(CLASSIFY_INPUT), encoding="utf-8")
    r = run("classify", str(metrics), "--rules", "bac-kan-2026", "--json", env=env)
    assert json.loads(r.stdout)["classification"] == "type_i", r.stderr
    r = run("criteria", str(metrics), "--criteria", "bac-kan-2026", "--json", env=env)
    assert json.loads(r.stdout)["met"] is True, r.stderr


def test_a_plan_alone_falls_back_to_the_catalogue(tmp_path: Path) -> None:
    path = tmp_path / "bac-kan-2026.yaml"
    path.write_text(plan_yaml(criteria_set="thanh-hoa-2024", classification_rules="tra-vinh-2025"),
                    encoding="utf-8")
    r = run("plans", "validate", str(path))
    assert r.returncode == 0, (r.stdout, r.stderr)


def test_a_plan_naming_an_unknown_criteria_set(tmp_path: Path) -> None:
    plan, _, rules = bundle(tmp_path, plan=plan_yaml(criteria_set="ha-giang-2030"))
    lines = problems(run("plans", "validate", plan, rules, "--lang", "en"))
    assert lines == [f"{plan}: criteria_set: unknown criteria set 'ha-giang-2030' "
                     "(known: thanh-hoa-2024, tra-vinh-2025)",
                     f"{rules}: valid (classification rule set bac-kan-2026)"]
    vi = problems(run("plans", "validate", plan, rules))
    assert vi[0] == (f"{plan}: criteria_set: không có bộ tiêu chí 'ha-giang-2030' "
                     "(hiện có: thanh-hoa-2024, tra-vinh-2025)")


def test_a_bad_threshold_and_every_other_problem_is_reported(tmp_path: Path) -> None:
    criteria = CRITERIA.replace("limit: 25", "limit: -1")
    rules = RULES.replace("ge: 10", "ge: lots").replace("le: 0", "le: 0\n  colour: red")
    # ends before it starts (so every phase is outside it) and names a rule set nobody has
    plan = plan_yaml(ends_on="2025-12-31", classification_rules="ha-giang-2030")
    files = bundle(tmp_path, plan=plan, criteria=criteria, rules=rules)
    lines = problems(run("plans", "validate", *files, "--lang", "en"))
    assert (f"{files[1]}: criteria.1.requirements.0.fewer_than.limit: "
            "Input should be greater than or equal to 1") in lines
    assert any(line.startswith(f"{files[2]}: classes.0.criteria.of.0.compare.ge: ")
               and "lots" in line for line in lines)
    assert f"{files[2]}: drug_free.compare.colour: Extra inputs are not permitted" in lines
    assert f"{files[0]}: ends_on: must be after starts_on" in lines
    assert (f"{files[0]}: classification_rules: unknown classification rule set "
            "'ha-giang-2030' (known: bac-kan-2026, decision-28-2025-example, tra-vinh-2025)"
            in lines)
    assert any(line.startswith(f"{files[0]}: phases[0] (phase 1): outside the plan period")
               for line in lines)
    out = json.loads(run("plans", "validate", *files, "--json").stdout)
    assert out["valid"] is False and all(not f["valid"] for f in out["files"])
    assert {"field": "criteria.1.requirements.0.fewer_than.limit",
            "message": "Input should be greater than or equal to 1"} in out["files"][1]["problems"]


def test_a_duplicate_key(tmp_path: Path) -> None:
    criteria = CRITERIA.replace("source: test data\n", "source: test data\nid: other\n", 1)
    files = bundle(tmp_path, criteria=criteria)
    lines = problems(run("plans", "validate", *files, "--lang", "en"))
    assert lines[1] == (f"{files[1]}: key 'id' appears twice in one object "
                        "(again at line 5 column 1)")
    assert lines[0] == f"{files[0]}: valid (plan bac-kan-2026)"  # a given id, not unknown


def test_an_id_that_is_not_the_file_name(tmp_path: Path) -> None:
    files = bundle(tmp_path)
    renamed = Path(files[1]).with_name("bac-kan.yaml")
    Path(files[1]).rename(renamed)
    lines = problems(run("plans", "validate", files[0], str(renamed), files[2], "--lang", "en"))
    assert lines[1] == (f"{renamed}: id: 'bac-kan-2026' does not match the file name "
                        "(expected 'bac-kan')")


def test_unreadable_and_unknown_files(tmp_path: Path) -> None:
    other = tmp_path / "notes.yaml"
    other.write_text("hello: world\n", encoding="utf-8")
    missing = tmp_path / "absent.yaml"
    lines = problems(run("plans", "validate", str(other), str(missing), "--lang", "en"))
    assert lines[0].startswith(f"{other}: not a plan, a criteria set or a rule set")
    assert lines[1] == f"{missing}: cannot read {missing}: No such file or directory"


def test_rules_and_criteria_options_take_a_file(tmp_path: Path) -> None:
    _, criteria, rules = bundle(tmp_path)
    metrics = tmp_path / "m.json"
    metrics.write_text(json.dumps(CLASSIFY_INPUT), encoding="utf-8")
    r = run("classify", str(metrics), "--rules", rules, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["classification"] == "type_i"
    r = run("criteria", str(metrics), "--criteria", criteria)
    assert r.returncode == 0, r.stderr
    assert "Bộ tiêu chí bac-kan-2026: ĐẠT" in r.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(RULES.replace("ge: 10", "ge: lots"), encoding="utf-8")
    r = run("classify", str(metrics), "--rules", str(bad))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    line, = r.stderr.strip().splitlines()
    assert "classes.0.criteria.of.0.compare.ge" in line and "[rules.invalid]" in line
