"""The ports: what the application needs from the world, as small Protocols.

Adapters implement them without inheriting; ``thedata.adapters`` holds the
implementations and ``thedata.entrypoints.container`` picks them.
"""

from thedata.application.ports.catalog import DataSourceRepository, PipelineRepository
from thedata.application.ports.clock import Clock
from thedata.application.ports.connectors import (
    Connector,
    ConnectorFactory,
    FieldSchema,
    StreamSchema,
    ValidatedConfig,
)
from thedata.application.ports.health import HealthCheck
from thedata.application.ports.idempotency import IdempotencyStore, StoredResponse
from thedata.application.ports.identity import (
    AccessTokenRepository,
    ApiKeyRepository,
    LoginThrottle,
    MembershipRepository,
    OrganizationRepository,
    UserRepository,
)
from thedata.application.ports.ids import IdFactory
from thedata.application.ports.metrics import NoRunMetrics, RunMetrics
from thedata.application.ports.run_arrivals import RunArrivals
from thedata.application.ports.runs import RunBacklog, RunRepository
from thedata.application.ports.secrets import (
    SecretKeyRotation,
    SecretStore,
    SecretWriter,
    StoredSecret,
)
from thedata.application.ports.security import CredentialGenerator, PasswordHasher
from thedata.application.ports.streams import (
    Batch,
    Column,
    DestinationStream,
    Fingerprint,
    FrameFormat,
    Moved,
    Position,
    Progress,
    ReadPlan,
    Retrying,
    Shape,
    StreamFailed,
    StreamReader,
    StreamWriter,
    Superseded,
    WriteMode,
    Written,
)
from thedata.application.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from thedata.application.ports.workers import WorkerRegistry

__all__ = [
    "AccessTokenRepository",
    "ApiKeyRepository",
    "Batch",
    "Clock",
    "Column",
    "Connector",
    "ConnectorFactory",
    "CredentialGenerator",
    "DataSourceRepository",
    "DestinationStream",
    "FieldSchema",
    "Fingerprint",
    "FrameFormat",
    "HealthCheck",
    "IdFactory",
    "IdempotencyStore",
    "LoginThrottle",
    "MembershipRepository",
    "Moved",
    "NoRunMetrics",
    "OrganizationRepository",
    "PasswordHasher",
    "PipelineRepository",
    "Position",
    "Progress",
    "ReadPlan",
    "Retrying",
    "RunArrivals",
    "RunBacklog",
    "RunMetrics",
    "RunRepository",
    "SecretKeyRotation",
    "SecretStore",
    "SecretWriter",
    "Shape",
    "StoredResponse",
    "StoredSecret",
    "StreamFailed",
    "StreamReader",
    "StreamSchema",
    "StreamWriter",
    "Superseded",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "UserRepository",
    "ValidatedConfig",
    "WorkerRegistry",
    "WriteMode",
    "Written",
]
