"""No double reports: a citizen cannot make two trips at once, whichever partners report them."""

from __future__ import annotations

import bisect

from points_engine.rules.state import Span


def overlaps(spans: tuple[Span, ...], span: Span) -> bool:
    """Whether ``span`` shares an instant with one of ``spans`` (sorted by start, pairwise disjoint).
    Spans are half-open, so a trip starting exactly when another ends does not overlap it."""
    start, end = span
    i = bisect.bisect_left(spans, (start,))
    if i > 0 and spans[i - 1][1] > start:
        return True
    return i < len(spans) and spans[i][0] < end
