"""`drugfree plans list|show|validate`: the catalogue's plans (kế hoạch) and what they contain,
and checking a province's own plan files before they go into the catalogue."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from catalog import FileReport, get_plan, load_amendment_file, plan_ids, validate_files
from cli.cases import emit
from cli.client import (
    DEFAULT_API,
    Api,
    ApiOption,
    JsonOption,
    TokenOption,
    api_command,
    local_time,
    say,
)
from cli.db import DatabaseUrl, DataDir
from cli.db import _run as run_db
from cli.errors import EXIT_BAD_INPUT, fail, guarded
from cli.lang import Lang, LangOption
from domain.amendment import Amendment
from domain.amendment_effect import CaseEffect
from eventstore import EventStore
from service.amendments import amended_plans, chain_json, preview, report

app = typer.Typer(help="Plans: timelines, deadlines, criteria and approval chains.")


@app.command("list")
@guarded
def list_plans(
    api: ApiOption = DEFAULT_API, token: TokenOption = None,
    all_versions: Annotated[bool, typer.Option(
        "--all-versions", help="Mọi phiên bản đã ban hành / every published version")] = False,
    as_json: JsonOption = False, lang: LangOption = Lang.vi,
) -> None:
    """Kế hoạch đã ban hành (phiên bản mới nhất; cần thẻ định danh) / published plans; without
    a token, the plan files of this machine's catalogue (shipped, and DRUGFREE_CATALOG)."""
    if token is None:
        for pid in plan_ids():
            p = get_plan(pid)
            title = p.title_vi if lang == "vi" else p.title_en
            typer.echo(f"{pid}\t{p.starts_on}..{p.ends_on}\t{title}")
        return
    _published(api, token, all_versions, as_json, lang)


@api_command
def _published(api: str, token: str, all_versions: bool, as_json: bool, lang: Lang) -> None:
    with Api(api, token) as http:
        plans = http.get("/plans", {"all_versions": "true" if all_versions else None})
    if as_json:
        emit(plans)
        return
    vi = lang == "vi"
    for p in plans:
        title = p["title_vi"] if vi else p["title_en"]
        version = f"v{p['version']}" if p["version"] is not None else "-"
        by = (p.get("published_by") or {}).get("person_id") or (
            "tệp danh mục" if vi else "catalogue file")
        typer.echo(f"{p['id']}\t{version}\t{p['content_hash'][:12]}\t"
                   f"{p['starts_on']}..{p['ends_on']}\t{local_time(p.get('published_at'))}\t"
                   f"{by}\t{title}")


@app.command("publish")
@guarded
def publish_plan(
    files: Annotated[list[Path], typer.Argument(
        help="Kế hoạch và các bộ tiêu chí / quy tắc phân loại nó dùng (YAML, JSON) / a plan "
             "and the criteria and rule set files it names; sets not given come from the "
             "server's catalogue")],
    api: ApiOption = DEFAULT_API, token: TokenOption = None, as_json: JsonOption = False,
    lang: LangOption = Lang.vi,
) -> None:
    """Ban hành kế hoạch (phiên bản mới) / publish a plan as its next version: checked here
    first, then stored by the server; running cases keep the version they began with."""
    reports = validate_files(files)
    plans = [r for r in reports if r.kind == "plan" and r.valid]
    if not all(r.valid for r in reports) or len(plans) != 1:
        for r in reports:
            for line in _report_lines(r, lang):
                typer.echo(line, err=True)
        if all(r.valid for r in reports):
            typer.echo(say(lang, f"cần đúng một tệp kế hoạch (có {len(plans)})",
                           f"expected exactly one plan file (got {len(plans)})"), err=True)
        raise typer.Exit(EXIT_BAD_INPUT)
    _publish(api, token, _bundle(reports, plans[0]), as_json, lang)


def _bundle(reports: list[FileReport], plan: FileReport) -> dict[str, Any]:
    """The plan's document with the sets given beside it embedded (the rest the server's
    catalogue supplies)."""
    assert plan.model is not None
    doc: dict[str, Any] = plan.model.model_dump(mode="json", exclude_none=True)
    sets = {(r.kind, r.id): r.model for r in reports if r.kind != "plan" and r.model}
    criteria = sets.get(("criteria", doc["criteria_set"]))
    rules = sets.get(("rules", doc["classification_rules"]))
    if criteria is not None:
        doc["criteria"] = criteria.model_dump(mode="json")
    if rules is not None:
        doc["rules"] = rules.model_dump(mode="json")
    return doc


@api_command
def _publish(api: str, token: str | None, doc: dict[str, Any], as_json: bool,
             lang: Lang) -> None:
    with Api(api, token) as http:
        published = http.post("/plans", doc)
    if as_json:
        emit(published)
        return
    typer.echo(say(lang, f"kế hoạch {published['id']}: phiên bản {published['version']} "
                         f"(mã băm {published['content_hash'][:16]})",
                   f"plan {published['id']}: version {published['version']} "
                   f"(content hash {published['content_hash'][:16]})"))


@app.command("show")
@guarded
def show_plan(
    plan_id: str,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
    lang: LangOption = Lang.vi,
) -> None:
    """Show one plan: phases, deadlines, approval chain."""
    p = get_plan(plan_id)
    if as_json:
        typer.echo(json.dumps(p.model_dump(mode="json"), ensure_ascii=False, indent=2))
        return
    vi = lang == "vi"
    typer.echo(f"{p.id}: {p.title_vi if vi else p.title_en}")
    typer.echo(f"  {'Nguồn' if vi else 'Source'}: {p.source}")
    typer.echo(f"  {'Thời gian' if vi else 'Period'}: {p.starts_on} .. {p.ends_on} ({p.timezone})")
    typer.echo(f"  {'Bộ tiêu chí' if vi else 'Criteria set'}: {p.criteria_set}; "
               f"{'phân loại' if vi else 'classification'}: {p.classification_rules}")
    typer.echo(f"  {'Chỉ tiêu' if vi else 'Target'}: {p.target.share:.0%} ({p.target.scope})")
    typer.echo(f"  {'Giai đoạn' if vi else 'Phases'}:")
    for ph in p.phases:
        typer.echo(f"    {ph.number}. {ph.starts_on} .. {ph.ends_on}  "
                   f"{ph.name_vi if vi else ph.name_en}")
    typer.echo(f"  {'Thời hạn' if vi else 'Deadlines'}:")
    for d in sorted(p.deadlines, key=lambda d: d.due):
        typer.echo(f"    {d.due}  {d.id:<20} {d.role:<16} {d.title_vi if vi else d.title_en}")
    typer.echo(f"  {'Quy trình xét duyệt' if vi else 'Approval chain'}:")
    for i, lv in enumerate(p.approval_chain, 1):
        rule = _rule_label(lv.rule, lv.quorum, len(lv.members), vi)
        typer.echo(f"    {i}. {lv.id:<20} [{', '.join(lv.roles)}]{rule} "
                   f"{lv.deadline_days}d  {lv.name_vi if vi else lv.name_en}")


def _rule_label(rule: str, quorum: int | None, members: int, vi: bool) -> str:
    """How a level passes, shown only when it is not the default (every role signs)."""
    if rule == "any_of":
        return " (một trong các cơ quan)" if vi else " (any one of them)"
    if rule == "quorum":
        return (f" (biểu quyết {quorum}/{members} thành viên)" if vi
                else f" (vote: {quorum} of {members} members)")
    return ""


KIND_NAMES = {
    "plan": ("kế hoạch", "plan"),
    "criteria": ("bộ tiêu chí", "criteria set"),
    "rules": ("bộ quy tắc phân loại", "classification rule set"),
    "amendment": ("văn bản sửa đổi", "amendment"),
    "reporting": ("kế hoạch báo cáo", "reporting plan"),
}


@app.command("validate")
@guarded
def validate_plan_files(
    files: Annotated[list[Path], typer.Argument(
        help="A plan and the criteria / rule set files it names (YAML or JSON); sets not "
             "given are looked up in the catalogue.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    lang: LangOption = Lang.vi,
) -> None:
    """Check a bundle (kiểm tra): every problem of every file, as `file: field: message`."""
    reports = validate_files(files)
    valid = all(r.valid for r in reports)
    if as_json:
        typer.echo(json.dumps({"valid": valid, "files": [_report_json(r, lang) for r in reports]},
                              ensure_ascii=False))
    else:
        for r in reports:
            for line in _report_lines(r, lang):
                typer.echo(line)
    if not valid:
        raise typer.Exit(EXIT_BAD_INPUT)


def _report_lines(r: FileReport, lang: Lang) -> list[str]:
    vi = lang == "vi"
    if r.valid:
        kind_vi, kind_en = KIND_NAMES[r.kind] if r.kind else ("", "")
        return [f"{r.file}: {'hợp lệ' if vi else 'valid'} ({kind_vi if vi else kind_en} {r.id})"]
    return [f"{r.file}: {p.field}: {p.text(lang)}" if p.field else f"{r.file}: {p.text(lang)}"
            for p in r.problems]


def _report_json(r: FileReport, lang: Lang) -> dict[str, object]:
    return {"file": r.file, "kind": r.kind, "id": r.id, "valid": r.valid,
            "problems": [{"field": p.field, "message": p.text(lang)} for p in r.problems]}


# -- amendments (văn bản sửa đổi) ------------------------------------------------------------

@app.command("amend")
@guarded
def amend_plan(
    file: Annotated[Path, typer.Argument(help="Văn bản sửa đổi (YAML, JSON) / an amendment "
                                              "file, e.g. domain/amendments/*.yaml")],
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Chỉ xem trước, không thay đổi gì / show what would change for "
                          "each running case, change nothing")] = False,
    api: ApiOption = DEFAULT_API, token: TokenOption = None,
    database_url: DatabaseUrl = None, data_dir: DataDir = None,
    as_json: JsonOption = False, lang: LangOption = Lang.vi,
) -> None:
    """Sửa đổi kế hoạch cho các hồ sơ đang chạy / amend a plan for its running cases.

    --dry-run lists, per running case of the plan, its pending level and who signs next, its
    deadlines, escalations and codes before -> after, and changes nothing (with a token,
    through the API; without, from this machine's database). Without --dry-run, the plan's
    issuer (provincial People's Committee, with a token) applies it through the API: every
    running case takes it now, or at its effective date; applying it again changes nothing."""
    if token is None and not dry_run:
        fail(say(lang, "áp dụng văn bản sửa đổi cần thẻ định danh của UBND tỉnh (--token); "
                       "--dry-run để xem trước",
                 "applying an amendment needs the provincial People's Committee's token "
                 "(--token); use --dry-run to see what it would change"))
    amendment = load_amendment_file(file)
    if token is not None:
        for plan_id in amendment.amends:
            _amend_api(api, token, plan_id, amendment, dry_run, as_json, lang)
        return
    amended = amended_plans(amendment, get_plan)

    async def work(url: str) -> list[CaseEffect]:
        async with await EventStore.connect(url, max_size=2) as store:
            return await preview(store, amendment, amended)

    effects = run_db(database_url, work, data_dir)
    if as_json:
        emit(report(amendment, amended, effects))
        return
    chains = {pid: (chain_json(old), chain_json(new)) for pid, (old, new, _) in amended.items()}
    for line in _effect_lines(amendment, chains, effects, lang):
        typer.echo(line)


@api_command
def _amend_api(api: str, token: str | None, plan_id: str, amendment: Amendment, dry_run: bool,
               as_json: bool, lang: Lang) -> None:
    with Api(api, token) as http:
        query = "?dry_run=true" if dry_run else ""
        answer = http.post(f"/plans/{plan_id}/amendments{query}",
                           amendment.model_dump(mode="json", by_alias=True))
    if as_json:
        emit(answer)
        return
    plans = {pid: (chain_json(get_plan(pid)), chain) for pid, chain in answer["plans"].items()}
    if dry_run:
        effects = [CaseEffect.model_validate(c) for c in answer["cases"]]
        for line in _effect_lines(amendment, plans, effects, lang):
            typer.echo(line)
        return
    for line in _applied_lines(amendment, answer, lang):
        typer.echo(line)


RESULT_NAMES = {
    "applied": ("đã áp dụng", "applied"),
    "scheduled": ("hẹn áp dụng vào ngày hiệu lực", "scheduled for its effective date"),
    "already_applied": ("đã áp dụng trước đó, không thay đổi", "already applied, unchanged"),
    "already_scheduled": ("đã hẹn trước đó, không thay đổi", "already scheduled, unchanged"),
    "refused": ("bị từ chối", "refused"),
}


def _applied_lines(amendment: Amendment, answer: dict[str, Any], lang: Lang) -> list[str]:
    vi = lang == "vi"
    counts = ", ".join(f"{n} {RESULT_NAMES.get(k, (k, k))[0 if vi else 1]}"
                       for k, n in sorted(answer["counts"].items()))
    lines = [say(lang, f"văn bản sửa đổi {amendment.id}, hiệu lực từ {amendment.effective_on}: "
                       f"{len(answer['cases'])} hồ sơ đang chạy ({counts or '-'})",
                 f"amendment {amendment.id}, effective {amendment.effective_on}: "
                 f"{len(answer['cases'])} running cases ({counts or '-'})")]
    for c in answer["cases"]:
        word = RESULT_NAMES.get(c["result"], (c["result"], c["result"]))[0 if vi else 1]
        refusal = f": {c['message']} [{c['code']}]" if c["result"] == "refused" else ""
        lines.append(f"{c['case_id']}: {word}{refusal}")
        record = c.get("record") or {}
        pending = record.get("pending") or {}
        if pending.get("transferred"):
            lines.append(say(lang, f"  chuyển giao bước chờ ký: {pending['level_before']} -> "
                                   f"{pending['level_after']}",
                             f"  pending level transferred: {pending['level_before']} -> "
                             f"{pending['level_after']}"))
        codes = record.get("codes") or {}
        if codes:
            lines.append(say(lang, f"  mã mới: {codes['province_after']}/"
                                   f"{codes['commune_after']} {codes['commune_name_after']}",
                             f"  new codes: {codes['province_after']}/"
                             f"{codes['commune_after']} {codes['commune_name_after']}"))
    return lines


def _effect_lines(amendment: Amendment,
                  chains: dict[str, tuple[dict[str, Any], dict[str, Any]]],
                  effects: list[CaseEffect], lang: Lang) -> list[str]:
    """The dry run's lines; ``chains``: per plan, its chain before and after
    (``service.amendments.chain_json``)."""
    vi = lang == "vi"
    lines = [say(lang, f"văn bản sửa đổi {amendment.id}, hiệu lực từ {amendment.effective_on} "
                       f"(xem trước, không thay đổi gì)",
                 f"amendment {amendment.id}, effective {amendment.effective_on} "
                 f"(dry run, nothing changed)")]
    for pid, (old, new) in chains.items():
        chain_old = " -> ".join(lv["id"] for lv in old["approval_chain"])
        chain_new = " -> ".join(lv["id"] for lv in new["approval_chain"])
        lines.append(f"  {pid}: {old['structure']}/{old['province_code']} -> "
                     f"{new['structure']}/{new['province_code']}; "
                     f"{'quy trình' if vi else 'chain'}: {chain_old}  =>  {chain_new}")
    lines.append(say(lang, f"{len(effects)} hồ sơ đang chạy", f"{len(effects)} running cases"))
    for e in effects:
        lines.extend(_case_lines(e, lang))
    return lines


def _case_lines(e: CaseEffect, lang: Lang) -> list[str]:
    vi = lang == "vi"
    phase = f", {'giai đoạn' if vi else 'phase'} {e.phase}" if e.phase else ""
    head = f"{e.case_id} [{e.status}{phase}]"
    if not e.changes:
        return [f"{head}: {'không thay đổi' if vi else 'unchanged'}"]
    out = [f"{head}:"]
    p = e.pending
    if p is not None and p.level_before is None:
        out.append(say(lang,
                       f"  hồ sơ bị trả lại (vòng {p.round}): nộp lại vào bước "
                       f"{p.resubmit_first_before} -> {p.resubmit_first_after}",
                       f"  dossier returned (round {p.round}): resubmits into "
                       f"{p.resubmit_first_before} -> {p.resubmit_first_after}"))
    elif p is not None:
        moved = (say(lang, " (chuyển giao)", " (transferred)") if p.transferred else "")
        out.append(say(lang, f"  bước chờ ký: {p.level_before} -> {p.level_after}{moved}",
                       f"  pending level: {p.level_before} -> {p.level_after}{moved}"))
        out.append(say(lang, f"  người ký tiếp: {', '.join(p.awaiting_before) or '-'} -> "
                             f"{', '.join(p.awaiting_after) or '-'}",
                       f"  who signs next: {', '.join(p.awaiting_before) or '-'} -> "
                       f"{', '.join(p.awaiting_after) or '-'}"))
        if p.signatures_kept:
            kept = ", ".join(f"{s.level}/{s.role}" for s in p.signatures_kept)
            out.append(say(lang, f"  chữ ký giữ nguyên: {kept}", f"  signatures kept: {kept}"))
    for d in e.deadlines:
        due = f"{d.due_before}" + (f" -> {d.due_after}" if d.due_after != d.due_before else "")
        role = d.role_before + (f" -> {d.role_after}" if d.role_after != d.role_before else "")
        esc = d.escalate_before + (f" -> {d.escalate_after}"
                                   if d.escalate_after != d.escalate_before else "")
        out.append(say(lang, f"  hạn {d.deadline}: {due}; nộp: {role}; báo cáo vượt cấp: {esc}",
                       f"  deadline {d.deadline}: {due}; submits: {role}; escalates to: {esc}"))
    for x in e.escalations:
        out.append(say(lang, f"  bước {x.level}: báo cáo vượt cấp {x.before} -> {x.after}",
                       f"  level {x.level}: escalates to {x.before} -> {x.after}"))
    if e.codes is not None:
        c = e.codes
        old = "/".join(v for v in (c.province_before, c.district_before, c.commune_before) if v)
        split = ""
        if c.split:
            others = ", ".join(f"{u.commune_code} {u.commune_name}" for u in c.candidates)
            split = say(lang, f" (xã bị chia: {others}; chọn mặc định)",
                        f" (split commune: {others}; default taken)")
        out.append(say(lang, f"  mã đơn vị: {old} -> {c.province_after}/{c.commune_after} "
                             f"{c.commune_name_after}{split}",
                       f"  unit codes: {old} -> {c.province_after}/{c.commune_after} "
                       f"{c.commune_name_after}{split}"))
    return out
