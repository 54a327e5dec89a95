"""Writing a table (a header and rows) as CSV or XLSX, in flat memory whatever its length.

CSV is produced as a stream of byte chunks while the rows are read. XLSX cannot be streamed (the
zip's directory comes last), so it is written row by row by openpyxl's write-only mode into a
temporary file, which is then streamed and removed. The same values reach both formats:
integers stay integers, times are ISO 8601 in UTC (``…Z``), ``None`` is an empty cell.

Neither format lets a cell become a formula: in XLSX strings are stored as strings (openpyxl would
otherwise take ``=…`` for a formula); in CSV a text cell starting with ``= + - @`` or a tab/CR is
prefixed with ``'`` (OWASP "CSV injection"), which spreadsheets show as text.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS = {"csv": CSV_MEDIA_TYPE, "xlsx": XLSX_MEDIA_TYPE}

CSV_FLUSH_ROWS = 1000  # rows per chunk sent
XLSX_MAX_ROWS = 1_048_576  # Excel's limit per sheet, header included: longer tables go on to a next sheet
FILE_CHUNK = 64 * 1024
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_ILLEGAL_XLSX = re.compile(r"[\000-\010\013\014\016-\037]")  # openpyxl refuses these control characters

Row = Sequence[Any]


@dataclass(frozen=True, slots=True)
class Table:
    """A named table: its columns and its rows (an async iterable, read once)."""

    title: str
    columns: tuple[str, ...]
    rows: AsyncIterable[Row]


def cell_value(value: Any) -> Any:
    """The value as both formats show it: int/str as they are, times ISO 8601, booleans as 0/1."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, datetime):  # UTC with "Z", as the JSON answers show times
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return value


def _csv_cell(value: Any) -> Any:
    value = cell_value(value)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


async def csv_chunks(table: Table, *, flush_rows: int = CSV_FLUSH_ROWS) -> AsyncIterator[bytes]:
    """The table as UTF-8 CSV (RFC 4180, CRLF line ends), a chunk every ``flush_rows`` rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(table.columns)
    pending = 1
    async with _opened(table.rows) as rows:
        async for row in rows:
            writer.writerow([_csv_cell(v) for v in row])
            pending += 1
            if pending >= flush_rows:
                yield _drain(buffer)
                pending = 0
    yield _drain(buffer)


def _drain(buffer: io.StringIO) -> bytes:
    data = buffer.getvalue().encode()
    buffer.seek(0)
    buffer.truncate()
    return data


@asynccontextmanager
async def _opened(rows: AsyncIterable[Row]) -> AsyncIterator[AsyncIterable[Row]]:
    """``rows``, closed when the block ends however it ends (an async generator holding a database
    connection gives it back at once, also when the client goes away mid-download)."""
    try:
        yield rows
    finally:
        aclose = getattr(rows, "aclose", None)
        if aclose is not None:
            await aclose()


async def xlsx_file(tables: Iterable[Table], *, max_rows: int = XLSX_MAX_ROWS) -> IO[bytes]:
    """The tables as one workbook, a sheet each (continued on ``title (2)``… past ``max_rows``), in a
    temporary file positioned at its start; the caller closes it (which removes it)."""
    book = Workbook(write_only=True)
    for table in tables:
        part = 1
        sheet = _sheet(book, table, part)
        written = 1
        async with _opened(table.rows) as rows:
            async for row in rows:
                if written == max_rows:
                    part += 1
                    sheet = _sheet(book, table, part)
                    written = 1
                sheet.append([_xlsx_cell(sheet, v) for v in row])
                written += 1
    out = tempfile.TemporaryFile()  # noqa: SIM115 (outlives this function: file_chunks closes it)
    try:
        await asyncio.to_thread(book.save, out)  # zipping a big sheet takes a while: not on the loop
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return out


def _sheet(book: Workbook, table: Table, part: int) -> WriteOnlyWorksheet:
    sheet: WriteOnlyWorksheet = book.create_sheet(table.title if part == 1 else f"{table.title} ({part})")
    sheet.append(list(table.columns))
    return sheet


def _xlsx_cell(sheet: WriteOnlyWorksheet, value: Any) -> Any:
    value = cell_value(value)
    if not isinstance(value, str):
        return value
    value = _ILLEGAL_XLSX.sub("\ufffd", value)
    if not value.startswith("="):
        return value
    cell = WriteOnlyCell(sheet, value)
    cell.data_type = "s"  # text, never a formula
    return cell


async def file_chunks(file: IO[bytes]) -> AsyncIterator[bytes]:
    """The file's bytes in chunks; the file is closed (and so removed) at the end or on disconnect."""
    try:
        while chunk := await asyncio.to_thread(file.read, FILE_CHUNK):
            yield chunk
    finally:
        file.close()


async def rows_of(rows: Iterable[Row]) -> AsyncIterator[Row]:
    """An in-memory table's rows as the async iterable ``Table`` takes."""
    for row in rows:
        yield row
