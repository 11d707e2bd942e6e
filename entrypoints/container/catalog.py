"""The catalog: data sources with their connectors and breakers, and pipelines."""

from __future__ import annotations

from typing import Any, ClassVar
from uuid import UUID

from dependency_injector import providers

from thedata.adapters.connectors import (
    DefaultConnectorFactory,
    NetworkPolicy,
    StaminaRetrying,
    log_transition,
)
from thedata.adapters.observability.metrics import count_breaker_transition
from thedata.adapters.observability.tracing import spans_for
from thedata.application.connector_guard import ConnectorGuard
from thedata.application.use_cases import (
    CancelRun,
    CheckDataSource,
    CreateDataSource,
    CreatePipeline,
    DeleteDataSource,
    DeletePipeline,
    DiscoverStreams,
    EnqueueDueRuns,
    ExecuteRun,
    GetDataSource,
    GetPipeline,
    GetRun,
    Housekeeping,
    ListActiveRuns,
    ListDataSources,
    ListPipelines,
    ListRuns,
    ProbeDataSource,
    ReportWorkerPresence,
    RetryRun,
    RunPipeline,
    RunQueue,
    SweepOrphanSecrets,
    TriggerRun,
    UpdateDataSource,
    UpdatePipeline,
)
from thedata.domain.circuit_breaker import Transition
from thedata.domain.runs import Backoff
from thedata.entrypoints.container.identity import Identity
from thedata.entrypoints.container.infrastructure import Infrastructure
from thedata.entrypoints.container.resources import (
    breaker_settings,
    data_root,
    lease_of,
    ready_queue_wait_of,
    run_retention_of,
)


def breaker_changed(data_source_id: UUID, kind: str, transition: Transition) -> None:
    """Each change of a data source's breaker: a log event and a count."""
    log_transition(data_source_id, kind, transition)
    count_breaker_transition(kind, transition.after.value)


class Catalog(Infrastructure):
    """The data-source and pipeline use cases (creates use the identity policy's limits)."""

    connectors = providers.Singleton(
        DefaultConnectorFactory,
        data_root=providers.Callable(data_root, Infrastructure.settings),
        policy=providers.Factory(
            NetworkPolicy,
            allow_private=Infrastructure.settings.provided.connector_allow_private_networks,
        ),
        timeout=Infrastructure.settings.provided.connector_timeout,
        # the service's own database: never a data source, whatever the network setting
        control_database=Infrastructure.database_url,
    )
    connector_guard = providers.Singleton(
        ConnectorGuard,
        clock=Infrastructure.clock,
        settings=providers.Callable(breaker_settings, Infrastructure.settings),
        timeout=Infrastructure.settings.provided.connector_timeout,
        on_transition=breaker_changed,
    )
    list_data_sources = providers.Factory(ListDataSources, uow=Infrastructure.unit_of_work_factory)
    get_data_source = providers.Factory(GetDataSource, uow=Infrastructure.unit_of_work_factory)
    create_data_source = providers.Factory(
        CreateDataSource,
        uow=Infrastructure.unit_of_work_factory,
        clock=Infrastructure.clock,
        ids=Infrastructure.ids,
        connectors=connectors,
        policy=Identity.identity_policy,
    )
    update_data_source = providers.Factory(
        UpdateDataSource,
        uow=Infrastructure.unit_of_work_factory,
        clock=Infrastructure.clock,
        ids=Infrastructure.ids,
        connectors=connectors,
    )
    delete_data_source = providers.Factory(
        DeleteDataSource, uow=Infrastructure.unit_of_work_factory
    )
    sweep_orphan_secrets = providers.Factory(
        SweepOrphanSecrets,
        uow=Infrastructure.unit_of_work_factory,
        secrets=Infrastructure.secret_store,
        clock=Infrastructure.clock,
    )
    # what every guarded connector call is built with (checks, discoveries, runs' probes)
    _connector_call: ClassVar[dict[str, Any]] = {
        "uow": Infrastructure.unit_of_work_factory,
        "clock": Infrastructure.clock,
        "connectors": connectors,
        "secrets": Infrastructure.secret_store,
        "guard": connector_guard,
    }
    check_data_source = providers.Factory(CheckDataSource, **_connector_call)
    discover_streams = providers.Factory(DiscoverStreams, **_connector_call)
    list_pipelines = providers.Factory(ListPipelines, uow=Infrastructure.unit_of_work_factory)
    get_pipeline = providers.Factory(GetPipeline, uow=Infrastructure.unit_of_work_factory)
    create_pipeline = providers.Factory(
        CreatePipeline,
        uow=Infrastructure.unit_of_work_factory,
        clock=Infrastructure.clock,
        ids=Infrastructure.ids,
        policy=Identity.identity_policy,
    )
    update_pipeline = providers.Factory(
        UpdatePipeline, uow=Infrastructure.unit_of_work_factory, clock=Infrastructure.clock
    )
    delete_pipeline = providers.Factory(DeletePipeline, uow=Infrastructure.unit_of_work_factory)
    trigger_run = providers.Factory(
        TriggerRun,
        uow=Infrastructure.unit_of_work_factory,
        clock=Infrastructure.clock,
        ids=Infrastructure.ids,
        policy=Identity.identity_policy,
        max_attempts=Infrastructure.settings.provided.run_max_attempts,
        metrics=Infrastructure.run_metrics,
    )
    enqueue_due_runs = providers.Factory(
        EnqueueDueRuns,
        uow=Infrastructure.unit_of_work_factory,
        clock=Infrastructure.clock,
        ids=Infrastructure.ids,
        max_attempts=Infrastructure.settings.provided.run_max_attempts,
    )
    housekeeping = providers.Factory(
        Housekeeping,
        uow=Infrastructure.unit_of_work_factory,
        clock=Infrastructure.clock,
        run_retention=providers.Callable(run_retention_of, Infrastructure.settings),
        # the sign-in throttle's own window: a counter is purged only once it counts nothing
        login_window=Identity.identity_policy.provided.login_window,
    )
    report_worker_presence = providers.Factory(
        ReportWorkerPresence, uow=Infrastructure.unit_of_work_factory
    )
    list_runs = providers.Factory(ListRuns, uow=Infrastructure.unit_of_work_factory)
    get_run = providers.Factory(GetRun, uow=Infrastructure.unit_of_work_factory)
    cancel_run = providers.Factory(
        CancelRun,
        uow=Infrastructure.unit_of_work_factory,
        clock=Infrastructure.clock,
        metrics=Infrastructure.run_metrics,
    )
    list_active_runs = providers.Factory(
        ListActiveRuns,
        uow=Infrastructure.unit_of_work_factory,
        queue_wait=providers.Callable(ready_queue_wait_of, Infrastructure.settings),
    )
    retry_run = providers.Factory(
        RetryRun,
        uow=Infrastructure.unit_of_work_factory,
        clock=Infrastructure.clock,
        ids=Infrastructure.ids,
        max_attempts=Infrastructure.settings.provided.run_max_attempts,
        metrics=Infrastructure.run_metrics,
    )
    run_queue = providers.Factory(
        RunQueue,
        uow=Infrastructure.unit_of_work_factory,
        clock=Infrastructure.clock,
        lease=providers.Callable(lease_of, Infrastructure.settings),
        backoff=providers.Object(Backoff()),
    )
    stream_retrying = providers.Singleton(StaminaRetrying)
    execute_run = providers.Factory(
        ExecuteRun,
        uow=Infrastructure.unit_of_work_factory,
        connectors=connectors,
        secrets=Infrastructure.secret_store,
        queue=run_queue,
        batch_rows=Infrastructure.settings.provided.worker_batch_rows,
        retrying=stream_retrying,
        probe=providers.Factory(ProbeDataSource, **_connector_call),
        spans=providers.Singleton(spans_for, Infrastructure.tracer),
        metrics=Infrastructure.run_metrics,
        stall_timeout=Infrastructure.settings.provided.worker_stall_timeout,
    )
    run_pipeline = providers.Factory(
        RunPipeline,
        uow=Infrastructure.unit_of_work_factory,
        connectors=connectors,
        secrets=Infrastructure.secret_store,
        batch_rows=Infrastructure.settings.provided.worker_batch_rows,
        retrying=stream_retrying,
        stall_timeout=Infrastructure.settings.provided.worker_stall_timeout,
    )
