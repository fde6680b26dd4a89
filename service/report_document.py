"""The consolidated report as people in this administration send it: a .docx and a CSV.

``docx`` lays a round's consolidation (``domain.reporting.Consolidation``) out as an
administrative report in the usual form of Decree 30/2020/NĐ-CP: the issuing body top left
with the number and symbol (Số: .../BC-...), the national motto top right with the place and
date, the title "BÁO CÁO" and its subject, the body (which units reported, which are late or
missing), the indicator table (STT, chỉ tiêu, đơn vị tính, kết quả, kỳ trước, tăng/giảm,
mục tiêu, đạt/không đạt), the narrative sections, then "Nơi nhận" and the signature block.
Times New Roman 13 on A4 with the decree's margins, so a clerk can print it as it is.

``csv_rows`` / ``csv_text`` are the same numbers for a spreadsheet: UTF-8 with a byte order
mark (Excel then reads Vietnamese), numbers with a decimal point (read back exactly),
yes/no as "có"/"không", an empty cell where nothing was reported.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Literal

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Length, Mm, Pt
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph

from domain.admin_units import registry
from domain.reporting import (
    Consolidation,
    IndicatorResult,
    ReportingPlan,
    ReportingUnit,
    Round,
    reporting_units,
)

Issuer = Literal["consolidator", "approver"]

FONT = "Times New Roman"
TABLE_HEADER = ("STT", "Chỉ tiêu", "Đơn vị tính", "Kết quả", "Kỳ trước", "Tăng/giảm (%)",
                "Mục tiêu", "Đạt/Không đạt")
CSV_HEADER = ("stt", "ma_chi_tieu", "chi_tieu", "don_vi_tinh", "ket_qua", "ky_truoc",
              "tang_giam_pct", "loai_muc_tieu", "muc_tieu", "dat", "so_don_vi_bao_cao",
              "so_don_vi_phai_bao_cao")
LISTED = 12  # names of late or missing units listed in the body before "và N đơn vị khác"


# -- numbers as a Vietnamese reader writes them ---------------------------------------------------

def vn_number(value: float) -> str:
    """24950 -> "24.950", 91.25 -> "91,25" (Vietnamese: "." groups thousands, "," decimals)."""
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return text.replace(",", " ").replace(".", ",").replace(" ", ".")


def _value(v: float | bool | None) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "Có" if v else "Không"
    return vn_number(v)


def _change(r: IndicatorResult) -> str:
    if r.change_pct is None:
        return "-"
    sign = "+" if r.change_pct > 0 else ""
    return sign + vn_number(r.change_pct)


def target_text(r: IndicatorResult) -> str:
    """The target as the plan words it: "≥ 90%", "> 80%", "tăng ≥ 5%", "giảm", "≤ 0"."""
    if r.target_kind is None or r.target_value is None:
        return "-"
    goal = r.target_value
    if r.target_kind in ("change_at_least", "change_at_most"):
        rise = r.target_kind == "change_at_least"
        if not rise and goal == 0:
            return "giảm" if r.target_strict else "không tăng"
        word = "tăng" if rise else "thay đổi"
        sign = (">" if rise else "<") if r.target_strict else ("≥" if rise else "≤")
        return f"{word} {sign} {vn_number(goal)}%"
    if r.value is not None and isinstance(r.value, bool):
        return "Có" if r.target_kind == "at_least" and goal >= 1 else "Không"
    at_least = r.target_kind == "at_least"
    sign = (">" if at_least else "<") if r.target_strict else ("≥" if at_least else "≤")
    unit = "%" if r.unit_vi == "%" else (f" {r.unit_vi}" if r.unit_vi else "")
    return f"{sign} {vn_number(goal)}{unit}"


def _met(r: IndicatorResult) -> str:
    if r.met is None:
        return "-" if r.target_kind is None else "Chưa đánh giá"
    return "Đạt" if r.met else "Không đạt"


def _vn_date(day: date) -> str:
    return f"ngày {day.day:02d} tháng {day.month:02d} năm {day.year}"


def province_name(plan: ReportingPlan) -> str:
    """"Trà Vinh", "Ninh Bình": the province's name without its "Tỉnh" / "Thành phố"."""
    name = registry(plan.structure).provinces[plan.province_code].name
    for prefix in ("Tỉnh ", "Thành phố "):
        name = name.removeprefix(prefix)
    return name


def basis(plan: ReportingPlan) -> str:
    """The document the reports are due under, as its source names it in brackets
    ("KH 95/KH-UBND, 30/12/2022"), else the plan's title."""
    head, _, rest = plan.source.partition("(")
    return rest.rsplit(")", 1)[0] if rest and head.strip() else plan.title_vi


def issuer_name(plan: ReportingPlan, issuer: Issuer) -> str:
    """The body as it names itself in a sentence: "Công an tỉnh Trà Vinh"."""
    role = plan.consolidator if issuer == "consolidator" else plan.approver
    kind = "Công an tỉnh" if role == "province_police" else "Ủy ban nhân dân tỉnh"
    return f"{kind} {province_name(plan)}"


def issuing_body(plan: ReportingPlan, issuer: Issuer) -> tuple[str, str]:
    """The body's name (upper case, as printed top left) and the symbol after "BC-"."""
    province = province_name(plan).upper()
    role = plan.consolidator if issuer == "consolidator" else plan.approver
    if role == "province_police":
        return f"CÔNG AN TỈNH {province}", "CAT"
    return f"ỦY BAN NHÂN DÂN TỈNH {province}", "UBND"


# -- the .docx ------------------------------------------------------------------------------------

def docx(plan: ReportingPlan, rnd: Round, consolidation: Consolidation, *,
         issued_on: date | None = None, number: str = "", issuer: Issuer = "consolidator",
         sections: Mapping[str, str] | None = None, recipients: Sequence[str] | None = None,
         signer_title: str | None = None, signer_name: str = "",
         units: Sequence[ReportingUnit] | None = None) -> bytes:
    """The round's consolidated report as a Word document (bytes of a .docx).

    ``sections``: the consolidator's own text per section of the form (left as dotted lines
    to fill in where not given); ``number``: the register number ("Số: 12/BC-CAT"), blank
    ("Số:      /BC-CAT") until the office registers it; ``units``: the plan's units, to name
    the late and missing ones (computed from the plan if not given)."""
    body, symbol = issuing_body(plan, issuer)
    form = plan.form(rnd.form)
    day = issued_on or rnd.due
    names = {u.id: u.name_vi for u in (units if units is not None else reporting_units(plan))}
    doc = Document()
    _page(doc)

    head = doc.add_table(rows=2, cols=2)
    head.alignment = WD_TABLE_ALIGNMENT.CENTER
    _cell(head.cell(0, 0), [(body, True, False)], size=13)
    _cell(head.cell(0, 1), [("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", True, False),
                            ("Độc lập - Tự do - Hạnh phúc", True, False)], size=12)
    _cell(head.cell(1, 0), [(f"Số: {number or '      '}/BC-{symbol}", False, False)], size=13)
    _cell(head.cell(1, 1), [(f"{province_name(plan)}, {_vn_date(day)}", False, True)], size=13)
    for cell in (head.cell(0, 0), head.cell(0, 1)):
        cell.paragraphs[-1].runs[-1].underline = True  # the short rule under body and motto
    _widths(head, (Mm(65), Mm(100)))

    _para(doc, "BÁO CÁO", bold=True, align=WD_ALIGN_PARAGRAPH.CENTER, before=12)
    _para(doc, _subject(form.title_vi), bold=True, align=WD_ALIGN_PARAGRAPH.CENTER)
    _para(doc, f"({rnd.title_vi}; {plan.title_vi})", italic=True,
          align=WD_ALIGN_PARAGRAPH.CENTER, after=12)

    _para(doc, f"Thực hiện chế độ báo cáo theo {basis(plan)}, {issuer_name(plan, issuer)} tổng "
               "hợp kết quả báo cáo của các cơ quan, đơn vị như sau:", indent=True)
    _para(doc, "I. TÌNH HÌNH GỬI BÁO CÁO", bold=True)
    c = consolidation
    _para(doc, f"Có {len(c.units_reported)}/{c.units_expected} cơ quan, đơn vị gửi báo cáo "
               f"(hạn gửi trước {_vn_date(rnd.due + _one_day)}).", indent=True)
    if c.late:
        _para(doc, f"Gửi muộn ({len(c.late)}): {_names(c.late, names)}.", indent=True)
    if c.units_missing:
        _para(doc, f"Chưa gửi báo cáo ({len(c.units_missing)}): "
                   f"{_names(c.units_missing, names)}.", indent=True)
    else:
        _para(doc, "Tất cả cơ quan, đơn vị đã gửi báo cáo.", indent=True)

    _para(doc, "II. KẾT QUẢ THỰC HIỆN CÁC CHỈ TIÊU", bold=True)
    _indicator_table(doc, c)

    for n, s in enumerate(form.sections, start=3):
        text = (sections or {}).get(s.id, "").strip()
        if not text and not s.required:
            continue
        _para(doc, f"{_roman(n)}. {s.title_vi.upper()}", bold=True, before=6)
        for line in (text.splitlines() if text else ["." * 120]):
            _para(doc, line, indent=True)

    _signature(doc, plan, issuer, recipients, signer_title, signer_name)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def _subject(title: str) -> str:
    rest = title.removeprefix("Báo cáo ").removeprefix("báo cáo ")
    return rest[:1].upper() + rest[1:]


def _names(ids: Sequence[str], names: Mapping[str, str]) -> str:
    shown = [names.get(i, i) for i in ids[:LISTED]]
    more = len(ids) - len(shown)
    return "; ".join(shown) + (f" và {more} đơn vị khác" if more else "")


def _roman(n: int) -> str:
    return ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X")[n - 1]


def _indicator_table(doc: DocxDocument, c: Consolidation) -> None:
    table = doc.add_table(rows=1, cols=len(TABLE_HEADER))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for cell, title in zip(table.rows[0].cells, TABLE_HEADER, strict=True):
        _cell(cell, [(title, True, False)], size=11, align=WD_ALIGN_PARAGRAPH.CENTER)
    for n, r in enumerate(c.indicators, start=1):
        row = table.add_row().cells
        texts = (str(n), r.name_vi, r.unit_vi or "-", _value(r.value), _value(r.previous),
                 _change(r), target_text(r), _met(r))
        for k, (cell, text) in enumerate(zip(row, texts, strict=True)):
            align = WD_ALIGN_PARAGRAPH.LEFT if k == 1 else WD_ALIGN_PARAGRAPH.CENTER
            _cell(cell, [(text, False, False)], size=11, align=align)
    _widths(table, (Mm(11), Mm(52), Mm(17), Mm(17), Mm(17), Mm(16), Mm(17), Mm(18)))


def _signature(doc: DocxDocument, plan: ReportingPlan, issuer: Issuer,
               recipients: Sequence[str] | None, signer_title: str | None,
               signer_name: str) -> None:
    province = province_name(plan)
    role = plan.consolidator if issuer == "consolidator" else plan.approver
    if recipients is None:
        # 000 §VI.3, 004 §IV.3: the police reports to the provincial People's Committee and
        # the Ministry; the People's Committee to the national committee and the Ministry
        recipients = ([f"UBND tỉnh {province} (để b/c)", "Bộ Công an (để b/c)"]
                      if role == "province_police" else
                      ["Ủy ban Quốc gia phòng, chống AIDS và phòng, chống tệ nạn ma túy, mại "
                       "dâm (để b/c)", "Bộ Công an (để b/c)"])
        recipients = [*recipients, "Lưu: VT."]
    title = signer_title or ("GIÁM ĐỐC" if role == "province_police" else
                             "TM. ỦY BAN NHÂN DÂN\nCHỦ TỊCH")
    sign = doc.add_table(rows=1, cols=2)
    left = [("Nơi nhận:", True, True)] + [(f"- {r}", False, False) for r in recipients]
    _cell(sign.cell(0, 0), left, size=11, align=WD_ALIGN_PARAGRAPH.LEFT, before=12)
    right = [(line, True, False) for line in title.split("\n")]
    right += [("(Ký, ghi rõ họ tên, đóng dấu)", False, True), ("", False, False),
              ("", False, False), (signer_name, True, False)]
    _cell(sign.cell(0, 1), right, size=13, before=12)
    _widths(sign, (Mm(85), Mm(80)))


def _widths(table: Table, widths: Sequence[Length]) -> None:
    # Word reads the cells' widths, LibreOffice the grid's: set both
    table.autofit = False
    for column, width in zip(table.columns, widths, strict=True):
        column.width = width
        for cell in column.cells:
            cell.width = width


_one_day = timedelta(days=1)


def _page(doc: DocxDocument) -> None:
    for section in doc.sections:
        section.page_width, section.page_height = Mm(210), Mm(297)
        section.top_margin, section.bottom_margin = Mm(20), Mm(20)
        section.left_margin, section.right_margin = Mm(30), Mm(15)
    normal = doc.styles["Normal"]
    normal.font.name = FONT
    normal.font.size = Pt(13)


def _para(doc: DocxDocument, text: str, *, bold: bool = False, italic: bool = False,
          align: WD_ALIGN_PARAGRAPH | None = None, indent: bool = False, before: float = 0,
          after: float = 3) -> Paragraph:
    p = doc.add_paragraph()
    run = p.add_run(text)
    run.bold, run.italic = bold, italic
    run.font.name = FONT
    if align is not None:
        p.alignment = align
    else:
        p.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    fmt = p.paragraph_format
    fmt.space_before, fmt.space_after = Pt(before), Pt(after)
    if indent:
        fmt.first_line_indent = Mm(10)
    return p


def _cell(cell: _Cell, lines: Sequence[tuple[str, bool, bool]], *, size: float,
          align: WD_ALIGN_PARAGRAPH | None = WD_ALIGN_PARAGRAPH.CENTER, before: float = 0) -> None:
    """Fill ``cell`` with ``(text, bold, italic)`` lines, one paragraph each."""
    for n, (text, bold, italic) in enumerate(lines):
        p = cell.paragraphs[0] if n == 0 else cell.add_paragraph()
        p.alignment = align
        p.paragraph_format.space_after = Pt(0)
        if n == 0:
            p.paragraph_format.space_before = Pt(before)
        run = p.add_run(text)
        run.bold, run.italic = bold, italic
        run.font.name, run.font.size = FONT, Pt(size)


# -- the CSV -------------------------------------------------------------------------------------

def _csv_value(v: float | bool | None) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "có" if v else "không"
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def csv_rows(consolidation: Consolidation) -> list[list[str]]:
    """The header, then one row per indicator of the consolidation."""
    rows = [list(CSV_HEADER)]
    for n, r in enumerate(consolidation.indicators, start=1):
        rows.append([
            str(n), r.id, r.name_vi, r.unit_vi, _csv_value(r.value), _csv_value(r.previous),
            _csv_value(r.change_pct), r.target_kind or "", _csv_value(r.target_value),
            "" if r.met is None else ("đạt" if r.met else "không đạt"),
            str(r.reported_by), str(r.expected)])
    return rows


def csv_text(consolidation: Consolidation) -> str:
    """``csv_rows`` as CSV text starting with a byte order mark (write it as UTF-8)."""
    out = io.StringIO()
    out.write("\ufeff")
    csv.writer(out, lineterminator="\r\n").writerows(csv_rows(consolidation))
    return out.getvalue()
