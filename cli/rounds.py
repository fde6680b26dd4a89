"""``drugfree round`` and ``drugfree programme``: reporting rounds through the HTTP API (kỳ báo
cáo, issue 13).

The provincial police opens a round (one the plan schedules, or an ad hoc one), each unit's
people send its report (values and sections from a JSON or YAML file), the police sends a
report back with its reason, consolidates, and the provincial People's Committee approves;
everyone in the province reads the round, its consolidated report (.docx, .csv) and the
programme's indicators over the years.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer

from cli.cases import emit, read_attachments
from cli.client import (
    DEFAULT_API,
    Api,
    ApiOption,
    JsonOption,
    TokenOption,
    api_command,
    round_path,
    say,
)
from cli.errors import fail, read_metrics
from cli.lang import Lang, LangOption
from domain.errors import InputError

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Kỳ báo cáo / reporting rounds: open, report, send back, consolidate, "
                       "approve.")
programme_app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False,
                            help="Chỉ tiêu chương trình qua các năm / a programme's indicators.")

PlanOption = Annotated[str, typer.Option("--plan", help="Mã kế hoạch báo cáo / plan id")]
RoundOption = Annotated[str, typer.Option("--round", help="Mã kỳ báo cáo / round id")]
UnitOption = Annotated[str, typer.Option("--unit", help="Mã đơn vị báo cáo / unit id")]


@app.command("plans")
@api_command
def plans_cmd(api: ApiOption = DEFAULT_API, token: TokenOption = None,
              as_json: JsonOption = False, lang: LangOption = Lang.vi) -> None:
    """Kế hoạch báo cáo và các kỳ / the reporting plans and their rounds."""
    with Api(api, token) as http:
        plans = http.get("/reporting-plans")
    if as_json:
        emit(plans)
        return
    for p in plans:
        typer.echo(f"{p['id']}\t{p['title_vi'] if lang == 'vi' else p['title_en']}")
        for r in p["rounds"]:
            typer.echo(f"  {r['id']:<14}{r['kind']:<10}{say(lang, 'hạn', 'due')} {r['due']}  "
                       f"{r['title_vi']}")
        typer.echo(say(lang, f"  {len(p['units'])} đơn vị báo cáo",
                       f"  {len(p['units'])} reporting units"))


@app.command("open")
@api_command
def open_cmd(plan: PlanOption, round_id: RoundOption,
             adhoc_title: Annotated[str | None, typer.Option(
                 "--adhoc", help="Kỳ báo cáo đột xuất: tiêu đề / an ad hoc round: its title")]
             = None,
             year: Annotated[int | None, typer.Option("--year")] = None,
             due: Annotated[str | None, typer.Option(
                 "--due", help="Hạn (YYYY-MM-DD) của kỳ đột xuất / the ad hoc round's due day")]
             = None,
             api: ApiOption = DEFAULT_API, token: TokenOption = None,
             as_json: JsonOption = False, lang: LangOption = Lang.vi) -> None:
    """Mở kỳ báo cáo / open a round (the provincial police): one the plan schedules, or with
    --adhoc TITLE --year Y --due DAY an ad hoc one."""
    body: dict[str, Any] | None = None
    if adhoc_title is not None:
        if due is None or year is None:
            fail(say(lang, "kỳ đột xuất cần --year và --due", "an ad hoc round needs --year and "
                     "--due"))
        try:
            day = date.fromisoformat(str(due))
        except ValueError:
            fail(say(lang, f"--due: {due!r} không phải ngày YYYY-MM-DD",
                     f"--due: {due!r} is not a YYYY-MM-DD day"))
        body = {"adhoc": {"title_vi": adhoc_title, "year": year, "due": day.isoformat()}}
    with Api(api, token) as http:
        opened = http.post(round_path(plan, round_id), body)
    if as_json:
        emit(opened)
        return
    typer.echo(say(lang, f"đã mở kỳ báo cáo {opened['workflow_id']}",
                   f"round opened: {opened['workflow_id']}"))


@app.command("status")
@api_command
def status_cmd(plan: PlanOption, round_id: RoundOption, api: ApiOption = DEFAULT_API,
               token: TokenOption = None, as_json: JsonOption = False,
               lang: LangOption = Lang.vi) -> None:
    """Tình hình kỳ báo cáo / where a round stands, and its consolidated table."""
    with Api(api, token) as http:
        st = http.get(round_path(plan, round_id))
    if as_json:
        emit(st)
        return
    typer.echo(f"{st['plan_id']} / {st['round']}: {st['status']} "
               f"({say(lang, 'hạn', 'due')} {st['due']})")
    for key, vi, en in (("reported", "Đã báo cáo", "Reported"), ("owing", "Chưa báo cáo", "Owing"),
                        ("late", "Trễ hạn", "Late"), ("missed", "Quá hạn", "Missed")):
        units = st[key]
        typer.echo(f"  {say(lang, vi, en) + ':':<16}{len(units):>4}  {', '.join(units)}".rstrip())
    for unit, reason in st["returned"].items():
        typer.echo(say(lang, f"  trả lại {unit}: {reason}", f"  sent back {unit}: {reason}"))
    table = st.get("consolidation")
    if table:
        for line in table_lines(table, lang):
            typer.echo(line)


def table_lines(table: dict[str, Any], lang: Lang | str) -> list[str]:
    """The consolidated table as text: indicator, value, previous, change, target, met."""
    lines = [say(lang, "  Chỉ tiêu / kết quả / kỳ trước / tăng giảm / mục tiêu / đạt",
                 "  Indicator / value / previous / change / target / met")]
    for r in table["indicators"]:
        met = {True: say(lang, "đạt", "met"), False: say(lang, "không đạt", "not met"),
               None: "-"}[r["met"]]
        change = f"{r['change_pct']:+.2f}%" if r.get("change_pct") is not None else "-"
        target = (f"{r['target_kind']} {r['target_value']:g}"
                  if r.get("target_value") is not None else "-")
        name = r["name_vi"] if str(lang) == "vi" else r["name_en"]
        typer_value = "-" if r["value"] is None else f"{r['value']}"
        lines.append(f"  {name[:44]:<46}{typer_value:>12}{str(r.get('previous') or '-'):>12}"
                     f"{change:>10}  {target:<20}{met}")
    return lines


@app.command("submit")
@api_command
def submit_cmd(plan: PlanOption, round_id: RoundOption, unit: UnitOption,
               file: Annotated[Path, typer.Option(
                   "--file", help="JSON/YAML: {values: {...}, sections: {...}}")],
               attach: Annotated[list[Path] | None, typer.Option(
                   "--attach", help="Tệp đính kèm, lặp lại được / a file to attach "
                   "(repeatable)")] = None,
               api: ApiOption = DEFAULT_API, token: TokenOption = None,
               as_json: JsonOption = False, lang: LangOption = Lang.vi) -> None:
    """Gửi báo cáo của đơn vị / send a unit's report (its values and sections), with files
    (--attach: each uploaded to the round, its SHA-256 recorded in the event)."""
    data = read_metrics(file)
    if not isinstance(data, dict) or not isinstance(data.get("values"), dict):
        raise InputError("report.not_a_report", f"{file}: expected {{values: {{...}}, "
                         "sections: {...}}", f"{file}: cần {{values: {{...}}, sections: {{...}}}}")
    files = read_attachments(attach or [])  # all read and checked before anything is sent
    body: dict[str, Any] = {"unit": unit, "values": data["values"],
                            "sections": data.get("sections") or {}}
    with Api(api, token) as http:
        uploaded = http.attach(round_path(plan, round_id, "attachments"), files, lang,
                               quiet=as_json)
        if uploaded:
            body["attachments"] = [{"name": u["name"], "sha256": u["sha256"]} for u in uploaded]
        reply = http.post(round_path(plan, round_id, "reports"), body)
    if as_json:
        emit({**reply, "attachments": uploaded})
        return
    late = say(lang, " (trễ hạn)", " (late)") if reply.get("late") else ""
    typer.echo(say(lang, f"đã gửi báo cáo của {unit}{late}", f"report of {unit} sent{late}"))


@app.command("send-back")
@api_command
def send_back_cmd(plan: PlanOption, round_id: RoundOption, unit: UnitOption,
                  reason: Annotated[str, typer.Option("--reason", help="Lý do / reason")],
                  api: ApiOption = DEFAULT_API, token: TokenOption = None,
                  as_json: JsonOption = False, lang: LangOption = Lang.vi) -> None:
    """Trả lại báo cáo của đơn vị, nêu lý do / send a unit's report back, with the reason."""
    with Api(api, token) as http:
        reply = http.post(round_path(plan, round_id, "returns"), {"unit": unit, "reason": reason})
    if as_json:
        emit(reply)
        return
    typer.echo(say(lang, f"đã trả lại báo cáo của {unit}", f"report of {unit} sent back"))


def _decide(kind: str, plan: str, round_id: str, reason: str, api: str, token: str | None,
            as_json: bool, lang: Lang) -> None:
    with Api(api, token) as http:
        reply = http.post(round_path(plan, round_id, "decisions"),
                          {"kind": kind, "reason": reason})
    if as_json:
        emit(reply)
        return
    typer.echo(say(lang, f"{'đã tổng hợp' if kind == 'consolidate' else 'đã phê duyệt'} "
                         f"kỳ {round_id}", f"round {round_id} {kind}d"))


@app.command("consolidate")
@api_command
def consolidate_cmd(plan: PlanOption, round_id: RoundOption, api: ApiOption = DEFAULT_API,
                    token: TokenOption = None, as_json: JsonOption = False,
                    lang: LangOption = Lang.vi) -> None:
    """Tổng hợp báo cáo / consolidate the round (every unit in, or its due day passed)."""
    _decide("consolidate", plan, round_id, "", api, token, as_json, lang)


@app.command("approve")
@api_command
def approve_cmd(plan: PlanOption, round_id: RoundOption,
                reason: Annotated[str, typer.Option("--reason")] = "",
                api: ApiOption = DEFAULT_API, token: TokenOption = None,
                as_json: JsonOption = False, lang: LangOption = Lang.vi) -> None:
    """Phê duyệt báo cáo tổng hợp / approve the consolidated report (closes the round)."""
    _decide("approve", plan, round_id, reason, api, token, as_json, lang)


@app.command("report")
@api_command
def report_cmd(plan: PlanOption, round_id: RoundOption,
               out: Annotated[Path, typer.Option(
                   "--out", help="Tệp .docx hoặc .csv / a .docx or .csv file to write")],
               api: ApiOption = DEFAULT_API, token: TokenOption = None,
               lang: LangOption = Lang.vi) -> None:
    """Báo cáo tổng hợp thành văn bản / the consolidated report as a Word document or CSV."""
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in ("docx", "csv"):
        fail(say(lang, f"--out: cần tệp .docx hoặc .csv, không phải {out.name}",
                 f"--out: a .docx or .csv file, not {out.name}"))
    with Api(api, token) as http:
        content = http.fetch(round_path(plan, round_id, f"report.{fmt}"))
    out.write_bytes(content)
    typer.echo(say(lang, f"đã ghi {out} ({len(content)} byte)",
                   f"wrote {out} ({len(content)} bytes)"))


@programme_app.command("status")
@api_command
def programme_cmd(plan: PlanOption, api: ApiOption = DEFAULT_API, token: TokenOption = None,
                  as_json: JsonOption = False, lang: LangOption = Lang.vi) -> None:
    """Chỉ tiêu qua các năm / each indicator year by year against its target, and the units
    behind in the latest consolidated round."""
    with Api(api, token) as http:
        st = http.get(f"/programmes/{quote(plan.strip(), safe='')}")
    if as_json:
        emit(st)
        return
    years = st["years"]
    typer.echo(f"{st['plan_id']}: {', '.join(map(str, years)) or '-'}")
    for i in st["indicators"]:
        name = i["name_vi"] if str(lang) == "vi" else i["name_en"]
        path = "  ".join(
            f"{p['year']}: {'-' if p['value'] is None else p['value']}"
            + (f" ({say(lang, 'đạt', 'met') if p['met'] else say(lang, 'chưa đạt', 'not met')}"
               f" {p['target']:g})" if p["met"] is not None and p["target"] is not None else "")
            for p in i["points"])
        typer.echo(f"  {name[:50]:<52}{path}")
        if i["units_behind"]:
            typer.echo(say(lang, f"    chậm: {', '.join(i['units_behind'])}",
                           f"    behind: {', '.join(i['units_behind'])}"))
    if st["not_reported"]:
        typer.echo(say(lang, f"  chưa báo cáo kỳ {st['latest_round']}: "
                             f"{', '.join(st['not_reported'])}",
                       f"  did not report in {st['latest_round']}: "
                       f"{', '.join(st['not_reported'])}"))
