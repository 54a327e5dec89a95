"""Wire models of the citizen's privacy routes (the export's document is described in docs/privacy.md)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class DeletionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    citizen_id: str
    deleted_at: datetime
    forfeited_points: int = Field(description="available points forfeited (to expiry:shantou)")
    pending_points: int = Field(
        description="pending points left in the deleted account: certification may still move them"
    )
    bindings: int = Field(description="partner user ids replaced by pseudonyms, their consent withdrawn")
    actions: int = Field(description="accepted actions whose partner user id was replaced by its pseudonym")
