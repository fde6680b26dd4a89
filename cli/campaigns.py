"""``drugfree campaign``: a province's campaign under a plan through the HTTP API (chiến dịch).

The district UBND (the province after 1 July 2025) opens it and proposes communes with their
baseline metrics; the provincial police approves the selection list in one decision; the
provincial UBND approves the recognition list; everyone in the province reads its status.
A list decision answers per commune: the report shows each, and a commune refused makes the
command exit 2 (the others stand).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cli.cases import emit
from cli.client import (
    DEFAULT_API,
    Api,
    ApiOption,
    JsonOption,
    TokenOption,
    api_command,
    campaign_path,
    say,
)
from cli.csvdata import all_good
from cli.errors import EXIT_BAD_INPUT, fail
from cli.lang import Lang, LangOption

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Chiến dịch của tỉnh theo kế hoạch / a province's campaign under a plan.")

PlanOption = Annotated[str, typer.Option("--plan", help="Mã kế hoạch / plan id")]
CommunesOption = Annotated[str | None, typer.Option(
    "--communes", help="Mã xã, cách nhau bằng dấu phẩy / commune codes, comma-separated")]
ReasonOption = Annotated[str, typer.Option("--reason", help="Lý do / reason")]


def communes_of(text: str | None, lang: Lang) -> list[str]:
    codes = [c.strip() for c in (text or "").split(",") if c.strip()]
    bad = [c for c in codes if not c.isdigit() or len(c) > 10]
    if not codes or bad:
        fail(say(lang, f"--communes: cần các mã xã cách nhau bằng dấu phẩy"
                 f"{', sai: ' + bad[0][:20] if bad else ''}",
                 f"--communes: expected comma-separated commune codes"
                 f"{', bad: ' + bad[0][:20] if bad else ''}"))
    if len(set(codes)) != len(codes):
        fail(say(lang, "--communes: có mã xã lặp lại", "--communes: a code appears twice"))
    return codes


@app.command("open")
@api_command
def open_cmd(plan: PlanOption, api: ApiOption = DEFAULT_API, token: TokenOption = None,
             as_json: JsonOption = False, lang: LangOption = Lang.vi) -> None:
    """Mở chiến dịch / open the province's campaign under the plan."""
    with Api(api, token) as http:
        opened = http.post(campaign_path(plan))
    if as_json:
        emit(opened)
    else:
        typer.echo(say(lang, f"đã mở chiến dịch {opened['campaign_id']}",
                       f"campaign opened: {opened['campaign_id']}"))


@app.command("status")
@api_command
def status_cmd(plan: PlanOption, api: ApiOption = DEFAULT_API, token: TokenOption = None,
               as_json: JsonOption = False, lang: LangOption = Lang.vi) -> None:
    """Tình hình chiến dịch / the campaign: proposed, selected, recognised, the target."""
    with Api(api, token) as http:
        st = http.get(campaign_path(plan))
    if as_json:
        emit(st)
        return
    v = str(lang) == "vi"
    typer.echo(f"{'Chiến dịch' if v else 'Campaign'} {st['plan_id']}")
    for key, vi, en in (("proposed", "Đề xuất", "Proposed"), ("selected", "Được chọn", "Selected"),
                        ("recognised", "Được công nhận", "Recognised"),
                        ("not_recognised", "Không được công nhận", "Not recognised")):
        codes = st[key]
        typer.echo(f"  {(vi if v else en) + ':':<22}{len(codes):>4}  {', '.join(codes)}".rstrip())
    share = len(st["recognised"]) / st["total_communes"] if st["total_communes"] else 0.0
    met = say(lang, "đạt", "met") if st["target_met"] else say(lang, "chưa đạt", "not met")
    typer.echo(f"  {('Chỉ tiêu' if v else 'Target') + ':':<22}{st['target_share']:.0%} "
               f"{'của' if v else 'of'} {st['total_communes']} "
               f"{'xã' if v else 'communes'}; {'hiện' if v else 'now'} {share:.1%} ({met})")


@app.command("propose")
@api_command
def propose_cmd(
    plan: PlanOption,
    communes_csv: Annotated[Path, typer.Option(
        "--communes-csv", dir_okay=False,
        help="CSV: cột commune_code và một cột mỗi chỉ số ban đầu / communes with baseline "
             "metrics")],
    api: ApiOption = DEFAULT_API, token: TokenOption = None, as_json: JsonOption = False,
    lang: LangOption = Lang.vi,
) -> None:
    """Đề xuất xã chuyển hóa / propose communes with their baseline metrics (starts their
    cases)."""
    communes = all_good(communes_csv)
    with Api(api, token) as http:
        reply = http.post(campaign_path(plan, "proposals"), {"communes": communes})
    _results(reply, as_json, lang)


@app.command("approve-selection")
@api_command
def approve_selection_cmd(
    plan: PlanOption, communes: CommunesOption = None,
    all_proposed: Annotated[bool, typer.Option(
        "--all-proposed", help="Mọi xã đã đề xuất / every proposed commune")] = False,
    reason: ReasonOption = "",
    api: ApiOption = DEFAULT_API, token: TokenOption = None, as_json: JsonOption = False,
    lang: LangOption = Lang.vi,
) -> None:
    """Phê duyệt danh sách địa bàn chuyển hóa / approve the selection list in one decision
    (the proposed communes not on it are not selected)."""
    if (communes is None) == (not all_proposed):
        fail(say(lang, "cần đúng một: --communes C1,C2 hoặc --all-proposed",
                 "needs exactly one of --communes C1,C2 and --all-proposed"))
    body: dict[str, Any] = {"communes": [] if all_proposed else communes_of(communes, lang),
                            "all_proposed": all_proposed, "reason": reason}
    with Api(api, token) as http:
        reply = http.post(campaign_path(plan, "selection"), body)
    _results(reply, as_json, lang)


@app.command("approve-recognition")
@api_command
def approve_recognition_cmd(
    plan: PlanOption,
    communes: Annotated[str | None, typer.Option(
        "--communes", help="Mã xã, cách nhau bằng dấu phẩy / commune codes, comma-separated")]
    = None,
    all_appraised: Annotated[bool, typer.Option(
        "--all-appraised", help="Mọi hồ sơ đang chờ tôi ký cấp cuối / every dossier awaiting "
        "my signature at the last level")] = False,
    reason: ReasonOption = "",
    api: ApiOption = DEFAULT_API, token: TokenOption = None, as_json: JsonOption = False,
    lang: LangOption = Lang.vi,
) -> None:
    """Phê duyệt danh sách công nhận / approve the recognition list: the last level signed for
    the communes in one decision."""
    if (communes is None) == (not all_appraised):
        fail(say(lang, "cần đúng một: --communes C1,C2 hoặc --all-appraised",
                 "needs exactly one of --communes C1,C2 and --all-appraised"))
    with Api(api, token) as http:
        if all_appraised:  # what my inbox holds of this plan's approval levels
            items = http.pages("/inbox")
            codes = sorted({str(i["commune_code"]) for i in items
                            if i["plan_id"] == plan and i["kind"] == "level"})
            if not codes:
                typer.echo(say(lang, "không có hồ sơ nào đang chờ phê duyệt danh sách",
                               "no dossier awaits the recognition list"))
                return
        else:
            codes = communes_of(communes, lang)
        reply = http.post(campaign_path(plan, "recognition"), {"communes": codes,
                                                               "reason": reason})
    _results(reply, as_json, lang)


def _results(reply: dict[str, Any], as_json: bool, lang: Lang) -> None:
    """A list decision's answer per commune; exit 2 when one was refused."""
    results: dict[str, str] = reply.get("results", {})
    if as_json:
        emit(reply)
    else:
        for code, result in results.items():
            typer.echo(f"{code}\t{'ok' if result == 'ok' else say(lang, 'lỗi', 'failed')}"
                       f"{'' if result == 'ok' else chr(9) + result}")
    refused = [c for c, r in results.items() if r != "ok"]
    if refused:
        typer.echo(f"error: {say(lang, 'bị từ chối', 'refused')}: {', '.join(refused)} "
                   "[campaign.partly_refused]", err=True)
        raise typer.Exit(EXIT_BAD_INPUT)
