"""`drugfree classify` and `drugfree criteria`: a commune's class and its recognition criteria."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

import catalog
from catalog import DEFAULT_RULE_SET
from cli.errors import guarded, read_metrics
from cli.lang import Lang, LangOption
from domain.classification import RuleSet, classify
from domain.criteria import CriteriaSet, evaluate
from domain.metrics import parse_metrics

CLASS_NAMES = {
    "type_i": ("Trọng điểm loại I", "Key area, type I"),
    "type_ii": ("Trọng điểm loại II", "Key area, type II"),
    "type_iii": ("Trọng điểm loại III", "Key area, type III"),
    "less_complex": ("Ít phức tạp", "Less complex"),
    "drug_free": ("Không ma túy", "Drug-free"),
}

MetricsArg = Annotated[Path, typer.Argument(help="Metrics JSON file (DOMAIN.md contract).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def is_file_ref(ref: str) -> bool:
    """``--rules`` / ``--criteria`` name a file when they look like one (a folder or a
    suffix); otherwise an id of the catalogue (ids have neither)."""
    return "/" in ref or "\\" in ref or ref.lower().endswith(catalog.SUFFIXES)


def rule_set_of(ref: str) -> RuleSet:
    return catalog.load_rule_set_file(Path(ref)) if is_file_ref(ref) else catalog.get_rule_set(ref)


def criteria_set_of(ref: str) -> CriteriaSet:
    if is_file_ref(ref):
        return catalog.load_criteria_set_file(Path(ref))
    return catalog.get_criteria_set(ref)


@guarded
def classify_cmd(
    metrics_file: MetricsArg,
    rules: Annotated[str, typer.Option(
        "--rules", help="Classification rule set: an id of the catalogue or a YAML/JSON file.")
    ] = DEFAULT_RULE_SET,
    as_json: JsonOpt = False,
    lang: LangOption = Lang.vi,
) -> None:
    """Classify a commune (phân loại xã) from its metrics."""
    rule_set = rule_set_of(rules)
    result = classify(parse_metrics(read_metrics(metrics_file)), rule_set)
    reasons = result.reasons if lang == "vi" else result.reasons_en
    if as_json:
        typer.echo(json.dumps({"classification": result.classification, "reasons": reasons},
                              ensure_ascii=False))
        return
    vi, en = CLASS_NAMES[result.classification]
    typer.echo(f"{'Phân loại' if lang == 'vi' else 'Classification'}: "
               f"{vi if lang == 'vi' else en} ({result.classification})")
    for r in reasons:
        typer.echo(f"  - {r}")


@guarded
def criteria_cmd(
    metrics_file: MetricsArg,
    criteria: Annotated[str, typer.Option(
        "--criteria", help="Criteria set: an id of the catalogue or a YAML/JSON file.")],
    as_json: JsonOpt = False,
    lang: LangOption = Lang.vi,
) -> None:
    """Evaluate the recognition criteria (tiêu chí công nhận) on a commune's metrics."""
    criteria_set = criteria_set_of(criteria)
    report = evaluate(parse_metrics(read_metrics(metrics_file)), criteria_set)
    if as_json:
        typer.echo(json.dumps(report.model_dump(mode="json"), ensure_ascii=False))
        return
    vi = lang == "vi"
    verdict = ("ĐẠT" if vi else "MET") if report.met else ("CHƯA ĐẠT" if vi else "NOT MET")
    typer.echo(f"{'Bộ tiêu chí' if vi else 'Criteria set'} {report.criteria_set}: {verdict}")
    for r in report.results:
        mark = "✓" if r.met else "✗"
        typer.echo(f"  {mark} {r.id}. {r.reason_vi if vi else r.reason_en}")
