"""In-memory implementations of the ports: fast unit tests, and a library with no database."""

from thedata.adapters.memory.connectors import FakeConnector, FakeConnectorFactory
from thedata.adapters.memory.repositories import InMemorySecretStore
from thedata.adapters.memory.store import InMemoryStore
from thedata.adapters.memory.unit_of_work import InMemoryUnitOfWork

__all__ = [
    "FakeConnector",
    "FakeConnectorFactory",
    "InMemorySecretStore",
    "InMemoryStore",
    "InMemoryUnitOfWork",
]
