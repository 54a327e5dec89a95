"""The leaves of several runs at once, merged in tree order: one pass recomputes every run's tree
and sees an action covered by two runs as two equal keys in a row. Runs that could share an action
are those of one book and period (members filter on both), so a walk is per (book, period)."""

from __future__ import annotations

import heapq
from collections.abc import AsyncGenerator, AsyncIterator, Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from backend.certification.members import Leaf, RunScope, leaves


async def merged(conn: AsyncConnection, scopes: Sequence[RunScope]) -> AsyncIterator[tuple[int, Leaf]]:
    """(index of the scope, leaf) for every leaf of every scope, by (partner_id, event_id), then
    index: code-point order, the order ``leaves`` streams in."""
    streams = [leaves(conn, scope) for scope in scopes]
    try:
        heap: list[tuple[tuple[str, str], int, Leaf]] = []
        for index, stream in enumerate(streams):
            leaf = await anext(stream, None)
            if leaf is not None:
                heap.append(((leaf.partner_id, leaf.event_id), index, leaf))
        heapq.heapify(heap)
        while heap:
            _, index, leaf = heap[0]
            yield index, leaf
            following = await anext(streams[index], None)
            if following is None:
                heapq.heappop(heap)
            else:
                heapq.heapreplace(heap, ((following.partner_id, following.event_id), index, following))
    finally:
        for stream in streams:  # a walk left early closes its server-side cursors now
            if isinstance(stream, AsyncGenerator):
                await stream.aclose()
