"""SQLModel tables. Import this package to register every table on ``SQLModel.metadata``."""

from backend.models.actions import AcceptedAction
from backend.models.audit import AuditRecord
from backend.models.campaigns import CampaignGrant, CampaignRecord, CampaignWatermark
from backend.models.certification import (
    CertificationBook,
    CertificationRun,
    CreditRange,
    PilotTarget,
    RegistryAccount,
    Review,
    RunChunk,
    RunWatermark,
)
from backend.models.citizens import Binding, Citizen
from backend.models.merchants import Merchant, MerchantStaff, Offer, Reservation
from backend.models.partners import Partner, PartnerKey
from backend.models.settlement import (
    LedgerBalance,
    LedgerTransaction,
    PublishedMethodology,
    SettledOutcome,
    SettlementCursor,
    SettlementPartition,
    SettlementWorker,
    WebhookDelivery,
)

__all__ = [
    "AcceptedAction",
    "AuditRecord",
    "Binding",
    "CampaignGrant",
    "CampaignRecord",
    "CampaignWatermark",
    "CertificationBook",
    "CertificationRun",
    "Citizen",
    "CreditRange",
    "LedgerBalance",
    "LedgerTransaction",
    "Merchant",
    "MerchantStaff",
    "Offer",
    "Partner",
    "PartnerKey",
    "PilotTarget",
    "PublishedMethodology",
    "RegistryAccount",
    "Reservation",
    "Review",
    "RunChunk",
    "RunWatermark",
    "SettledOutcome",
    "SettlementCursor",
    "SettlementPartition",
    "SettlementWorker",
    "WebhookDelivery",
]
