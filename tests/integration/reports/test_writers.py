"""CSV and XLSX writers: the same values in both, chunked CSV, sheets that roll over at Excel's limit,
and no cell that a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from openpyxl import load_workbook

from backend.reports.writers import Table, csv_chunks, rows_of, xlsx_file

COLUMNS = ("name", "grams", "at", "note")
ROWS = [
    ("plain", 1_234_567, datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC), None),
    ("汕头 南澳", 0, None, 'line\nbreak, and "quotes"'),
    ('=HYPERLINK("https://evil.example")', -5, None, "+SUM(A1:A2)"),
    ("@cmd", 2**53, None, "-1+1"),
    ("bell\x07here", 7, None, "\ttab"),
]


def table(rows=ROWS, title="t") -> Table:
    return Table(title, COLUMNS, rows_of(rows))


async def csv_text(t: Table, **kw) -> tuple[list[bytes], list[list[str]]]:
    chunks = [c async for c in csv_chunks(t, **kw)]
    return chunks, list(csv.reader(io.StringIO(b"".join(chunks).decode())))


async def sheets(t: list[Table], **kw) -> dict[str, list[tuple]]:
    with await xlsx_file(t, **kw) as f:
        book = load_workbook(f, read_only=True)
        return {s.title: [padded(r) for r in s.iter_rows(values_only=True)] for s in book.worksheets}


def padded(row: tuple) -> tuple:
    """A row read back from XLSX, with the empty cells at its end that reading drops."""
    return row + (None,) * (len(COLUMNS) - len(row))


async def test_csv_has_the_header_then_the_rows_with_formula_starts_neutralised():
    _, parsed = await csv_text(table())
    assert parsed == [
        list(COLUMNS),
        ["plain", "1234567", "2026-03-04T05:06:07Z", ""],
        ["汕头 南澳", "0", "", 'line\nbreak, and "quotes"'],
        ['\'=HYPERLINK("https://evil.example")', "-5", "", "'+SUM(A1:A2)"],  # numbers stay numbers
        ["'@cmd", str(2**53), "", "'-1+1"],
        ["bell\x07here", "7", "", "'\ttab"],
    ]


async def test_csv_is_sent_in_chunks_as_rows_are_read():
    many = [("r", i, None, None) for i in range(2500)]
    chunks, parsed = await csv_text(table(many), flush_rows=1000)
    assert len(chunks) == 3 and all(chunks)
    assert [int(r[1]) for r in parsed[1:]] == list(range(2500))


async def test_xlsx_holds_the_same_values_as_text_never_as_formulas():
    got = await sheets([table(title="first"), table(ROWS[:1], title="second")])
    assert list(got) == ["first", "second"]
    assert got["first"] == [
        COLUMNS,
        ("plain", 1_234_567, "2026-03-04T05:06:07Z", None),
        ("汕头 南澳", 0, None, 'line\nbreak, and "quotes"'),
        ('=HYPERLINK("https://evil.example")', -5, None, "+SUM(A1:A2)"),
        ("@cmd", 2**53, None, "-1+1"),
        ("bell\ufffdhere", 7, None, "\ttab"),  # a control character XLSX cannot hold
    ]
    with await xlsx_file([table()]) as f:
        cell = load_workbook(f).active["A4"]
    assert (cell.value, cell.data_type) == ('=HYPERLINK("https://evil.example")', "s")


async def test_a_table_longer_than_a_sheet_goes_on_to_the_next_sheet_with_its_header():
    many = [("r", i, None, None) for i in range(7)]
    got = await sheets([table(many, title="ranges")], max_rows=3)
    assert list(got) == ["ranges", "ranges (2)", "ranges (3)", "ranges (4)"]
    assert all(rows[0] == COLUMNS and len(rows) <= 3 for rows in got.values())
    assert [r[1] for rows in got.values() for r in rows[1:]] == list(range(7))
