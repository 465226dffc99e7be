"""`StageTimer`, kept importable here; it lives on the ground floor (`perfopt.stage_timer`)."""

from __future__ import annotations

from perfopt.stage_timer import StageTimer

__all__ = ["StageTimer"]
