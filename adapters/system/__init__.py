"""Adapters over what the operating system provides (time)."""

from thedata.adapters.system.clock import SystemClock

__all__ = ["SystemClock"]
