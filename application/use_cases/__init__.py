"""Use cases: one verb-phrase class per module, awaited with the caller's command."""

from thedata.application.use_cases.check_readiness import CheckReadiness

__all__ = ["CheckReadiness"]
