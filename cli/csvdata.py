"""Communes and their metrics from a CSV file (``--from-csv``, ``--communes-csv``).

One row a commune: a ``commune_code`` column and one column per metric (``population``,
``addicts_total``...). The file is UTF-8, with or without a BOM (as spreadsheets save it).
Counts are integers (``1500``; ``1.500`` or ``1,500`` are refused, never guessed), the area
(``drug_plant_area_m2``) may be a decimal with a point, yes/no metrics are ``true``/``false``
(also ``có``/``không``, ``1``/``0``); an empty cell is a metric not reported. A bad cell names its
row (the file's line) and column. The file itself (unreadable, too large, not UTF-8, no
``commune_code`` column) is refused whole; a bad row is reported with its row and the others
are kept, so ``case start --from-csv`` goes on with them.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from domain.errors import InputError
from domain.metrics import Metrics

MAX_CSV_BYTES = 4 << 20  # 4 MiB: thousands of communes with every metric
MAX_ROWS = 2000  # as workflows.messages.MAX_COMMUNES
CODE_COLUMN = "commune_code"
_INT = re.compile(r"[+-]?\d{1,16}")
_DECIMAL = re.compile(r"[+-]?\d{1,16}(\.\d{1,6})?")
_TRUE, _FALSE = {"true", "có", "co", "yes", "1"}, {"false", "không", "khong", "no", "0"}


def _kinds() -> tuple[frozenset[str], frozenset[str]]:
    """The yes/no metrics and the decimal ones, from the metrics contract itself."""
    yes_no, decimal = set(), set()
    for name, info in Metrics.model_fields.items():
        text = str(info.annotation)
        if "bool" in text:
            yes_no.add(name)
        elif "float" in text:
            decimal.add(name)
    return frozenset(yes_no), frozenset(decimal)


YES_NO, DECIMAL = _kinds()


@dataclass
class Row:
    """One data row: its line in the file, its commune, its metrics or what is wrong with it."""

    line: int
    commune_code: str
    metrics: dict[str, Any] = field(default_factory=dict)
    error: InputError | None = None


def _bad(line: int, column: str, vi: str, en: str) -> InputError:
    return InputError("csv.bad_cell", f"row {line}, column {column}: {en}",
                      f"dòng {line}, cột {column}: {vi}")


def cell_value(line: int, column: str, text: str) -> Any:
    """A cell's value for metric ``column`` (None: empty, not reported)."""
    value = text.strip()
    if not value:
        return None
    if column in YES_NO:
        low = value.lower()
        if low in _TRUE or low in _FALSE:
            return low in _TRUE
        return _bad(line, column, f"cần true/false (có/không), không phải {value[:20]!r}",
                    f"expected true/false (có/không), not {value[:20]!r}")
    if column in DECIMAL and _DECIMAL.fullmatch(value):
        return float(value) if "." in value else int(value)
    if _INT.fullmatch(value):
        return int(value)
    return _bad(line, column, f"cần một số nguyên (không dấu phân cách), không phải "
                f"{value[:20]!r}", f"expected a whole number (no separators), not "
                f"{value[:20]!r}")


def read_communes(path: Path) -> list[Row]:
    """Every data row of ``path`` (blank lines skipped); raises for a file that is not such a
    table at all."""
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_CSV_BYTES + 1)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InputError("document.unreadable", f"cannot read {path}: {reason}",
                         f"không đọc được {path}: {reason}") from None
    if len(data) > MAX_CSV_BYTES:
        raise InputError("document.too_large", f"{path}: larger than {MAX_CSV_BYTES} bytes",
                         f"{path}: lớn hơn {MAX_CSV_BYTES} byte")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise InputError("document.encoding", f"{path}: not UTF-8 (line {line})",
                         f"{path}: không phải UTF-8 (dòng {line})") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            raise InputError("csv.empty", f"{path}: empty file", f"{path}: tệp rỗng")
        columns = [h.strip() for h in header]
        _check_header(path, columns)
        rows: list[Row] = []
        seen: dict[str, int] = {}
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            row = _row(reader.line_num, columns, cells, seen)
            rows.append(row)
            if len(rows) > MAX_ROWS:
                raise InputError("csv.too_many_rows", f"{path}: more than {MAX_ROWS} communes",
                                 f"{path}: quá {MAX_ROWS} xã")
    except csv.Error as exc:
        raise InputError("csv.malformed", f"{path}: line {reader.line_num}: {exc}",
                         f"{path}: dòng {reader.line_num}: CSV không hợp lệ ({exc})") from None
    if not rows:
        raise InputError("csv.empty", f"{path}: no commune rows", f"{path}: không có dòng xã nào")
    return rows


def _check_header(path: Path, columns: list[str]) -> None:
    if CODE_COLUMN not in columns:
        raise InputError("csv.no_commune_code", f"{path}: no {CODE_COLUMN} column",
                         f"{path}: thiếu cột {CODE_COLUMN}")
    for i, name in enumerate(columns, 1):
        if not name:
            raise InputError("csv.bad_header", f"{path}: column {i} has no name",
                             f"{path}: cột {i} không có tên")
        if columns.count(name) > 1:
            raise InputError("csv.bad_header", f"{path}: column {name} appears twice",
                             f"{path}: cột {name} lặp lại")


def _row(line: int, columns: list[str], cells: list[str], seen: dict[str, int]) -> Row:
    values = dict(zip(columns, (c.strip() for c in cells), strict=False))
    code = values.get(CODE_COLUMN, "")
    row = Row(line=line, commune_code=code)
    if len(cells) != len(columns):
        row.error = InputError("csv.bad_row", f"row {line}: {len(cells)} cells for "
                               f"{len(columns)} columns", f"dòng {line}: {len(cells)} ô cho "
                               f"{len(columns)} cột")
        return row
    if not code.isdigit() or len(code) > 10:
        row.error = _bad(line, CODE_COLUMN, "cần mã xã (chữ số)", "expected a commune code "
                         "(digits)")
        return row
    if code in seen:
        row.error = InputError("csv.duplicate", f"row {line}: commune {code} already on row "
                               f"{seen[code]}", f"dòng {line}: xã {code} đã có ở dòng "
                               f"{seen[code]}")
        return row
    seen[code] = line
    for column, text in values.items():
        if column == CODE_COLUMN:
            continue
        value = cell_value(line, column, text)
        if isinstance(value, InputError):
            row.error = value
            return row
        if value is not None:
            row.metrics[column] = value
    return row


def all_good(path: Path) -> dict[str, dict[str, Any]]:
    """Every commune's metrics, or the first bad row's error (a request sent whole)."""
    rows = read_communes(path)
    for row in rows:
        if row.error is not None:
            raise row.error
    return {row.commune_code: row.metrics for row in rows}
