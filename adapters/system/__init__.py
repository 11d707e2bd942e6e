"""Adapters over what the operating system provides (time, identifiers)."""

from thedata.adapters.system.clock import SystemClock
from thedata.adapters.system.ids import UuidV7IdFactory

__all__ = ["SystemClock", "UuidV7IdFactory"]
