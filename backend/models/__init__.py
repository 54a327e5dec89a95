"""SQLModel tables. Import this package to register every table on ``SQLModel.metadata``."""

from backend.models.actions import AcceptedAction
from backend.models.citizens import Binding, Citizen
from backend.models.partners import Partner, PartnerKey

__all__ = ["AcceptedAction", "Binding", "Citizen", "Partner", "PartnerKey"]
