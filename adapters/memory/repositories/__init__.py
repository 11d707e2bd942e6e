"""Repositories over an in-memory unit of work's working tables."""

from thedata.adapters.memory.repositories.access_tokens import InMemoryAccessTokenRepository
from thedata.adapters.memory.repositories.api_keys import InMemoryApiKeyRepository
from thedata.adapters.memory.repositories.data_sources import InMemoryDataSourceRepository
from thedata.adapters.memory.repositories.idempotency import InMemoryIdempotencyStore
from thedata.adapters.memory.repositories.login_throttle import InMemoryLoginThrottle
from thedata.adapters.memory.repositories.memberships import InMemoryMembershipRepository
from thedata.adapters.memory.repositories.organizations import InMemoryOrganizationRepository
from thedata.adapters.memory.repositories.pipelines import InMemoryPipelineRepository
from thedata.adapters.memory.repositories.runs import InMemoryRunRepository
from thedata.adapters.memory.repositories.secrets import InMemorySecretStore, InMemorySecretWriter
from thedata.adapters.memory.repositories.users import InMemoryUserRepository
from thedata.adapters.memory.repositories.workers import InMemoryWorkerRegistry

__all__ = [
    "InMemoryAccessTokenRepository",
    "InMemoryApiKeyRepository",
    "InMemoryDataSourceRepository",
    "InMemoryIdempotencyStore",
    "InMemoryLoginThrottle",
    "InMemoryMembershipRepository",
    "InMemoryOrganizationRepository",
    "InMemoryPipelineRepository",
    "InMemoryRunRepository",
    "InMemorySecretStore",
    "InMemorySecretWriter",
    "InMemoryUserRepository",
    "InMemoryWorkerRegistry",
]
