"""``drugfree case``: one commune's conversion case through the HTTP API (hồ sơ chuyển hóa).

District UBND (the province after 1 July 2025) starts and withdraws cases, the commune UBND
submits its reports and dossier and resubmits a returned one, the provincial police selects,
reviewers approve, reject (with a reason) or delegate; everyone reads within their
jurisdiction: status, list, history (times in Viet Nam's time, dd/mm/yyyy HH:MM).
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

# typer's own copy of click (as cli.main): its usage errors are one line there
from typer._click.exceptions import UsageError

from cli.client import (
    DEFAULT_API,
    Api,
    ApiError,
    ApiOption,
    JsonOption,
    TokenOption,
    Unreachable,
    api_command,
    case_path,
    local_time,
    new_key,
    say,
)
from cli.csvdata import read_communes
from cli.errors import EXIT_BAD_INPUT, fail, read_metrics
from cli.lang import Lang, LangOption
from domain.agenda import CASE_DEADLINE_KINDS
from domain.errors import InputError
from runtime.limits import ENV_MAX_ATTACHMENT, attachment_limit

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Hồ sơ chuyển hóa của xã / a commune's conversion case.")

CaseArg = Annotated[str, typer.Argument(
    metavar="CASE", help="Mã hồ sơ / case id, e.g. conversion:tra-vinh-2025:29512")]
ReasonOption = Annotated[str, typer.Option("--reason", help="Lý do / reason")]
LevelOption = Annotated[str | None, typer.Option(
    "--level", help="Cấp xét duyệt (mặc định: cấp đang chờ) / level (default: the pending one)")]

STATES: dict[str, tuple[str, str]] = {
    "opened": ("đã mở, chờ lựa chọn", "opened, awaiting selection"),
    "selected": ("được chọn chuyển hóa", "selected"),
    "not_selected": ("không được chọn", "not selected"),
    "in_recognition": ("đang xét công nhận", "in recognition"),
    "returned": ("hồ sơ bị trả lại", "dossier returned"),
    "recognised": ("được công nhận", "recognised"),
    "not_recognised": ("không được công nhận", "not recognised"),
    "withdrawn": ("đã rút", "withdrawn"),
    "running": ("đang thực hiện", "running"),
    "closed": ("đã đóng", "closed"),
    "halted": ("tạm dừng do lỗi", "halted"),
    "interrupted": ("bị gián đoạn", "interrupted"),
    "denied": ("không được công nhận", "denied"),
}
EVENTS: dict[str, tuple[str, str]] = {
    "case.opened": ("Mở hồ sơ", "Case opened"),
    "metrics.recorded": ("Ghi nhận số liệu", "Metrics recorded"),
    "selection.approved": ("Được chọn chuyển hóa", "Selected"),
    "selection.rejected": ("Không được chọn", "Not selected"),
    "phase.started": ("Bắt đầu giai đoạn", "Phase started"),
    "phase.ended": ("Kết thúc giai đoạn", "Phase ended"),
    "report.submitted": ("Nộp báo cáo", "Report submitted"),
    "deadline.missed": ("Quá hạn", "Deadline missed"),
    "reminder.sent": ("Nhắc hạn", "Reminder sent"),
    "case.escalated": ("Báo cáo cấp trên", "Escalated"),
    "criteria.evaluated": ("Đánh giá tiêu chí", "Criteria evaluated"),
    "dossier.submitted": ("Nộp hồ sơ đề nghị công nhận", "Dossier submitted"),
    "dossier.resubmitted": ("Nộp lại hồ sơ", "Dossier resubmitted"),
    "level.signed": ("Ký duyệt", "Signed"),
    "level.voted": ("Biểu quyết", "Vote cast"),
    "level.approved": ("Cấp xét duyệt đồng ý", "Level approved"),
    "level.rejected": ("Trả lại hồ sơ", "Dossier returned"),
    "signoff.delegated": ("Ủy quyền", "Sign-off delegated"),
    "recognition.granted": ("Công nhận", "Recognition granted"),
    "recognition.denied": ("Không công nhận", "Recognition denied"),
    "recognition.interrupted": ("Xét duyệt bị gián đoạn", "Recognition interrupted"),
    "case.withdrawn": ("Rút hồ sơ", "Case withdrawn"),
    "case.halted": ("Tạm dừng do lỗi", "Case halted"),
    "case.closed": ("Đóng hồ sơ", "Case closed"),
}
# payload fields a timeline line shows, in this order: (field, vi label, en label)
_SHOWN = (("phase", "giai đoạn", "phase"), ("deadline_id", "hạn", "deadline"),
          ("purpose", "loại", "purpose"), ("classification", "phân loại", "class"),
          ("round", "vòng", "round"), ("level", "cấp", "level"), ("met", "đạt", "met"),
          ("late", "trễ hạn", "late"), ("role", "vai trò", "role"),
          ("opened_by_role", "vai trò", "role"), ("to_role", "tới", "to"),
          ("from_person", "từ", "from"), ("to_person", "cho", "to"),
          ("outcome", "kết quả", "outcome"), ("reason", "lý do", "reason"),
          ("reasons", "lý do", "reasons"), ("summary", "ghi chú", "note"),
          ("code", "mã", "code"))


def label(table: dict[str, tuple[str, str]], key: str | None, lang: Lang | str) -> str:
    if key is None:
        return "-"
    pair = table.get(key)
    return key if pair is None else say(lang, *pair)


def emit(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


def _metrics(path: Path) -> dict[str, Any]:
    data = read_metrics(path)
    if not isinstance(data, dict):
        raise InputError("metrics.not_a_mapping", f"{path}: expected an object of metrics",
                         f"{path}: cần một bảng số liệu (đối tượng JSON/YAML)")
    return data


def _yes_no(value: bool | None, lang: Lang | str) -> str:
    if value is None:
        return "-"
    return say(lang, "có", "yes") if value else say(lang, "không", "no")


# -- start -----------------------------------------------------------------------------------
@app.command("start")
@api_command
def start_cmd(
    plan: Annotated[str, typer.Option("--plan", help="Mã kế hoạch / plan id")],
    commune: Annotated[str | None, typer.Option("--commune", help="Mã xã / commune code")] =
    None,
    metrics: Annotated[Path | None, typer.Option(
        "--metrics", dir_okay=False, help="Số liệu ban đầu (JSON/YAML) / baseline metrics")] =
    None,
    from_csv: Annotated[Path | None, typer.Option(
        "--from-csv", dir_okay=False,
        help="Nhiều xã: CSV có cột commune_code và một cột mỗi chỉ số / many communes")] = None,
    api: ApiOption = DEFAULT_API, token: TokenOption = None, as_json: JsonOption = False,
    lang: LangOption = Lang.vi,
) -> None:
    """Mở hồ sơ chuyển hóa / start a commune's case (--commune and --metrics), or one case per
    row of a CSV file (--from-csv: progress on stderr, a report per row; exit 2 if a row
    failed)."""
    if from_csv is not None and (commune is not None or metrics is not None):
        fail(say(lang, "--from-csv không đi cùng --commune/--metrics",
                 "--from-csv goes without --commune/--metrics"))
    if from_csv is None and (commune is None or metrics is None):
        fail(say(lang, "cần --commune và --metrics, hoặc --from-csv",
                 "needs --commune and --metrics, or --from-csv"))
    if from_csv is not None:
        _start_many(plan, from_csv, api, token, as_json, lang)
        return
    assert commune is not None and metrics is not None
    baseline = _metrics(metrics)
    with Api(api, token) as http:
        created = http.post("/cases", {"plan_id": plan, "commune_code": commune,
                                       "baseline": baseline})
    if as_json:
        emit(created)
    else:
        typer.echo(say(lang, f"đã mở hồ sơ {created['case_id']}",
                       f"case opened: {created['case_id']}"))


def _start_many(plan: str, path: Path, api: str, token: str | None, as_json: bool,
                lang: Lang) -> None:
    rows = read_communes(path)
    report: list[dict[str, Any]] = []
    with Api(api, token) as http:
        for i, row in enumerate(rows, 1):
            entry: dict[str, Any] = {"row": row.line, "commune_code": row.commune_code}
            if row.error is not None:
                entry.update(ok=False, code=row.error.code, message=row.error.text(lang))
            else:
                try:
                    created = http.post("/cases", {"plan_id": plan,
                                                   "commune_code": row.commune_code,
                                                   "baseline": row.metrics}, key=new_key())
                    entry.update(ok=True, case_id=created["case_id"])
                except ApiError as exc:
                    if exc.code.startswith("identity."):  # no row can pass: stop here
                        raise
                    entry.update(ok=False, code=exc.code, message=exc.text(lang))
                except Unreachable as exc:
                    _many_report(report, as_json, lang)
                    raise Unreachable(
                        f"{exc.message_vi}; dừng ở dòng {row.line}, {i - 1}/{len(rows)} dòng "
                        "đã gửi",
                        f"{exc.message_en}; stopped at row {row.line}, {i - 1}/{len(rows)} "
                        "rows sent") from None
            report.append(entry)
            mark = "ok" if entry["ok"] else say(lang, "lỗi", "failed")
            typer.echo(f"[{i}/{len(rows)}] {say(lang, 'dòng', 'row')} {row.line} "
                       f"{row.commune_code or '-'}: {mark}", err=True)
    _many_report(report, as_json, lang)
    failed = sum(not e["ok"] for e in report)
    typer.echo(say(lang, f"{len(report) - failed}/{len(report)} hồ sơ đã mở; {failed} dòng lỗi",
                   f"{len(report) - failed}/{len(report)} cases opened; {failed} rows failed"),
               err=True)
    if failed:
        raise typer.Exit(EXIT_BAD_INPUT)


def _many_report(report: list[dict[str, Any]], as_json: bool, lang: Lang) -> None:
    if as_json:
        emit(report)
        return
    for e in report:
        where = f"{say(lang, 'dòng', 'row')} {e['row']}\t{e['commune_code'] or '-'}\t"
        if e["ok"]:
            typer.echo(f"{where}ok\t{e['case_id']}")
        else:
            typer.echo(f"{where}{say(lang, 'lỗi', 'failed')}\t{e['message']} [{e['code']}]")


# -- the commune's submissions ---------------------------------------------------------------
class Kind(StrEnum):
    """A commune's kinds of submission (``domain.agenda.CASE_DEADLINE_KINDS``)."""

    implementation_plan = "implementation_plan"
    phase_report = "phase_report"
    forum = "forum"
    dossier = "dossier"


assert tuple(k.value for k in Kind) == CASE_DEADLINE_KINDS


def read_attachments(paths: list[Path]) -> list[tuple[Path, bytes]]:
    """Every file read before anything is sent: a missing, unreadable, empty or oversize one
    stops the command with one line, and nothing is uploaded or recorded."""
    limit = attachment_limit()
    out = []
    for path in paths:
        if not path.exists():
            raise InputError("attachment.missing", f"{path}: no such file",
                             f"{path}: không có tệp này")
        if not path.is_file():
            raise InputError("attachment.not_a_file", f"{path}: not a file",
                             f"{path}: không phải là tệp")
        size = path.stat().st_size
        if size > limit:
            raise InputError("attachment.too_large",
                             f"{path}: {size} bytes, over the bound of {limit} "
                             f"({ENV_MAX_ATTACHMENT})",
                             f"{path}: {size} byte, vượt giới hạn {limit} ({ENV_MAX_ATTACHMENT})")
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise InputError("attachment.unreadable", f"{path}: cannot read ({exc.strerror})",
                             f"{path}: không đọc được ({exc.strerror})") from None
        if not content:
            raise InputError("attachment.empty", f"{path}: the file is empty",
                             f"{path}: tệp rỗng")
        out.append((path, content))
    return out


@app.command("submit")
@api_command
def submit_cmd(
    ctx: typer.Context,
    case: CaseArg,
    kind: Annotated[Kind | None, typer.Option(
        "--kind", help="Loại: implementation_plan, phase_report, forum, dossier (hạn sớm nhất "
        "chưa nộp) / kind: the earliest outstanding deadline of it")] = None,
    deadline: Annotated[str | None, typer.Option(
        "--deadline", help="Mã hạn nộp (drugfree plans show) / deadline id, e.g. dossier")] =
    None,
    metrics: Annotated[Path | None, typer.Option(
        "--metrics", dir_okay=False, help="Số liệu (JSON/YAML) / metrics file")] = None,
    note: Annotated[str, typer.Option("--note", help="Ghi chú / note")] = "",
    attach: Annotated[list[Path] | None, typer.Option(
        "--attach", help="Tệp đính kèm, lặp lại được / a file to attach (repeatable)")] = None,
    api: ApiOption = DEFAULT_API, token: TokenOption = None, as_json: JsonOption = False,
    lang: LangOption = Lang.vi,
) -> None:
    """Nộp báo cáo hoặc hồ sơ / submit a report or the dossier due under the plan (--kind or
    --deadline), with files (--attach: each uploaded, its SHA-256 recorded in the event)."""
    if kind is None and deadline is None:  # a usage error (cli.main): one line, exit 2
        raise UsageError("Missing option '--kind' or '--deadline'", ctx)
    files = read_attachments(attach or [])
    body: dict[str, Any] = {"deadline_id": deadline, "summary": note,
                            "metrics": _metrics(metrics) if metrics is not None else None}
    if kind is not None:
        body["kind"] = kind.value
    with Api(api, token) as http:
        uploaded = http.attach(case_path(case, "attachments"), files, lang, quiet=as_json)
        if uploaded:
            body["attachments"] = [{"name": u["name"], "sha256": u["sha256"]} for u in uploaded]
        reply = http.post(case_path(case, "submissions"), body)
    if as_json:
        emit({**reply, "attachments": uploaded})
        return
    answered = reply.get("deadline_id") or deadline
    when = say(lang, "trễ hạn", "late") if reply.get("late") else say(lang, "đúng hạn",
                                                                      "on time")
    line = say(lang, f"đã nộp {answered} ({when})", f"submitted {answered} ({when})")
    met = reply.get("criteria_met")
    if met is not None:
        line += say(lang, "; đạt tiêu chí" if met else "; chưa đạt tiêu chí",
                    "; criteria met" if met else "; criteria not met")
    typer.echo(line)


@app.command("resubmit")
@api_command
def resubmit_cmd(case: CaseArg, api: ApiOption = DEFAULT_API, token: TokenOption = None,
                 as_json: JsonOption = False, lang: LangOption = Lang.vi) -> None:
    """Nộp lại hồ sơ bị trả lại / resubmit a returned dossier (a new round)."""
    _decision(case, {"kind": "resubmit"}, api, token, as_json, lang,
              say(lang, "đã nộp lại hồ sơ", "dossier resubmitted"))


# -- decisions -------------------------------------------------------------------------------
@app.command("decide")
@api_command
def decide_cmd(
    case: CaseArg,
    approve: Annotated[bool, typer.Option("--approve", help="Đồng ý / approve")] = False,
    reject: Annotated[bool, typer.Option("--reject", help="Trả lại, cần --reason / return "
                                         "the dossier, needs --reason")] = False,
    select: Annotated[bool, typer.Option("--select", help="Chọn chuyển hóa / select")] = False,
    not_select: Annotated[bool, typer.Option("--not-select", help="Không chọn / not select")]
    = False,
    reason: ReasonOption = "", level: LevelOption = None,
    api: ApiOption = DEFAULT_API, token: TokenOption = None, as_json: JsonOption = False,
    lang: LangOption = Lang.vi,
) -> None:
    """Quyết định / decide: approve or reject the pending level, or (provincial police) select
    the commune or not."""
    chosen = [k for k, on in (("approve", approve), ("reject", reject), ("select", select),
                              ("not_select", not_select)) if on]
    if len(chosen) != 1:
        fail(say(lang, "chọn đúng một: --approve, --reject, --select hoặc --not-select",
                 "choose exactly one of --approve, --reject, --select, --not-select"))
    kind = chosen[0]
    if kind == "reject" and not reason.strip():
        raise ApiError(0, "decision.reason_required", "trả lại hồ sơ phải nêu lý do (--reason)",
                       "a rejection needs a reason (--reason)")
    if level is not None and kind in ("select", "not_select"):
        fail(say(lang, "--level chỉ dùng cho --approve/--reject",
                 "--level goes with --approve/--reject only"))
    done = {"approve": ("đã đồng ý", "approved"), "reject": ("đã trả lại hồ sơ", "returned"),
            "select": ("đã chọn chuyển hóa", "selected"),
            "not_select": ("đã quyết định không chọn", "not selected")}[kind]
    body: dict[str, Any] = {"kind": kind, "reason": reason, "level": level}
    _decision(case, body, api, token, as_json, lang, say(lang, *done))


@app.command("delegate")
@api_command
def delegate_cmd(
    case: CaseArg,
    to: Annotated[str, typer.Option("--to", help="Mã người được ủy quyền (cùng vai trò, đơn vị) "
                                    "/ the colleague's person id")],
    level: LevelOption = None, reason: ReasonOption = "",
    api: ApiOption = DEFAULT_API, token: TokenOption = None, as_json: JsonOption = False,
    lang: LangOption = Lang.vi,
) -> None:
    """Ủy quyền ký / hand one's pending sign-off to a colleague of the same role and unit."""
    _decision(case, {"kind": "delegate", "to_person_id": to, "level": level, "reason": reason},
              api, token, as_json, lang, say(lang, f"đã ủy quyền cho {to}", f"delegated to {to}"))


def _decision(case: str, body: dict[str, Any], api: str, token: str | None, as_json: bool,
              lang: Lang, done: str) -> None:
    with Api(api, token) as http:
        reply = http.post(case_path(case, "decisions"), body)
    if as_json:
        emit(reply)
    else:
        typer.echo(f"{done}: {case}")


@app.command("withdraw")
@api_command
def withdraw_cmd(
    case: CaseArg,
    reason: Annotated[str, typer.Option("--reason", help="Lý do rút / reason (required)")],
    api: ApiOption = DEFAULT_API, token: TokenOption = None, as_json: JsonOption = False,
    lang: LangOption = Lang.vi,
) -> None:
    """Rút hồ sơ / withdraw the case (district UBND, the province after 2025)."""
    if not reason.strip():
        raise ApiError(0, "case.reason_required", "rút hồ sơ phải nêu lý do (--reason)",
                       "a withdrawal needs a reason (--reason)")
    with Api(api, token) as http:
        reply = http.post(case_path(case, "withdrawal"), {"reason": reason})
    if as_json:
        emit(reply)
    else:
        typer.echo(say(lang, f"đã rút hồ sơ: {case}", f"withdrawn: {case}"))


# -- reading ---------------------------------------------------------------------------------
@app.command("status")
@api_command
def status_cmd(case: CaseArg, api: ApiOption = DEFAULT_API, token: TokenOption = None,
               as_json: JsonOption = False, lang: LangOption = Lang.vi) -> None:
    """Tình trạng hồ sơ / a case's status and, in recognition, its approval chain."""
    with Api(api, token) as http:
        view = http.get(case_path(case))
    if as_json:
        emit(view)
        return
    c, chain = view["case"], view.get("chain")
    v = str(lang) == "vi"
    typer.echo(f"{'Hồ sơ' if v else 'Case'} {c['case_id']}")
    rows = [
        ("Kế hoạch" if v else "Plan", c["plan_id"]),
        ("Xã" if v else "Commune", c["commune_code"]),
        ("Tình trạng" if v else "Status", label(STATES, c["status"], lang)),
        ("Giai đoạn" if v else "Phase", "-" if c["phase"] is None else str(c["phase"])),
        ("Phân loại" if v else "Classification", c["classification"] or "-"),
        ("Đạt tiêu chí" if v else "Criteria met", _yes_no(c["criteria_met"], lang)),
        ("Kết quả" if v else "Outcome", label(STATES, c["outcome"], lang)),
    ]
    for name, value in rows:
        typer.echo(f"  {name + ':':<16}{value}")
    if c["submitted"]:
        typer.echo(f"  {'Đã nộp' if v else 'Submitted'}:")
        for deadline_id, was_late in c["submitted"].items():  # the value: submitted late
            late = say(lang, " (trễ hạn)", " (late)") if was_late else ""
            typer.echo(f"    {deadline_id}{late}")
    if c["missed"]:
        typer.echo(f"  {'Quá hạn' if v else 'Missed'}: {', '.join(c['missed'])}")
    for reason in c["reasons"]:
        typer.echo(f"  {'Lý do' if v else 'Reason'}: {reason}")
    if chain:
        typer.echo(f"  {'Xét duyệt' if v else 'Recognition'} ({'vòng' if v else 'round'} "
                   f"{chain['round']}): {label(STATES, chain['status'], lang)}")
        if chain["pending_level"]:
            typer.echo(f"    {'Đang chờ cấp' if v else 'Pending level'}: {chain['pending_level']}"
                       f" ({'hạn' if v else 'due'} {local_time(chain['level_due'])}); "
                       f"{'chờ' if v else 'awaiting'}: {', '.join(chain['awaiting']) or '-'}")
        for level_id, who in chain["signed"].items():
            typer.echo(f"    {'Đã ký' if v else 'Signed'}: {level_id} ({who})")
        if chain["last_rejection"]:
            typer.echo(f"    {'Lần trả lại gần nhất' if v else 'Last returned'}: "
                       f"{chain['last_rejection']}")


@app.command("list")
@api_command
def list_cmd(
    plan: Annotated[str | None, typer.Option("--plan", help="Mã kế hoạch / plan id")] = None,
    state: Annotated[str | None, typer.Option(
        "--state", help="Tình trạng / state: opened, selected, phase_N, in_recognition, "
        "returned, recognised, ...")] = None,
    api: ApiOption = DEFAULT_API, token: TokenOption = None, as_json: JsonOption = False,
    lang: LangOption = Lang.vi,
) -> None:
    """Danh sách hồ sơ trong địa bàn của mình / the cases within one's jurisdiction."""
    with Api(api, token) as http:
        items = http.pages("/cases", {"plan": plan, "state": state})
    if as_json:
        emit(items)
        return
    v = str(lang) == "vi"
    if not items:
        typer.echo("không có hồ sơ nào" if v else "no cases")
        return
    head = ("Hồ sơ", "Tình trạng", "Cấp chờ", "Cập nhật") if v else (
        "Case", "State", "Pending", "Updated")
    width = max(len(str(r["stream"])) for r in items)
    typer.echo(f"{head[0]:<{width}}  {head[1]:<22}  {head[2]:<20}  {head[3]}")
    for r in items:
        typer.echo(f"{r['stream']:<{width}}  {label(STATES, r['state'], lang):<22}  "
                   f"{r.get('pending_level') or '-':<20}  {local_time(r.get('updated_at'))}")
    typer.echo(say(lang, f"{len(items)} hồ sơ", f"{len(items)} cases"))


@app.command("history")
@api_command
def history_cmd(case: CaseArg, api: ApiOption = DEFAULT_API, token: TokenOption = None,
                as_json: JsonOption = False, lang: LangOption = Lang.vi) -> None:
    """Diễn biến hồ sơ / the case's events as a timeline (giờ Việt Nam, dd/mm/yyyy HH:MM)."""
    with Api(api, token) as http:
        events = http.get(case_path(case, "history"))
    if as_json:
        emit(events)
        return
    for e in events:
        typer.echo(f"{local_time(e['recorded_at'])}  {e['version']:>3}  "
                   f"{label(EVENTS, e['type'], lang)}{_details(e.get('payload') or {}, lang)}")


def _details(payload: dict[str, Any], lang: Lang | str) -> str:
    parts = []
    for key, vi, en in _SHOWN:
        value = payload.get(key)
        if value is None or value == "" or value == []:
            continue
        if isinstance(value, bool):
            value = _yes_no(value, lang)
        elif isinstance(value, list):
            value = "; ".join(str(v) for v in value)
        elif key == "outcome":
            value = label(STATES, str(value), lang)
        parts.append(f"{say(lang, vi, en)}: {value}")
    return f" ({', '.join(parts)})" if parts else ""



@api_command
def inbox_cmd(
    overdue: Annotated[bool, typer.Option("--overdue", help="Chỉ việc quá hạn / overdue only")]
    = False,
    api: ApiOption = DEFAULT_API, token: TokenOption = None, as_json: JsonOption = False,
    lang: LangOption = Lang.vi,
) -> None:
    """Hộp công việc: việc đang chờ vai trò và địa bàn của mình, hạn sớm nhất trước / the
    decisions awaiting my role in my jurisdiction, oldest deadline first."""
    with Api(api, token) as http:
        items = http.pages("/inbox", {"overdue": str(overdue).lower()})
    if as_json:
        emit(items)
        return
    if not items:
        typer.echo(say(lang, "không có việc nào đang chờ", "nothing is waiting"))
        return
    width = max(len(str(i["case_id"])) for i in items)
    for i in items:
        due = "/".join(reversed(str(i["due"]).split("-")))
        late = say(lang, "  QUÁ HẠN", "  OVERDUE") if i.get("overdue") else ""
        typer.echo(f"{i['case_id']:<{width}}  {i['kind']:<9} {i['subject']:<22} "
                   f"{say(lang, 'hạn', 'due')} {due}{late}")
    count = len(items)
    typer.echo(say(lang, f"{count} việc đang chờ", f"{count} waiting"))
