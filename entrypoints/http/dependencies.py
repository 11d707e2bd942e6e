"""Typed bridges from the container on ``app.state`` to handler parameters."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol, TypeAlias, TypeVar

from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import SkipValidation

from thedata.application.use_cases import (
    AddMember,
    Authenticate,
    CancelRun,
    ChangeMemberRole,
    CheckDataSource,
    CheckReadiness,
    CreateApiKey,
    CreateDataSource,
    CreateOrganization,
    CreatePipeline,
    DeleteDataSource,
    DeleteOrganization,
    DeletePipeline,
    DiscoverStreams,
    GetCurrentUser,
    GetDataSource,
    GetOrganization,
    GetPipeline,
    GetRun,
    IssueAccessToken,
    ListApiKeys,
    ListDataSources,
    ListMembers,
    ListOrganizations,
    ListPipelines,
    ListRuns,
    RegisterUser,
    RemoveMember,
    RevokeAccessToken,
    RevokeApiKey,
    TriggerRun,
    UpdateCurrentUser,
    UpdateDataSource,
    UpdateOrganization,
    UpdatePipeline,
)
from thedata.entrypoints.config import Settings
from thedata.entrypoints.resolve import resolve

T = TypeVar("T")

Injected: TypeAlias = NamedDependency[SkipValidation[T]]
"""A handler's parameter that Litestar injects by name and hands over as is. What we
inject (the caller, use cases) is ours, not the client's: validating it against its type
cost every request a call back into Python per parameter."""


class ServiceContainer(Protocol):
    """What the HTTP edge needs of the composition root (kept free of dependency_injector).

    Each member is a provider: calling it builds the named thing. Providers
    downstream of an async resource (the database pool) hand out an awaitable
    of it instead, which ``resolve`` awaits; their declared type is what they
    build, as dependency_injector's own stubs declare it.
    """

    # lifecycle and cross-cutting
    def settings(self) -> Settings: ...
    def migrator(self) -> Any: ...
    def init_resources(self) -> Any: ...  # an awaitable: opens pools and servers
    def shutdown_resources(self) -> Any: ...  # an awaitable: closes what init opened
    def check_readiness(self) -> CheckReadiness: ...
    def tracer(self) -> Any: ...  # an OpenTelemetry tracer, or None when not tracing
    def authenticate(self) -> Authenticate: ...

    # accounts
    def register_user(self) -> RegisterUser: ...
    def issue_access_token(self) -> IssueAccessToken: ...
    def revoke_access_token(self) -> RevokeAccessToken: ...
    def get_current_user(self) -> GetCurrentUser: ...
    def update_current_user(self) -> UpdateCurrentUser: ...

    # organizations, members, API keys
    def list_organizations(self) -> ListOrganizations: ...
    def create_organization(self) -> CreateOrganization: ...
    def get_organization(self) -> GetOrganization: ...
    def update_organization(self) -> UpdateOrganization: ...
    def delete_organization(self) -> DeleteOrganization: ...
    def list_members(self) -> ListMembers: ...
    def add_member(self) -> AddMember: ...
    def change_member_role(self) -> ChangeMemberRole: ...
    def remove_member(self) -> RemoveMember: ...
    def list_api_keys(self) -> ListApiKeys: ...
    def create_api_key(self) -> CreateApiKey: ...
    def revoke_api_key(self) -> RevokeApiKey: ...

    # catalog
    def list_data_sources(self) -> ListDataSources: ...
    def create_data_source(self) -> CreateDataSource: ...
    def get_data_source(self) -> GetDataSource: ...
    def update_data_source(self) -> UpdateDataSource: ...
    def delete_data_source(self) -> DeleteDataSource: ...
    def check_data_source(self) -> CheckDataSource: ...
    def discover_streams(self) -> DiscoverStreams: ...
    def list_pipelines(self) -> ListPipelines: ...
    def create_pipeline(self) -> CreatePipeline: ...
    def get_pipeline(self) -> GetPipeline: ...
    def update_pipeline(self) -> UpdatePipeline: ...
    def delete_pipeline(self) -> DeletePipeline: ...

    # runs
    def trigger_run(self) -> TriggerRun: ...
    def list_runs(self) -> ListRuns: ...
    def get_run(self) -> GetRun: ...
    def cancel_run(self) -> CancelRun: ...


def container_of(state: State) -> ServiceContainer:
    """The container the plugin put on the application state."""
    container: ServiceContainer = state["container"]
    return container


async def built(state: State, select: Callable[[ServiceContainer], Callable[[], T]]) -> T:
    """What the container's provider ``select`` picks makes, built once per application.

    Use cases hold their collaborators only (a unit-of-work factory, a clock,
    a policy), never a request's state, so one instance serves every request:
    resolving the container per request cost more than many a handler.

    The first build runs as a task of its own, shielded from the request that asked for
    it: a request cancelled midway (its client hung up) would cancel the container's own
    futures under it, which asyncio then reports as an error, and leave nothing built.
    """
    cache: dict[Any, Any] = state.setdefault("built", {})
    found = cache.get(select)
    if found is None:
        building: dict[Any, asyncio.Future[Any]] = state.setdefault("building", {})
        task = building.get(select)
        if task is None:
            task = building[select] = asyncio.ensure_future(resolve(select(container_of(state))))
            task.add_done_callback(lambda _: building.pop(select, None))
        found = cache[select] = await asyncio.shield(task)
    made: T = found
    return made


def use_case(select: Callable[[ServiceContainer], Callable[[], T]]) -> Provide:
    """A Litestar dependency handing a request the use case ``select`` picks.

    ``select`` reads one provider of the container, ``lambda c: c.create_pipeline``:
    typed against ``ServiceContainer``, a misspelt or missing use case fails
    mypy rather than a request. The container decides which adapters it gets.
    """

    async def provide(state: State) -> T:
        return await built(state, select)

    return Provide(provide)
