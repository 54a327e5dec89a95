"""Check ``runs``: every certification run recomputed from the outcomes it covers.

Per run: its leaves (``members.leaves``, the one definition of a run's membership) folded into
chunks of ``CHUNK`` and compared with ``run_chunks`` (first key, size, root), the run's root and
tree size, its grams and points (``members.totals``), and what it issued
(``carry_in + reduction == tonnes × 1,000,000 + carry_out``, ``0 <= carry < 1,000,000``).
Per book: each run's carry-in is the previous run's carry-out, the last one is the book's
``carry_g``, and Σ reduction_g == Σ tonnes × 1,000,000 + carry_g.

The walk is shared with check ``overlap``: an action two runs cover is reported there.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from backend.certification.books import BOOK_ROWS
from backend.certification.members import Leaf, RunScope, totals
from backend.certification.runs import CHUNKS, RUNS, scope_of
from backend.reconcile.findings import Sink
from backend.reconcile.walk import merged
from points_engine.certification import (
    CHUNK,
    GRAMS_PER_TONNE,
    CertificationError,
    chunked_root,
    root_of_hashes,
    run_id,
)

PROGRESS_EVERY = 50_000


@dataclass
class Coverage:
    """What the walk saw, for check ``overlap``: leaves, distinct actions, Σ stored tree sizes."""

    leaves: int = 0
    distinct: int = 0
    tree_sizes: int = 0


@dataclass
class _Tree:
    """One run's tree being recomputed: the open chunk and the chunks closed so far."""

    run: Any
    stored: dict[int, Any]  # chunk number → run_chunks row
    sink: Sink
    size: int = 0
    hashes: list[bytes] = field(default_factory=list)
    first: tuple[str, str] = ("", "")
    roots: list[bytes] = field(default_factory=list)

    def add(self, leaf: Leaf) -> None:
        if not self.hashes:
            self.first = (leaf.partner_id, leaf.event_id)
        self.hashes.append(leaf.hash)
        self.size += 1
        if len(self.hashes) == CHUNK:
            self._close()

    def finish(self) -> None:
        if self.hashes:
            self._close()
        rid = self.run.run_id
        for number in sorted(n for n in self.stored if n >= len(self.roots)):
            row = self.stored[number]
            self.sink.report(
                _chunk_subject(rid, number, (row.first_partner_id, row.first_event_id)),
                "chunk-extra",
                f"stored chunk of {row.size} leaves, but the run's {self.size} leaves make "
                f"{len(self.roots)} chunk(s)",
            )
        if self.size != self.run.tree_size:
            self.sink.report(
                f"run {rid}",
                "tree-size",
                f"tree_size {self.run.tree_size}, the outcomes it covers give {self.size} leaves",
            )
        computed = chunked_root(self.roots).hex()
        if computed != self.run.root:
            self.sink.report(
                f"run {rid}", "root", f"root {_short(self.run.root)}, recomputed {_short(computed)}"
            )

    def _close(self) -> None:
        number = len(self.roots)
        computed = root_of_hashes(self.hashes)[0]
        self.roots.append(computed)
        row = self.stored.get(number)
        subject = _chunk_subject(self.run.run_id, number, self.first)
        if row is None:
            self.sink.report(subject, "chunk-missing", f"no run_chunks row for {len(self.hashes)} leaves")
        else:
            stored_first = (row.first_partner_id, row.first_event_id)
            if stored_first != self.first:
                self.sink.report(
                    _chunk_subject(self.run.run_id, number, stored_first),
                    "chunk-first-key",
                    f"first key {'/'.join(stored_first)}, recomputed {'/'.join(self.first)}",
                )
            if row.size != len(self.hashes):
                self.sink.report(subject, "chunk-size", f"size {row.size}, recomputed {len(self.hashes)}")
            if row.root != computed.hex():
                self.sink.report(
                    subject, "chunk-root", f"root {_short(row.root)}, recomputed {_short(computed.hex())}"
                )
        self.hashes = []


async def check(conn: AsyncConnection, sink: Sink, overlap: Sink) -> Coverage:
    """Recompute every run; actions covered twice are reported to ``overlap``."""
    runs = list(await conn.execute(select(RUNS).order_by(RUNS.c.book, RUNS.c.period, RUNS.c.number)))
    coverage = Coverage(tree_sizes=sum(int(r.tree_size) for r in runs))
    sink.progress(0, coverage.tree_sizes)
    for _, group in groupby(runs, key=lambda r: (r.book, r.period)):
        await _walk(conn, list(group), sink, overlap, coverage)
    for run in runs:
        _check_issuance(run, sink)
    await _check_books(conn, runs, sink)
    sink.progress(coverage.leaves, coverage.tree_sizes)
    return coverage


async def _walk(
    conn: AsyncConnection, runs: list[Any], sink: Sink, overlap: Sink, coverage: Coverage
) -> None:
    """One (book, period): every run's tree from one merged pass over their leaves."""
    scoped: list[tuple[Any, RunScope]] = []
    for run in runs:
        sink.examined()
        try:
            scoped.append((run, scope_of(run)))
        except CertificationError as error:
            sink.report(f"run {run.run_id}", "run-identity", f"period {run.period!r}: {error}")
    trees = [_Tree(run, await _stored_chunks(conn, run.run_id), sink) for run, _ in scoped]
    try:
        await _fold(conn, trees, [scope for _, scope in scoped], overlap, coverage)
    except CertificationError as error:  # SQLite builds leaves in Python: an outcome with no leaf
        for run, _ in scoped:
            sink.report(f"run {run.run_id}", "leaf-invalid", f"an outcome it covers has no leaf: {error}")
        return
    for tree, (run, scope) in zip(trees, scoped, strict=True):
        tree.finish()
        counted = await totals(conn, scope)
        for code, name, stored, computed in (
            ("grams", "reduction_g", run.reduction_g, counted.reduction_g),
            ("points", "points", run.points, counted.points),
        ):
            if stored != computed:
                sink.report(f"run {run.run_id}", code, f"{name} {stored}, its outcomes sum to {computed}")


async def _fold(
    conn: AsyncConnection, trees: list[_Tree], scopes: list[RunScope], overlap: Sink, coverage: Coverage
) -> None:
    """Feed each run's tree its leaves; two equal keys in a row are one action covered twice."""
    previous: tuple[tuple[str, str], int] | None = None
    async for index, leaf in merged(conn, scopes):
        key = (leaf.partner_id, leaf.event_id)
        trees[index].add(leaf)
        coverage.leaves += 1
        overlap.examined()
        if previous is not None and previous[0] == key:
            other = trees[previous[1]].run.run_id
            runs_text = (
                f"runs {other} and {trees[index].run.run_id}"
                if previous[1] != index
                else f"run {other} twice"
            )
            overlap.report(f"outcome {key[0]}/{key[1]}", "covered-twice", f"covered by {runs_text}")
        else:
            coverage.distinct += 1
        previous = (key, index)
        if coverage.leaves % PROGRESS_EVERY == 0:
            trees[index].sink.progress(coverage.leaves, coverage.tree_sizes)


async def _stored_chunks(conn: AsyncConnection, rid: str) -> dict[int, Any]:
    # One row per 1,024 leaves: ~10,000 rows for ten million actions.
    rows = await conn.execute(select(CHUNKS).where(CHUNKS.c.run_id == rid))
    return {int(r.chunk): r for r in rows}


def _check_issuance(run: Any, sink: Sink) -> None:
    subject = f"run {run.run_id}"
    if run_id(run.book, run.period, run.number) != run.run_id or str(run.vintage) != run.period[:4]:
        sink.report(
            subject,
            "run-identity",
            f"book {run.book}, period {run.period}, number {run.number}, vintage {run.vintage} "
            f"do not make this run id",
        )
    grams_in = run.carry_in_g + run.reduction_g
    grams_out = run.tonnes * GRAMS_PER_TONNE + run.carry_out_g
    if grams_in != grams_out:
        sink.report(
            subject,
            "issuance",
            f"carry_in_g {run.carry_in_g} + reduction_g {run.reduction_g} = {grams_in} g, but "
            f"tonnes {run.tonnes} × 1,000,000 + carry_out_g {run.carry_out_g} = {grams_out} g",
        )
    for name in ("carry_in_g", "carry_out_g"):
        if not 0 <= getattr(run, name) < GRAMS_PER_TONNE:
            sink.report(subject, "carry-range", f"{name} {getattr(run, name)} is not in 0 … 999,999")


async def _check_books(conn: AsyncConnection, runs: list[Any], sink: Sink) -> None:
    """Each book's runs in number order chain their carry-over into the book's row."""
    by_book: dict[str, list[Any]] = defaultdict(list)
    for run in sorted(runs, key=lambda r: (r.book, r.number)):
        by_book[run.book].append(run)
    books = {b.book: b for b in await conn.execute(select(BOOK_ROWS))}
    for book in sorted(set(by_book) | set(books)):
        chain, row = by_book.get(book, []), books.get(book)
        carry = 0
        for expected_number, run in enumerate(chain, start=1):
            if run.number != expected_number:
                sink.report(
                    f"run {run.run_id}", "run-number", f"number {run.number}, expected {expected_number}"
                )
            if run.carry_in_g != carry:
                sink.report(
                    f"run {run.run_id}",
                    "carry-chain",
                    f"carry_in_g {run.carry_in_g}, the book's previous run carried out {carry}",
                )
            carry = run.carry_out_g
        if row is None:
            sink.report(f"book {book}", "book-missing", f"{len(chain)} run(s) but no certification_books row")
            continue
        if row.carry_g != carry or row.runs != len(chain):
            sink.report(
                f"book {book}",
                "book-carry",
                f"carry_g {row.carry_g} after {row.runs} run(s); "
                f"its runs end with {carry} after {len(chain)}",
            )
        certified = sum(r.reduction_g for r in chain)
        issued = sum(r.tonnes for r in chain)
        if certified != issued * GRAMS_PER_TONNE + row.carry_g:
            sink.report(
                f"book {book}",
                "book-balance",
                f"certified {certified} g, but issued {issued} t × 1,000,000 + carry_g {row.carry_g}",
            )


def _chunk_subject(rid: str, number: int, first: tuple[str, str]) -> str:
    return f"run {rid} chunk {number} ({first[0]}/{first[1]})"


def _short(digest: str) -> str:
    return f"{digest[:12]}…" if isinstance(digest, str) and len(digest) > 12 else repr(digest)
