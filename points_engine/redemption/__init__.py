"""Spending points at merchants: offers' terms, one-time codes, reversal windows, statements.

The money-like part (holding, posting, voiding and reversing points) is the ledger's two-phase
transfer (``spend-reserve`` → ``spend-post`` | ``spend-void``, then ``reverse``); this package
decides who may do which, and what a code proves.
"""

from points_engine.redemption.codes import (
    ScannedCode,
    lookup_hash,
    normalize_short,
    read,
    short_code,
    sign,
    verify,
)
from points_engine.redemption.errors import (
    CodeExpired,
    CodeUsed,
    InsufficientPoints,
    InvalidCode,
    InvalidOffer,
    OfferOutOfWindow,
    OfferUnavailable,
    OutOfStock,
    OverLimit,
    RedemptionError,
    ReversalWindowClosed,
)
from points_engine.redemption.offers import (
    OFFER_STATUSES,
    OfferStatus,
    OfferTerms,
    check_reservable,
    check_terms,
)
from points_engine.redemption.reversal import check_reversible
from points_engine.redemption.statements import (
    Reconciliation,
    Statement,
    StatementLine,
    reconcile,
    statement,
)

__all__ = [
    "OFFER_STATUSES",
    "CodeExpired",
    "CodeUsed",
    "InsufficientPoints",
    "InvalidCode",
    "InvalidOffer",
    "OfferOutOfWindow",
    "OfferStatus",
    "OfferTerms",
    "OfferUnavailable",
    "OutOfStock",
    "OverLimit",
    "Reconciliation",
    "RedemptionError",
    "ReversalWindowClosed",
    "ScannedCode",
    "Statement",
    "StatementLine",
    "check_reservable",
    "check_reversible",
    "check_terms",
    "lookup_hash",
    "normalize_short",
    "read",
    "reconcile",
    "short_code",
    "sign",
    "statement",
    "verify",
]
