"""Names a page shows for the domain's codes (event types, states, outcomes, kinds of
deadline), Vietnamese first; a code without a name is shown as it is."""

from __future__ import annotations

from domain.roles import ROLE_NAMES_VI
from web.i18n import Lang

EVENTS: dict[str, tuple[str, str]] = {
    "case.opened": ("Mở hồ sơ chuyển hóa", "Case opened"),
    "metrics.recorded": ("Ghi nhận số liệu", "Metrics recorded"),
    "selection.approved": ("Được lựa chọn xây dựng", "Selected"),
    "selection.rejected": ("Không được lựa chọn", "Not selected"),
    "phase.started": ("Bắt đầu giai đoạn", "Phase started"),
    "phase.ended": ("Kết thúc giai đoạn", "Phase ended"),
    "report.submitted": ("Nộp báo cáo", "Report submitted"),
    "deadline.missed": ("Quá hạn không nộp", "Deadline missed"),
    "reminder.sent": ("Nhắc hạn", "Reminder sent"),
    "case.escalated": ("Báo cáo cấp trên", "Escalated"),
    "criteria.evaluated": ("Đánh giá tiêu chí", "Criteria evaluated"),
    "dossier.submitted": ("Nộp hồ sơ đề nghị công nhận", "Dossier submitted"),
    "level.signed": ("Cấp xét duyệt ký", "Level signed"),
    "level.approved": ("Cấp xét duyệt thông qua", "Level approved"),
    "level.rejected": ("Trả lại hồ sơ", "Dossier returned"),
    "level.voted": ("Biểu quyết", "Vote cast"),
    "signoff.delegated": ("Ủy quyền xét duyệt", "Sign-off delegated"),
    "dossier.resubmitted": ("Nộp lại hồ sơ", "Dossier resubmitted"),
    "recognition.granted": ("Được công nhận", "Recognised"),
    "recognition.denied": ("Không được công nhận", "Not recognised"),
    "recognition.interrupted": ("Xét duyệt bị gián đoạn", "Recognition interrupted"),
    "case.withdrawn": ("Rút hồ sơ", "Case withdrawn"),
    "case.halted": ("Hồ sơ bị dừng", "Case halted"),
    "case.closed": ("Đóng hồ sơ", "Case closed"),
    "case.amended": ("Áp dụng văn bản sửa đổi", "Amendment applied"),
}

KINDS: dict[str, tuple[str, str]] = {
    "selection": ("Lựa chọn xã", "Selection"),
    "level": ("Xét duyệt", "Approval level"),
    "report": ("Báo cáo", "Report"),
    "dossier": ("Hồ sơ đề nghị công nhận", "Recognition dossier"),
    "implementation_plan": ("Kế hoạch thực hiện", "Implementation plan"),
    "phase_report": ("Báo cáo giai đoạn", "Phase report"),
    "forum": ("Diễn đàn", "Forum"),
}

STATES: dict[str, tuple[str, str]] = {
    "met": ("Đúng hạn", "On time"),
    "late": ("Nộp trễ", "Late"),
    "missed": ("Quá hạn", "Missed"),
    "pending": ("Chưa đến hạn", "Not yet due"),
    "overdue": ("Quá hạn", "Overdue"),
    "recognised": ("Được công nhận", "Recognised"),
    "not_recognised": ("Không được công nhận", "Not recognised"),
    "not_selected": ("Không được lựa chọn", "Not selected"),
    "withdrawn": ("Đã rút", "Withdrawn"),
    "halted": ("Bị dừng", "Halted"),
    "open": ("Đang thực hiện", "Open"),
    "selected": ("Đã được lựa chọn", "Selected"),
    "proposed": ("Đề xuất", "Proposed"),
    "in_recognition": ("Đang xét công nhận", "In recognition"),
    "type_i": ("Loại I", "Type I"),
    "type_ii": ("Loại II", "Type II"),
    "type_iii": ("Loại III", "Type III"),
    "less_complex": ("Ít phức tạp", "Less complex"),
    "drug_free": ("Không ma túy", "Drug-free"),
    # a level an amendment took away: its pending sign-off moved to the level inheriting it
    "transferred": ("Đã chuyển giao", "Transferred"),
}

ROLE_NAMES_EN: dict[str, str] = {
    "commune_ubnd": "Commune People's Committee",
    "district_ubnd": "District People's Committee",
    "district_police": "District police",
    "district_labour": "District labour office",
    "district_health": "District health centre",
    "province_police": "Provincial police",
    "province_department": "Provincial departments",
    "province_council": "Provincial review council",
    "province_ubnd": "Provincial People's Committee",
    "auditor": "Auditor",
    "operator": "System operator",
}


def _name(table: dict[str, tuple[str, str]], code: str | None, lang: Lang) -> str:
    if code is None:
        return "-"
    vi, en = table.get(code, (code, code))
    return en if lang == "en" else vi


def event(code: str, lang: Lang) -> str:
    return _name(EVENTS, code, lang)


def kind(code: str, lang: Lang) -> str:
    return _name(KINDS, code, lang)


def state(code: str | None, lang: Lang) -> str:
    return _name(STATES, code, lang)


def role(code: str | None, lang: Lang) -> str:
    if code is None:
        return "-"
    if lang == "en":
        return ROLE_NAMES_EN.get(code, code)
    return _ROLES_VI.get(code, code)


_ROLES_VI: dict[str, str] = {str(k): v for k, v in ROLE_NAMES_VI.items()}
