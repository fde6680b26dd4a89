"""The consolidated report as a document (service.report_document): the .docx opens with
python-docx and its table holds the consolidated values; the CSV reads back to the same
numbers; where LibreOffice is installed the .docx converts to PDF and its first page to a
picture (var/screenshots/report-docx.png), else the document's content is checked alone."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from datetime import date
from pathlib import Path

import docx as python_docx

import catalog
from service.report_document import TABLE_HEADER, csv_rows, csv_text, docx, vn_number
from tests.domain.test_reporting import tra_vinh_2023

PLAN = "tra-vinh-project-2-2022-2025"
SCREENSHOTS = Path(__file__).resolve().parents[1] / "var" / "screenshots"


def _document() -> bytes:
    plan = catalog.reporting_plan(PLAN)
    _, c = tra_vinh_2023()
    return docx(plan, plan.round("yearly-2023"), c, issued_on=date(2023, 11, 20), number="87",
                sections={"results": "Các đơn vị đã triển khai đồng bộ các nhiệm vụ.",
                          "shortcomings": "Một số đơn vị gửi báo cáo muộn."})


def _check_content(data: bytes) -> None:
    doc = python_docx.Document(io.BytesIO(data))
    head, table, sign = doc.tables
    assert head.cell(0, 0).text == "CÔNG AN TỈNH TRÀ VINH"
    assert head.cell(0, 1).text == ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\n"
                                    "Độc lập - Tự do - Hạnh phúc")
    assert head.cell(1, 0).text == "Số: 87/BC-CAT"
    assert head.cell(1, 1).text == "Trà Vinh, ngày 20 tháng 11 năm 2023"
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "BÁO CÁO\nKết quả thực hiện Dự án 2" in text
    assert "Có 27/129 cơ quan, đơn vị gửi báo cáo" in text
    assert "Gửi muộn (2): UBND Thị xã Duyên Hải; Sở Lao động - Thương binh và Xã hội." in text
    assert "Chưa gửi báo cáo (102):" in text and "và 90 đơn vị khác" in text
    assert "IV. TỒN TẠI, HẠN CHẾ VÀ NGUYÊN NHÂN\nMột số đơn vị gửi báo cáo muộn." in text
    rows = [[c.text for c in r.cells] for r in table.rows]
    assert tuple(rows[0]) == TABLE_HEADER
    by_name = {r[1]: r for r in rows[1:]}
    # the hand-computed numbers of tests/domain/test_reporting.py, as a Vietnamese reader
    # writes them
    assert by_name["Số vụ phạm tội về ma túy được phát hiện, bắt giữ"] == [
        "1", "Số vụ phạm tội về ma túy được phát hiện, bắt giữ", "vụ", "127", "120", "+5,83",
        "tăng ≥ 5%", "Đạt"]
    assert by_name["Tỷ lệ vụ án ma túy được giải quyết, xét xử"][3:] == [
        "91,25", "85,71", "+6,46", "> 90%", "Đạt"]
    share = "Tỷ lệ vụ, việc vận chuyển qua biên giới biển, chuyển phát nhanh được xác minh làm rõ"
    assert by_name[share][3:] == ["93,33", "100", "-6,67", "≥ 100%", "Không đạt"]
    assert by_name["Số điểm nóng mới hình thành về tội phạm, tệ nạn ma túy"][3:] == [
        "1", "0", "-", "≤ 0 điểm", "Không đạt"]
    assert by_name["Số lượt người được tuyên truyền"][3] == "24.950"
    assert by_name["Kinh phí đã bố trí thực hiện Dự án"][3] == "1.250,5"
    assert by_name["Số mô hình phòng, chống ma túy hoạt động hiệu quả ở cơ sở"][3:5] == [
        "3", "-"]
    assert len(rows) == 1 + 18
    assert sign.cell(0, 0).text.startswith("Nơi nhận:\n- UBND tỉnh Trà Vinh (để b/c)")
    assert sign.cell(0, 1).text.startswith("GIÁM ĐỐC")


def test_the_docx_holds_the_consolidated_table() -> None:
    _check_content(_document())


def test_the_docx_converts_to_pdf_where_libreoffice_is_installed(tmp_path: Path) -> None:
    data = _document()
    _check_content(data)
    soffice = shutil.which("soffice")
    if soffice is None:
        return  # no converter on this machine: the content above is what is checked
    source = tmp_path / "report-docx.docx"
    source.write_bytes(data)
    subprocess.run([soffice, "--headless", f"-env:UserInstallation=file://{tmp_path}/lo",
                    "--convert-to", "pdf", "--outdir", str(tmp_path), str(source)],
                   check=True, capture_output=True, timeout=180)
    pdf = tmp_path / "report-docx.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is not None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        subprocess.run([pdftoppm, "-png", "-r", "110", "-f", "1", "-l", "1", "-singlefile",
                        str(pdf), str(SCREENSHOTS / "report-docx")], check=True, timeout=60)
        assert (SCREENSHOTS / "report-docx.png").stat().st_size > 10_000


def test_the_csv_reads_back_to_the_same_numbers() -> None:
    _, c = tra_vinh_2023()
    text = csv_text(c)
    assert text.startswith("\ufeff") and text.encode("utf-8").startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    assert [r["ma_chi_tieu"] for r in rows] == [r.id for r in c.indicators]
    for row, result in zip(rows, c.indicators, strict=True):
        value = None if row["ket_qua"] == "" else float(row["ket_qua"])
        assert value == result.value, row
        change = None if row["tang_giam_pct"] == "" else float(row["tang_giam_pct"])
        assert change == result.change_pct
        assert int(row["so_don_vi_bao_cao"]) == result.reported_by
    cases = rows[0]
    assert (cases["chi_tieu"], cases["ket_qua"], cases["ky_truoc"], cases["tang_giam_pct"],
            cases["muc_tieu"], cases["dat"]) == (
        "Số vụ phạm tội về ma túy được phát hiện, bắt giữ", "127", "120", "5.83", "5", "đạt")
    assert csv_rows(c)[0][0] == "stt"


def test_vietnamese_numbers() -> None:
    assert [vn_number(x) for x in (24950, 91.25, 1250.5, 0, 1_000_000, 85.714)] == [
        "24.950", "91,25", "1.250,5", "0", "1.000.000", "85,71"]
