"""Counting what the API answered, and a compact progress line on stderr for long runs."""

from __future__ import annotations

import sys
import time
from collections import Counter
from typing import Any, TextIO

MAX_SAMPLES = 10


class Tally:
    """Sums the per-batch answers: statuses, rejections by problem type, a few rejected examples."""

    def __init__(self) -> None:
        self.actions = self.accepted = self.duplicates = self.rejected = 0
        self.problems: Counter[str] = Counter()
        self.samples: list[dict[str, Any]] = []

    def add(self, result: Any) -> None:
        """Add one `BatchResult` of the SDK."""
        self.actions += len(result.results)
        self.accepted += result.accepted
        self.duplicates += result.duplicates
        self.rejected += result.rejected
        for item in result.results:
            if item.status != "rejected":
                continue
            problem = item.problem or {}
            kind = str(problem.get("type") or "unknown").rsplit("/", 1)[-1]
            self.problems[kind] += 1
            if len(self.samples) < MAX_SAMPLES:
                self.samples.append(
                    {"event_id": item.event_id, "type": kind, "detail": problem.get("detail")}
                )

    def as_dict(self, seconds: float) -> dict[str, Any]:
        return {
            "actions": self.actions,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "seconds": round(seconds, 3),
            "actions_per_s": round(self.actions / seconds, 1) if seconds > 0 else None,
            "problems": dict(self.problems),
            "rejected_samples": self.samples,
        }


class Progress:
    """`label 12,000/48,213 actions 25% 8,100/s acc 12,000 dup 0 rej 0`, rewritten in place on a
    terminal at most twice a second, or printed every 5 s to a file or pipe."""

    def __init__(self, label: str, total: int | None = None, stream: TextIO | None = None) -> None:
        self.label, self.total = label, total
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self.every = 0.5 if self.tty else 5.0
        self.started = self.last = time.monotonic()
        self.shown = False

    def begin(self) -> None:
        """Start the clock of the rate shown (call when sending starts, after binding)."""
        self.started = self.last = time.monotonic()

    def update(self, tally: Tally, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last < self.every:
            return
        self.last, self.shown = now, True
        rate = tally.actions / max(now - self.started, 1e-9)
        done = f"{tally.actions:,}" + (f"/{self.total:,}" if self.total else "")
        share = f" {tally.actions / self.total:4.0%}" if self.total else ""
        line = (
            f"{self.label} {done} actions{share} {rate:,.0f}/s "
            f"acc {tally.accepted:,} dup {tally.duplicates:,} rej {tally.rejected:,}"
        )
        self.stream.write(f"\r{line}\033[K" if self.tty else f"{line}\n")
        self.stream.flush()

    def close(self, tally: Tally) -> None:
        if self.shown or time.monotonic() - self.started >= self.every:
            self.update(tally, force=True)
            if self.tty:
                self.stream.write("\n")
