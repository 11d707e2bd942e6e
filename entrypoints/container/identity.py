"""Identity and tenancy: accounts, tokens, organizations, members, API keys."""

from __future__ import annotations

from datetime import timedelta

from dependency_injector import providers

from thedata.adapters.security import Argon2PasswordHasher, SecureCredentialGenerator
from thedata.application.identity_policy import IdentityPolicy
from thedata.application.use_cases import (
    AddMember,
    Authenticate,
    ChangeMemberRole,
    CreateApiKey,
    CreateOrganization,
    DeleteOrganization,
    GetCurrentUser,
    GetOrganization,
    IssueAccessToken,
    ListApiKeys,
    ListMembers,
    ListOrganizations,
    RegisterUser,
    RemoveMember,
    RevokeAccessToken,
    RevokeApiKey,
    UpdateCurrentUser,
    UpdateOrganization,
)
from thedata.entrypoints.config import Settings
from thedata.entrypoints.container.infrastructure import Infrastructure


def identity_policy(settings: Settings) -> IdentityPolicy:
    """The identity rules' limits, from the settings."""
    return IdentityPolicy(
        allow_signup=settings.allow_signup,
        access_token_ttl=timedelta(seconds=settings.access_token_ttl),
        login_attempt_limit=settings.login_attempt_limit,
        login_account_limit=settings.login_account_limit,
        login_address_limit=settings.login_address_limit,
        login_window=timedelta(seconds=settings.login_window),
    )


class Identity(Infrastructure):
    """The identity use cases."""

    password_hasher = providers.Singleton(
        Argon2PasswordHasher,
        memory_kib=Infrastructure.settings.provided.password_hash_memory_kib,
        iterations=Infrastructure.settings.provided.password_hash_iterations,
    )
    credentials = providers.Singleton(SecureCredentialGenerator)
    identity_policy = providers.Singleton(identity_policy, Infrastructure.settings)

    authenticate = providers.Factory(
        Authenticate,
        uow=Infrastructure.unit_of_work_factory,
        clock=Infrastructure.clock,
        policy=identity_policy,
    )
    register_user = providers.Factory(
        RegisterUser,
        uow=Infrastructure.unit_of_work_factory,
        clock=Infrastructure.clock,
        ids=Infrastructure.ids,
        hasher=password_hasher,
        credentials=credentials,
        policy=identity_policy,
    )
    issue_access_token = providers.Factory(
        IssueAccessToken,
        uow=Infrastructure.unit_of_work_factory,
        clock=Infrastructure.clock,
        hasher=password_hasher,
        credentials=credentials,
        policy=identity_policy,
    )
    revoke_access_token = providers.Factory(
        RevokeAccessToken, uow=Infrastructure.unit_of_work_factory
    )
    get_current_user = providers.Factory(GetCurrentUser, uow=Infrastructure.unit_of_work_factory)
    update_current_user = providers.Factory(
        UpdateCurrentUser,
        uow=Infrastructure.unit_of_work_factory,
        clock=Infrastructure.clock,
        hasher=password_hasher,
        policy=identity_policy,
    )
    list_organizations = providers.Factory(
        ListOrganizations, uow=Infrastructure.unit_of_work_factory
    )
    create_organization = providers.Factory(
        CreateOrganization,
        uow=Infrastructure.unit_of_work_factory,
        clock=Infrastructure.clock,
        ids=Infrastructure.ids,
        policy=identity_policy,
    )
    get_organization = providers.Factory(GetOrganization, uow=Infrastructure.unit_of_work_factory)
    update_organization = providers.Factory(
        UpdateOrganization, uow=Infrastructure.unit_of_work_factory, clock=Infrastructure.clock
    )
    delete_organization = providers.Factory(
        DeleteOrganization, uow=Infrastructure.unit_of_work_factory
    )
    list_members = providers.Factory(ListMembers, uow=Infrastructure.unit_of_work_factory)
    add_member = providers.Factory(
        AddMember,
        uow=Infrastructure.unit_of_work_factory,
        clock=Infrastructure.clock,
        policy=identity_policy,
    )
    change_member_role = providers.Factory(
        ChangeMemberRole, uow=Infrastructure.unit_of_work_factory
    )
    remove_member = providers.Factory(RemoveMember, uow=Infrastructure.unit_of_work_factory)
    list_api_keys = providers.Factory(
        ListApiKeys, uow=Infrastructure.unit_of_work_factory, clock=Infrastructure.clock
    )
    create_api_key = providers.Factory(
        CreateApiKey,
        uow=Infrastructure.unit_of_work_factory,
        clock=Infrastructure.clock,
        ids=Infrastructure.ids,
        credentials=credentials,
        policy=identity_policy,
    )
    revoke_api_key = providers.Factory(RevokeApiKey, uow=Infrastructure.unit_of_work_factory)
