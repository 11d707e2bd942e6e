"""Use cases: one verb-phrase class per module, awaited with the caller's command."""

from thedata.application.use_cases.add_member import AddMember, NewMember
from thedata.application.use_cases.authenticate import Authenticate
from thedata.application.use_cases.cancel_run import CancelRun
from thedata.application.use_cases.change_member_role import ChangeMemberRole
from thedata.application.use_cases.check_data_source import (
    CheckDataSource,
    CheckOutcome,
    DiscoverStreams,
    ProbeDataSource,
)
from thedata.application.use_cases.check_readiness import CheckReadiness
from thedata.application.use_cases.create_api_key import CreateApiKey, CreatedApiKey, NewApiKey
from thedata.application.use_cases.create_data_source import CreateDataSource, NewDataSource
from thedata.application.use_cases.create_organization import (
    CreateOrganization,
    NewOrganization,
)
from thedata.application.use_cases.create_pipeline import CreatePipeline, NewPipeline
from thedata.application.use_cases.delete_data_source import DeleteDataSource
from thedata.application.use_cases.delete_organization import DeleteOrganization
from thedata.application.use_cases.delete_pipeline import DeletePipeline
from thedata.application.use_cases.enqueue_due_runs import EnqueueDueRuns
from thedata.application.use_cases.execute_run import ExecuteRun
from thedata.application.use_cases.get_current_user import GetCurrentUser, UserProfile
from thedata.application.use_cases.get_data_source import GetDataSource, ListDataSources
from thedata.application.use_cases.get_organization import GetOrganization
from thedata.application.use_cases.get_pipeline import GetPipeline, ListPipelines
from thedata.application.use_cases.get_run import GetRun, ListRuns
from thedata.application.use_cases.housekeeping import Housekeeping, Purged
from thedata.application.use_cases.issue_access_token import IssueAccessToken, IssuedToken
from thedata.application.use_cases.list_active_runs import ActiveRun, ActiveRuns, ListActiveRuns
from thedata.application.use_cases.list_api_keys import ListApiKeys
from thedata.application.use_cases.list_members import ListMembers
from thedata.application.use_cases.list_organizations import ListOrganizations
from thedata.application.use_cases.register_user import RegisterUser, Registration
from thedata.application.use_cases.remove_member import RemoveMember
from thedata.application.use_cases.retry_run import RetryRun
from thedata.application.use_cases.revoke_access_token import RevokeAccessToken
from thedata.application.use_cases.revoke_api_key import RevokeApiKey
from thedata.application.use_cases.rotate_secret_key import RotateSecretKey, RotationReport
from thedata.application.use_cases.run_pipeline import PipelineOutcome, RunPipeline
from thedata.application.use_cases.run_queue import QueueBacklog, RunQueue
from thedata.application.use_cases.sweep_orphan_secrets import SweepOrphanSecrets
from thedata.application.use_cases.trigger_run import TriggerRun
from thedata.application.use_cases.update_current_user import UpdateCurrentUser, UserChanges
from thedata.application.use_cases.update_data_source import (
    DataSourceChanges,
    UpdateDataSource,
)
from thedata.application.use_cases.update_organization import (
    OrganizationChanges,
    UpdateOrganization,
)
from thedata.application.use_cases.update_pipeline import KEEP, PipelineChanges, UpdatePipeline
from thedata.application.use_cases.worker_presence import (
    ListWorkers,
    ReportWorkerPresence,
    WorkersSeen,
)

__all__ = [
    "KEEP",
    "ActiveRun",
    "ActiveRuns",
    "AddMember",
    "Authenticate",
    "CancelRun",
    "ChangeMemberRole",
    "CheckDataSource",
    "CheckOutcome",
    "CheckReadiness",
    "CreateApiKey",
    "CreateDataSource",
    "CreateOrganization",
    "CreatePipeline",
    "CreatedApiKey",
    "DataSourceChanges",
    "DeleteDataSource",
    "DeleteOrganization",
    "DeletePipeline",
    "DiscoverStreams",
    "EnqueueDueRuns",
    "ExecuteRun",
    "GetCurrentUser",
    "GetDataSource",
    "GetOrganization",
    "GetPipeline",
    "GetRun",
    "Housekeeping",
    "IssueAccessToken",
    "IssuedToken",
    "ListActiveRuns",
    "ListApiKeys",
    "ListDataSources",
    "ListMembers",
    "ListOrganizations",
    "ListPipelines",
    "ListRuns",
    "ListWorkers",
    "NewApiKey",
    "NewDataSource",
    "NewMember",
    "NewOrganization",
    "NewPipeline",
    "OrganizationChanges",
    "PipelineChanges",
    "PipelineOutcome",
    "ProbeDataSource",
    "Purged",
    "QueueBacklog",
    "RegisterUser",
    "Registration",
    "RemoveMember",
    "ReportWorkerPresence",
    "RetryRun",
    "RevokeAccessToken",
    "RevokeApiKey",
    "RotateSecretKey",
    "RotationReport",
    "RunPipeline",
    "RunQueue",
    "SweepOrphanSecrets",
    "TriggerRun",
    "UpdateCurrentUser",
    "UpdateDataSource",
    "UpdateOrganization",
    "UpdatePipeline",
    "UserChanges",
    "UserProfile",
    "WorkersSeen",
]
