"""Why a reservation, a redemption or a reversal is refused: one error type each, a stable ``code``."""

from __future__ import annotations

from points_engine.errors import EngineError


class RedemptionError(EngineError):
    code = "redemption-error"


class InvalidOffer(RedemptionError):
    code = "invalid-offer"


class OfferUnavailable(RedemptionError):
    """Paused or retired by its merchant or an administrator."""

    code = "offer-unavailable"


class OfferOutOfWindow(RedemptionError):
    code = "offer-out-of-window"


class OutOfStock(RedemptionError):
    code = "out-of-stock"


class OverLimit(RedemptionError):
    code = "per-citizen-limit"


class InsufficientPoints(RedemptionError):
    code = "insufficient-points"


class InvalidCode(RedemptionError):
    """Not a code we signed: malformed, altered, or forged."""

    code = "invalid-code"


class CodeExpired(RedemptionError):
    code = "code-expired"


class CodeUsed(RedemptionError):
    """The reservation has been redeemed, cancelled, expired or reversed: its code is dead."""

    code = "code-used"


class ReversalWindowClosed(RedemptionError):
    code = "reversal-window-closed"
