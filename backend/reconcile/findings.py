"""What a reconciliation reports: findings that name the row they are about, and per-check counts.

Memory stays flat however much disagrees: every finding is counted, the first ``keep`` are kept.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# (check, rows done, rows expected or None): called now and then while a check streams.
Progress = Callable[[str, int, int | None], None]


@dataclass(frozen=True, slots=True)
class Finding:
    """One disagreement. ``subject`` names the row (``outcome transit_st/ev-1``, ``tx tx_…``,
    ``run run_… chunk 3 (transit_st/ev-9)``, ``audit_log seq 2`` …); ``code`` is stable
    (docs/audit.md lists them); ``detail`` says what was found against what was expected."""

    check: str
    subject: str
    code: str
    detail: str

    def as_json(self) -> dict[str, str]:
        return {"check": self.check, "subject": self.subject, "code": self.code, "detail": self.detail}

    def __str__(self) -> str:
        return f"{self.check}: {self.subject}: {self.code}: {self.detail}"


@dataclass(frozen=True, slots=True)
class CheckResult:
    """How one check went: ``checked`` rows examined, ``findings`` disagreements counted."""

    name: str
    checked: int
    findings: int

    @property
    def ok(self) -> bool:
        return self.findings == 0

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "checked": self.checked, "findings": self.findings}


class Findings:
    """All findings of one reconciliation: counted per check, the first ``keep`` kept in order."""

    def __init__(self, keep: int, progress: Progress | None = None) -> None:
        self.keep = keep
        self.kept: list[Finding] = []
        self.count: Counter[str] = Counter()
        self.checked: Counter[str] = Counter()
        self._progress = progress

    def sink(self, check: str) -> Sink:
        self.count[check] += 0
        self.checked[check] += 0
        return Sink(self, check)

    def results(self) -> dict[str, CheckResult]:
        return {name: CheckResult(name, self.checked[name], self.count[name]) for name in self.count}

    @property
    def total(self) -> int:
        return sum(self.count.values())


class Sink:
    """What a check writes to: its findings, how many rows it examined, and its progress."""

    def __init__(self, findings: Findings, check: str) -> None:
        self._findings = findings
        self.check = check

    def report(self, subject: str, code: str, detail: str) -> None:
        self._findings.count[self.check] += 1
        if len(self._findings.kept) < self._findings.keep:
            self._findings.kept.append(Finding(self.check, subject, code, detail))

    def more(self, count: int) -> None:
        """Findings counted elsewhere but not listed (the chain lists its first 100 problems)."""
        self._findings.count[self.check] += max(count, 0)

    def examined(self, rows: int = 1) -> None:
        self._findings.checked[self.check] += rows

    def progress(self, done: int, total: int | None = None) -> None:
        if self._findings._progress is not None:
            self._findings._progress(self.check, done, total)

    @property
    def checked(self) -> int:
        return self._findings.checked[self.check]
