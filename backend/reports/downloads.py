"""Files for download: an export or the pilot report as CSV or XLSX, with the name to save it under.

A CSV is streamed as it is read; an XLSX is written completely (to a temporary file) before its
first byte is sent, so a failure while writing it is still an error answer, not a truncated file.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

from backend.db import Database
from backend.errors import NotFound
from backend.reports import exports
from backend.reports.pilot import ROW_COLUMNS, pilot_report
from backend.reports.writers import FORMATS, Table, csv_chunks, file_chunks, rows_of, xlsx_file
from points_engine.certification import SHANGHAI


@dataclass(frozen=True, slots=True)
class Download:
    filename: str
    media_type: str
    chunks: AsyncIterator[bytes]

    @property
    def disposition(self) -> str:
        return f'attachment; filename="{self.filename}"'  # names are ours: [a-z0-9.-] only


def _format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise NotFound(f"no format {fmt!r}: exports are {' or '.join(FORMATS)}")
    return fmt


async def _file(table: Table, fmt: str, stem: str) -> Download:
    if fmt == "csv":
        return Download(f"{stem}.csv", FORMATS[fmt], csv_chunks(table))
    return Download(f"{stem}.xlsx", FORMATS[fmt], file_chunks(await xlsx_file([table])))


async def export(db: Database, name: str, fmt: str, *, now: datetime | None = None) -> Download:
    """The export ``name`` (runs, ranges, retirements, partners, methodologies) as ``fmt``;
    NotFound for any other name or format."""
    make = exports.EXPORTS.get(name)
    if make is None:
        raise NotFound(f"no export {name!r}: exports are {', '.join(exports.EXPORTS)}")
    _format(fmt)
    day = (now or datetime.now(UTC)).astimezone(SHANGHAI).date().isoformat()
    return await _file(make(db), fmt, f"tanhui-{name}-{day}")


async def pilot_report_file(db: Database, year: int, fmt: str) -> Download:
    """The pilot report of ``year`` as (section, key, metric, value) rows in ``fmt``."""
    report = await pilot_report(db, year)
    table = Table(f"nanao-pilot-{year}", ROW_COLUMNS, rows_of(list(report.rows())))
    return await _file(table, _format(fmt), f"tanhui-nanao-pilot-{year}")
