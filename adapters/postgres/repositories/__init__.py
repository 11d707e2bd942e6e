"""Repositories over one transaction's connection; SQL written by hand and kept readable."""

from thedata.adapters.postgres.repositories.access_tokens import PostgresAccessTokenRepository
from thedata.adapters.postgres.repositories.api_keys import PostgresApiKeyRepository
from thedata.adapters.postgres.repositories.data_sources import PostgresDataSourceRepository
from thedata.adapters.postgres.repositories.idempotency import PostgresIdempotencyStore
from thedata.adapters.postgres.repositories.login_throttle import PostgresLoginThrottle
from thedata.adapters.postgres.repositories.memberships import PostgresMembershipRepository
from thedata.adapters.postgres.repositories.organizations import (
    PostgresOrganizationRepository,
)
from thedata.adapters.postgres.repositories.pipelines import PostgresPipelineRepository
from thedata.adapters.postgres.repositories.runs import PostgresRunRepository
from thedata.adapters.postgres.repositories.users import PostgresUserRepository
from thedata.adapters.postgres.repositories.workers import PostgresWorkerRegistry

__all__ = [
    "PostgresAccessTokenRepository",
    "PostgresApiKeyRepository",
    "PostgresDataSourceRepository",
    "PostgresIdempotencyStore",
    "PostgresLoginThrottle",
    "PostgresMembershipRepository",
    "PostgresOrganizationRepository",
    "PostgresPipelineRepository",
    "PostgresRunRepository",
    "PostgresUserRepository",
    "PostgresWorkerRegistry",
]
