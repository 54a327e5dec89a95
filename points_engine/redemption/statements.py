"""A merchant's daily statement: the day's redemptions and reversals, and the balance they move.

A statement reconciles when its lines add up to the change of the merchant's ledger account over
the same Asia/Shanghai day, and its closing balance is the opening balance plus that change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, TypeAlias

LineKind: TypeAlias = Literal["redemption", "reversal"]


@dataclass(frozen=True, slots=True)
class StatementLine:
    at: datetime
    kind: LineKind
    reservation_id: str
    offer_id: str
    staff_id: str
    points: int  # signed: what the line adds to the merchant's balance
    tx_id: str


@dataclass(frozen=True, slots=True)
class Statement:
    merchant_id: str
    day: date
    opening: int
    lines: tuple[StatementLine, ...]
    redeemed: int
    reversed: int
    closing: int

    @property
    def net(self) -> int:
        return self.redeemed - self.reversed


@dataclass(frozen=True, slots=True)
class Reconciliation:
    ledger_net: int  # credits minus debits of the merchant account over the day, from the journal
    ledger_closing: int  # the account's balance at the end of the day, from the journal
    findings: tuple[str, ...]

    @property
    def reconciled(self) -> bool:
        return not self.findings


def statement(merchant_id: str, day: date, opening: int, lines: Iterable[StatementLine]) -> Statement:
    ordered = tuple(sorted(lines, key=lambda line: (line.at, line.tx_id)))
    redeemed = sum(line.points for line in ordered if line.kind == "redemption")
    reversed_ = -sum(line.points for line in ordered if line.kind == "reversal")
    return Statement(merchant_id, day, opening, ordered, redeemed, reversed_, opening + redeemed - reversed_)


def reconcile(s: Statement, ledger_net: int, ledger_closing: int) -> Reconciliation:
    findings = []
    if s.net != ledger_net:
        findings.append(f"the lines add up to {s.net} points; the ledger moved {ledger_net}")
    if s.closing != ledger_closing:
        findings.append(f"the statement closes at {s.closing} points; the ledger at {ledger_closing}")
    if any(line.points <= 0 for line in s.lines if line.kind == "redemption") or any(
        line.points >= 0 for line in s.lines if line.kind == "reversal"
    ):
        findings.append("a redemption line takes points or a reversal line gives them")
    return Reconciliation(ledger_net, ledger_closing, tuple(findings))
