"""Backend errors: the same shape as engine errors (a stable ``code``), no HTTP words."""

from __future__ import annotations

from typing import Any, ClassVar


class AppError(Exception):
    code: ClassVar[str] = "internal"

    def __init__(self, detail: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra
        if code is not None:  # an error whose code is data, e.g. a rejected quote's own reason
            self.code = code  # type: ignore[misc]


def app_error(code: str) -> type[AppError]:
    """A subclass of AppError for one code (``NotFound = app_error("not-found")``)."""
    return type(f"AppError[{code}]", (AppError,), {"code": code})


MalformedJson = app_error("malformed-json")
BodyTooLarge = app_error("body-too-large")
InvalidRequest = app_error("invalid-request")
BatchTooLarge = app_error("batch-too-large")
NotFound = app_error("not-found")
ActionNotFound = app_error("action-not-found")
UnboundUser = app_error("unbound-user")
BindingConflict = app_error("binding-conflict")
PartnerExists = app_error("partner-exists")
UnknownPartner = app_error("unknown-partner")
TooManyKeys = app_error("too-many-keys")
UnknownKey = app_error("unknown-key")
InvalidAction = app_error("invalid-action")
InvalidMethodology = app_error("invalid-methodology")
MethodologyExists = app_error("methodology-exists")
MethodologyNotFound = app_error("methodology-not-found")
PeriodNotBegun = app_error("period-not-begun")
NothingToCertify = app_error("nothing-to-certify")
UnknownRun = app_error("unknown-run")
ActionNotCertified = app_error("action-not-certified")
NotReviewable = app_error("not-reviewable")
AlreadyReviewed = app_error("already-reviewed")
UnknownRange = app_error("unknown-range")
RangeNotActive = app_error("range-not-active")
TonnesOutsideRange = app_error("tonnes-outside-range")
UnknownAccount = app_error("unknown-account")
AccountExists = app_error("account-exists")
CrossBook = app_error("cross-book")
InvalidTarget = app_error("invalid-target")
# merchants, offers and redemptions (docs/redemption.md)
MerchantExists = app_error("merchant-exists")
UnknownMerchant = app_error("unknown-merchant")
StaffDisabled = app_error("staff-disabled")
UnknownOffer = app_error("unknown-offer")
UnknownReservation = app_error("unknown-reservation")
UnknownCode = app_error("unknown-code")
ForeignCode = app_error("foreign-code")
IdempotencyConflict = app_error("idempotency-conflict")
NotCancellable = app_error("not-cancellable")
NotReversible = app_error("not-reversible")
InvalidStatementRange = app_error("invalid-statement-range")
# citizens' personal data (docs/privacy.md)
OpenReservations = app_error("open-reservations")
CitizenDeleted = app_error("citizen-deleted")
# campaigns (docs/campaigns.md)
UnknownCampaign = app_error("unknown-campaign")
CampaignExists = app_error("campaign-exists")
CampaignEnded = app_error("campaign-ended")
