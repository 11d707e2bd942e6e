"""The ports: what the application needs from the world, as small Protocols.

Adapters implement them without inheriting; ``thedata.adapters`` holds the
implementations and ``thedata.entrypoints.container`` picks them.
"""

from thedata.application.ports.clock import Clock
from thedata.application.ports.health import HealthCheck
from thedata.application.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory

__all__ = ["Clock", "HealthCheck", "UnitOfWork", "UnitOfWorkFactory"]
