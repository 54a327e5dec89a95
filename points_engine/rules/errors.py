"""Errors of the rules package: bad configuration or a corrupt stored state, never a decision."""

from __future__ import annotations

from points_engine.errors import EngineError


class InvalidPolicy(EngineError):
    code = "invalid-policy"


class InvalidRulesState(EngineError):
    code = "invalid-rules-state"
