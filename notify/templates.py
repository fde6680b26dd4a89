"""Notification texts (thông báo): Vietnamese first, English as the fallback.

A notice carries codes, dates and counts only (``domain.notices.Notice``); the words
live here. Templates are plain text (email bodies, webhook fields), so no HTML escaping.
``StrictUndefined`` makes a template that uses a parameter the workflow does not send fail
loudly under ``strict=True`` (the tests); in production a broken or unknown template degrades
to a generic message rather than leaving a notice undeliverable forever.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

import structlog
from jinja2 import Environment, StrictUndefined, Template, TemplateError

from domain.roles import ROLE_NAMES_VI

log = structlog.get_logger("drugfree.notify")

FALLBACK_LANG = "en"

ROLE_NAMES_EN = {
    "commune_ubnd": "Commune People's Committee",
    "district_ubnd": "District People's Committee",
    "district_police": "District Police",
    "district_labour": "District Labour, Invalids and Social Affairs Office",
    "district_health": "District Health Centre",
    "province_police": "Provincial Police",
    "province_department": "Provincial departments",
    "province_council": "Provincial Review Council",
    "province_ubnd": "Provincial People's Committee",
    "auditor": "Inspection",
    "operator": "System operator",
}

# Deadline and approval-level ids are plan data; these label the ids the shipped plans use and
# anything else is shown as its code.
_LABELS: dict[str, dict[str, str]] = {
    "vi": {
        "district_list": "danh sách xã đề nghị xây dựng",
        "selection": "lựa chọn xã xây dựng",
        "implementation_plan": "kế hoạch triển khai",
        "dossier": "hồ sơ đề nghị công nhận",
        "district_appraisal": "thẩm định cấp huyện",
        "district_review": "xét duyệt cấp huyện",
        "district_decision": "quyết định cấp huyện",
        "province_appraisal": "thẩm định cấp tỉnh",
        "province_council": "xét duyệt của Hội đồng cấp tỉnh",
        "province_decision": "quyết định công nhận cấp tỉnh",
    },
    "en": {
        "district_list": "district's list of proposed communes",
        "selection": "selection of communes",
        "implementation_plan": "implementation plan",
        "dossier": "recognition dossier",
        "district_appraisal": "district appraisal",
        "district_review": "district review",
        "district_decision": "district decision",
        "province_appraisal": "provincial appraisal",
        "province_council": "provincial review council",
        "province_decision": "provincial recognition decision",
    },
}
_NUMBERED: dict[str, list[tuple[re.Pattern[str], str]]] = {
    "vi": [(re.compile(r"phase_(\d+)_report"), "báo cáo kết quả giai đoạn {}"),
           (re.compile(r"forum_q(\d)"), "diễn đàn “Công an lắng nghe ý kiến Nhân dân” quý {}")],
    "en": [(re.compile(r"phase_(\d+)_report"), "phase {} report"),
           (re.compile(r"forum_q(\d)"), "public forum of quarter {}")],
}
_ROLE_NAMES: dict[str, dict[str, str]] = {
    "vi": {str(k): v for k, v in ROLE_NAMES_VI.items()}, "en": ROLE_NAMES_EN}
# Formatted by hand: strftime's %B follows the process locale.
_MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August",
              "September", "October", "November", "December")

# name -> (subject, body). The greeting and the footer are added by render().
CATALOGUE: dict[str, dict[str, tuple[str, str]]] = {
    "vi": {
        "case_opened": (
            "[{{ plan }}] Mở hồ sơ xây dựng xã không ma túy: xã {{ commune }}",
            "Hồ sơ chuyển hóa, xây dựng xã không ma túy của xã {{ commune }} theo kế hoạch "
            "{{ plan }} đã được mở. Đề nghị xem xét việc lựa chọn xã theo kế hoạch.",
        ),
        "selected": (
            "[{{ plan }}] Xã {{ commune }} được lựa chọn xây dựng xã không ma túy",
            "Xã {{ commune }} đã được lựa chọn để chuyển hóa, xây dựng xã không ma túy theo "
            "kế hoạch {{ plan }}. Đề nghị xây dựng và gửi kế hoạch triển khai đúng thời hạn.",
        ),
        "reminder": (
            "[{{ plan }}] Nhắc hạn: {{ deadline | label }} của xã {{ commune }} "
            "(còn {{ days_before }} ngày)",
            "Còn {{ days_before }} ngày đến hạn {{ deadline | label }} của xã {{ commune }} "
            "(hạn ngày {{ due | day }}, kế hoạch {{ plan }}). Đề nghị hoàn thành và gửi đúng "
            "thời hạn.",
        ),
        "deadline_missed": (
            "[{{ plan }}] Quá hạn: {{ deadline | label }} của xã {{ commune }}",
            "Đã quá hạn {{ deadline | label }} của xã {{ commune }} (hạn ngày {{ due | day }}, "
            "kế hoạch {{ plan }}). Việc chậm trễ đã được ghi nhận và báo cáo cấp trên.",
        ),
        "escalation": (
            "[{{ plan }}] Báo cáo chậm trễ: xã {{ commune }} quá hạn {{ deadline | label }}",
            "Xã {{ commune }} chưa hoàn thành {{ deadline | label }} theo hạn ngày "
            "{{ due | day }} (kế hoạch {{ plan }}). Đề nghị đôn đốc, chỉ đạo khắc phục.",
        ),
        "report_received": (
            "[{{ plan }}] Đã nhận {{ deadline | label }} của xã {{ commune }}",
            "Đã nhận {{ deadline | label }} của xã {{ commune }} (kế hoạch {{ plan }}). "
            "{% if late %}Nộp sau thời hạn.{% else %}Nộp đúng hạn.{% endif %}",
        ),
        "decision_needed": (
            "[{{ plan }}] Đề nghị {{ level | label }}: hồ sơ công nhận xã {{ commune }}",
            "Hồ sơ đề nghị công nhận xã {{ commune }} đạt tiêu chuẩn xã không ma túy (kế hoạch "
            "{{ plan }}) đang chờ {{ level | label }}. Đề nghị xem xét và cho ý kiến.",
        ),
        "level_reminder": (
            "[{{ plan }}] Nhắc hạn {{ level | label }}: xã {{ commune }} "
            "(còn {{ days_before }} ngày)",
            "Còn {{ days_before }} ngày đến hạn cho ý kiến ở bước {{ level | label }} đối với hồ "
            "sơ đề nghị công nhận xã {{ commune }} (kế hoạch {{ plan }}).",
        ),
        "level_overdue": (
            "[{{ plan }}] Quá hạn {{ level | label }}: hồ sơ xã {{ commune }}",
            "Bước {{ level | label }} đối với hồ sơ đề nghị công nhận xã {{ commune }} (kế "
            "hoạch {{ plan }}) đã quá hạn. Chưa có ý kiến của: {{ unsigned | roles }}. "
            "Đề nghị đôn đốc.",
        ),
        "dossier_returned": (
            "[{{ plan }}] Hồ sơ công nhận xã {{ commune }} bị trả lại",
            "Hồ sơ đề nghị công nhận xã {{ commune }} (kế hoạch {{ plan }}) không được thông "
            "qua ở bước {{ level | label }}; lý do xem trên hệ thống. Xã có thể bổ sung, hoàn "
            "thiện và nộp lại trong thời hạn.",
        ),
        "round_opened": (
            "[{{ plan }}] Kỳ báo cáo {{ round }}: đề nghị {{ unit }} báo cáo trước {{ due | day }}",
            "Kỳ báo cáo {{ round }} của kế hoạch {{ plan }} đã mở. Đề nghị đơn vị {{ unit }} "
            "gửi báo cáo kết quả thực hiện theo biểu mẫu trên hệ thống, hạn ngày "
            "{{ due | day }}.",
        ),
        "unit_report_reminder": (
            "[{{ plan }}] Nhắc hạn báo cáo: {{ unit }} (còn {{ days_before }} ngày)",
            "Còn {{ days_before }} ngày đến hạn báo cáo ({{ due | day }}) của đơn vị {{ unit }} "
            "theo kế hoạch {{ plan }}.",
        ),
        "unit_report_missed": (
            "[{{ plan }}] Quá hạn báo cáo: {{ unit }}",
            "Đơn vị {{ unit }} chưa gửi báo cáo theo hạn ngày {{ due | day }} (kế hoạch "
            "{{ plan }}). Việc chậm trễ đã được ghi nhận; đề nghị gửi báo cáo ngay.",
        ),
        "unit_report_escalated": (
            "[{{ plan }}] Đôn đốc: {{ unit }} chưa báo cáo",
            "Đơn vị {{ unit }} chưa gửi báo cáo theo hạn ngày {{ due | day }} (kế hoạch "
            "{{ plan }}). Đề nghị đôn đốc.",
        ),
        "unit_report_received": (
            "[{{ plan }}] Đã nhận báo cáo của {{ unit }}",
            "Đã nhận báo cáo của đơn vị {{ unit }} (kế hoạch {{ plan }}). "
            "{% if late %}Gửi sau thời hạn.{% else %}Gửi đúng hạn.{% endif %}",
        ),
        "unit_report_returned": (
            "[{{ plan }}] Báo cáo của {{ unit }} bị trả lại",
            "Báo cáo của đơn vị {{ unit }} (kế hoạch {{ plan }}) được trả lại để bổ sung, "
            "hoàn thiện; lý do xem trên hệ thống. Đề nghị gửi lại.",
        ),
        "round_consolidated": (
            "[{{ plan }}] Báo cáo tổng hợp kỳ {{ round }} chờ phê duyệt",
            "Công an tỉnh đã tổng hợp báo cáo kỳ {{ round }} (kế hoạch {{ plan }}). Đề nghị "
            "xem xét, phê duyệt.",
        ),
        "round_approved": (
            "[{{ plan }}] Báo cáo tổng hợp đã được phê duyệt",
            "Báo cáo tổng hợp của kế hoạch {{ plan }} đã được phê duyệt.",
        ),
        "case_amended": (
            "[{{ plan }}] Kế hoạch sửa đổi áp dụng cho hồ sơ xã {{ commune }}",
            "Từ ngày {{ effective_on | day }}, hồ sơ chuyển hóa của xã {{ commune }} (kế hoạch "
            "{{ plan }}) thực hiện theo văn bản sửa đổi {{ amendment }}: các thời hạn, nơi báo "
            "cáo và quy trình xét duyệt theo quy định mới; các ý kiến đã ký vẫn giữ nguyên "
            "giá trị. Chi tiết xem trên hệ thống.",
        ),
        "recognised": (
            "[{{ plan }}] Xã {{ commune }} được công nhận đạt tiêu chuẩn xã không ma túy",
            "Hồ sơ đề nghị công nhận xã {{ commune }} đã được thông qua ở tất cả các cấp. "
            "Xã {{ commune }} được công nhận đạt tiêu chuẩn xã không ma túy (kế hoạch "
            "{{ plan }}).",
        ),
        "case_recognised": (
            "[{{ plan }}] Kết thúc hồ sơ: xã {{ commune }} được công nhận xã không ma túy",
            "Hồ sơ chuyển hóa của xã {{ commune }} theo kế hoạch {{ plan }} đã kết thúc: xã "
            "được công nhận đạt tiêu chuẩn xã không ma túy. Đề nghị duy trì kết quả.",
        ),
        "case_not_recognised": (
            "[{{ plan }}] Kết thúc hồ sơ: xã {{ commune }} chưa được công nhận",
            "Hồ sơ chuyển hóa của xã {{ commune }} theo kế hoạch {{ plan }} đã kết thúc mà xã "
            "chưa được công nhận đạt tiêu chuẩn xã không ma túy. Đề nghị tiếp tục các biện "
            "pháp chuyển hóa.",
        ),
        "case_not_selected": (
            "[{{ plan }}] Xã {{ commune }} không được lựa chọn xây dựng",
            "Xã {{ commune }} không được lựa chọn chuyển hóa, xây dựng xã không ma túy theo kế "
            "hoạch {{ plan }}. Hồ sơ đã kết thúc.",
        ),
        "case_withdrawn": (
            "[{{ plan }}] Hồ sơ xã {{ commune }} đã được rút",
            "Hồ sơ chuyển hóa, xây dựng xã không ma túy của xã {{ commune }} (kế hoạch "
            "{{ plan }}) đã được rút và kết thúc.",
        ),
        "case_interrupted": (
            "[{{ plan }}] Hồ sơ xã {{ commune }} dừng do quy trình xét duyệt bị gián đoạn",
            "Quy trình xét, công nhận hồ sơ của xã {{ commune }} (kế hoạch {{ plan }}) bị dừng "
            "ngoài ý muốn, không có quyết định của cấp nào. Hồ sơ đã kết thúc; đề nghị bộ phận "
            "vận hành hệ thống kiểm tra và báo cáo.",
        ),
    },
    "en": {
        "case_opened": (
            "[{{ plan }}] Drug-free commune case opened: commune {{ commune }}",
            "The drug-free conversion case of commune {{ commune }} under plan {{ plan }} has "
            "been opened. Please consider the commune for selection.",
        ),
        "selected": (
            "[{{ plan }}] Commune {{ commune }} selected for conversion",
            "Commune {{ commune }} has been selected for drug-free conversion under plan "
            "{{ plan }}. Please prepare and send its implementation plan on time.",
        ),
        "reminder": (
            "[{{ plan }}] Reminder: {{ deadline | label }} of commune {{ commune }} "
            "due in {{ days_before }} days",
            "The {{ deadline | label }} of commune {{ commune }} is due on {{ due | day }} "
            "({{ days_before }} days left, plan {{ plan }}). Please submit it on time.",
        ),
        "deadline_missed": (
            "[{{ plan }}] Missed: {{ deadline | label }} of commune {{ commune }}",
            "The {{ deadline | label }} of commune {{ commune }} was due on {{ due | day }} "
            "(plan {{ plan }}) and has not been received. The delay has been recorded and "
            "escalated.",
        ),
        "escalation": (
            "[{{ plan }}] Escalation: commune {{ commune }} missed {{ deadline | label }}",
            "Commune {{ commune }} has not completed its {{ deadline | label }}, due on "
            "{{ due | day }} (plan {{ plan }}). Please follow up.",
        ),
        "report_received": (
            "[{{ plan }}] Received: {{ deadline | label }} of commune {{ commune }}",
            "The {{ deadline | label }} of commune {{ commune }} (plan {{ plan }}) has been "
            "received{% if late %} after its deadline{% else %} on time{% endif %}.",
        ),
        "decision_needed": (
            "[{{ plan }}] Decision needed ({{ level | label }}): commune {{ commune }}",
            "The recognition dossier of commune {{ commune }} (plan {{ plan }}) awaits the "
            "{{ level | label }}. Please review it and record your decision.",
        ),
        "level_reminder": (
            "[{{ plan }}] Reminder: {{ level | label }} of commune {{ commune }} "
            "due in {{ days_before }} days",
            "Your decision at the {{ level | label }} on the recognition dossier of commune "
            "{{ commune }} (plan {{ plan }}) is due in {{ days_before }} days.",
        ),
        "level_overdue": (
            "[{{ plan }}] Overdue: {{ level | label }} of commune {{ commune }}",
            "The {{ level | label }} of the recognition dossier of commune {{ commune }} "
            "(plan {{ plan }}) is overdue. Not yet decided by: {{ unsigned | roles }}.",
        ),
        "dossier_returned": (
            "[{{ plan }}] Recognition dossier of commune {{ commune }} returned",
            "The recognition dossier of commune {{ commune }} (plan {{ plan }}) was not "
            "approved at the {{ level | label }}; see the reasons in the system. The commune "
            "may complete and resubmit it before the deadline.",
        ),
        "round_opened": (
            "[{{ plan }}] Reporting round {{ round }}: {{ unit }} to report by {{ due | day }}",
            "Reporting round {{ round }} of plan {{ plan }} is open. Unit {{ unit }} is asked "
            "to send its report on the form in the system by {{ due | day }}.",
        ),
        "unit_report_reminder": (
            "[{{ plan }}] Reminder: report of {{ unit }} due in {{ days_before }} days",
            "The report of unit {{ unit }} (plan {{ plan }}) is due on {{ due | day }}, in "
            "{{ days_before }} days.",
        ),
        "unit_report_missed": (
            "[{{ plan }}] Report overdue: {{ unit }}",
            "Unit {{ unit }} has not sent its report due on {{ due | day }} (plan {{ plan }}). "
            "The delay is recorded; please send it now.",
        ),
        "unit_report_escalated": (
            "[{{ plan }}] Follow up: {{ unit }} has not reported",
            "Unit {{ unit }} has not sent its report due on {{ due | day }} (plan {{ plan }}). "
            "Please follow up.",
        ),
        "unit_report_received": (
            "[{{ plan }}] Report of {{ unit }} received",
            "The report of unit {{ unit }} (plan {{ plan }}) has been received"
            "{% if late %} after its due day{% else %} on time{% endif %}.",
        ),
        "unit_report_returned": (
            "[{{ plan }}] Report of {{ unit }} sent back",
            "The report of unit {{ unit }} (plan {{ plan }}) was sent back to be completed; "
            "see the reason in the system. Please send it again.",
        ),
        "round_consolidated": (
            "[{{ plan }}] Consolidated report of round {{ round }} awaits approval",
            "The provincial police consolidated the reports of round {{ round }} (plan "
            "{{ plan }}). Please review and approve.",
        ),
        "round_approved": (
            "[{{ plan }}] Consolidated report approved",
            "The consolidated report of plan {{ plan }} has been approved.",
        ),
        "case_amended": (
            "[{{ plan }}] Amended plan applies to the case of commune {{ commune }}",
            "From {{ effective_on | day }}, the conversion case of commune {{ commune }} "
            "(plan {{ plan }}) follows amendment {{ amendment }}: deadlines, whom to report "
            "to and the approval chain follow the new rules; signatures already given stay "
            "valid. See the details in the system.",
        ),
        "recognised": (
            "[{{ plan }}] Commune {{ commune }} recognised as drug-free",
            "The recognition dossier of commune {{ commune }} has been approved at every "
            "level: the commune is recognised as drug-free (plan {{ plan }}).",
        ),
        "case_recognised": (
            "[{{ plan }}] Case closed: commune {{ commune }} recognised as drug-free",
            "The conversion case of commune {{ commune }} under plan {{ plan }} is closed: "
            "the commune is recognised as drug-free.",
        ),
        "case_not_recognised": (
            "[{{ plan }}] Case closed: commune {{ commune }} not recognised",
            "The conversion case of commune {{ commune }} under plan {{ plan }} is closed "
            "without recognition. Conversion measures should continue.",
        ),
        "case_not_selected": (
            "[{{ plan }}] Commune {{ commune }} not selected",
            "Commune {{ commune }} was not selected for conversion under plan {{ plan }}. "
            "The case is closed.",
        ),
        "case_withdrawn": (
            "[{{ plan }}] Case of commune {{ commune }} withdrawn",
            "The drug-free conversion case of commune {{ commune }} (plan {{ plan }}) has been "
            "withdrawn and closed.",
        ),
        "case_interrupted": (
            "[{{ plan }}] Case of commune {{ commune }} stopped: approval chain interrupted",
            "The recognition chain of commune {{ commune }} (plan {{ plan }}) stopped without a "
            "decision by any level. The case is closed; the system's operators should check "
            "and report.",
        ),
    },
}

_GREETING = {"vi": "Kính gửi: {}", "en": "To: {}"}
_FOOTER = {
    "vi": "Mã hồ sơ: {}\n-- \nThông báo tự động của hệ thống xây dựng xã không ma túy.",
    "en": "Case: {}\n-- \nAutomatic notice from the drug-free commune system.",
}
_GENERIC = {
    "vi": ("Thông báo mới về hồ sơ {}", "Có cập nhật mới về hồ sơ {}. Vui lòng xem chi tiết "
           "trên hệ thống."),
    "en": ("New notice about case {}", "There is an update on case {}. Please see the details "
           "in the system."),
}


def _label(lang: str, code: Any) -> str:
    text = str(code)
    if text in _LABELS[lang]:
        return _LABELS[lang][text]
    for pattern, words in _NUMBERED[lang]:
        if m := pattern.fullmatch(text):
            return words.format(m[1])
    return text


def _day(lang: str, value: Any) -> str:
    try:
        day = date.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if lang == "vi":
        return f"{day.day:02d}/{day.month:02d}/{day.year}"
    return f"{day.day} {_MONTHS_EN[day.month - 1]} {day.year}"


def _roles(lang: str, value: Any) -> str:
    names = _ROLE_NAMES[lang]
    return ", ".join(names.get(r, r) for r in str(value).split(",") if r)


def _environment(lang: str) -> Environment:
    env = Environment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
    env.filters["label"] = lambda v: _label(lang, v)
    env.filters["day"] = lambda v: _day(lang, v)
    env.filters["roles"] = lambda v: _roles(lang, v)
    return env


_ENVS = {lang: _environment(lang) for lang in CATALOGUE}
_COMPILED: dict[tuple[str, str], tuple[Template, Template]] = {}


def _compiled(lang: str, name: str) -> tuple[Template, Template]:
    key = (lang, name)
    if key not in _COMPILED:
        subject, body = CATALOGUE[lang][name]
        env = _ENVS[lang]
        _COMPILED[key] = (env.from_string(subject), env.from_string(body))
    return _COMPILED[key]


def render(
    template: str,
    params: Mapping[str, Any],
    lang: str = "vi",
    *,
    to_role: str | None = None,
    case_id: str | None = None,
    strict: bool = False,
) -> tuple[str, str]:
    """Return ``(subject, body)`` of ``template`` in ``lang``, else in English.

    An unknown template name gives a generic message. A template that fails to render (a
    parameter the workflow did not send) raises under ``strict``, else falls back to the
    next language and finally to the generic message.
    """
    for candidate in dict.fromkeys((lang, FALLBACK_LANG)):
        if template not in CATALOGUE.get(candidate, {}):
            continue
        try:
            subject_t, body_t = _compiled(candidate, template)
            subject, body = subject_t.render(params), body_t.render(params)
        except TemplateError as err:
            if strict:
                raise
            log.warning("template_render_failed", template=template, lang=candidate,
                        error=type(err).__name__)
            continue
        return subject, _frame(candidate, body, to_role, case_id)
    text_lang = lang if lang in _GENERIC else FALLBACK_LANG
    ref = case_id or str(params.get("commune", ""))
    subject, body = (part.format(ref) for part in _GENERIC[text_lang])
    return subject, _frame(text_lang, body, to_role, case_id)


def _frame(lang: str, body: str, to_role: str | None, case_id: str | None) -> str:
    parts = []
    if to_role:
        parts.append(_GREETING[lang].format(_ROLE_NAMES[lang].get(to_role, to_role)))
    parts.append(body.strip())
    if case_id:
        parts.append(_FOOTER[lang].format(case_id))
    return "\n\n".join(parts) + "\n"


def template_names() -> set[str]:
    """Every template name with a text in at least one language."""
    return {name for texts in CATALOGUE.values() for name in texts}
