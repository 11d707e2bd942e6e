"""The identity use cases wired on one store, for unit and contract tests without HTTP."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID

from attrs import define, field

from thedata.adapters.memory import InMemoryStore, InMemoryUnitOfWork
from thedata.adapters.security import Argon2PasswordHasher, SecureCredentialGenerator
from thedata.adapters.system import UuidV7IdFactory
from thedata.application.identity_policy import IdentityPolicy
from thedata.application.ports import UnitOfWork
from thedata.application.use_cases import (
    AddMember,
    Authenticate,
    ChangeMemberRole,
    CreateApiKey,
    CreateOrganization,
    IssueAccessToken,
    NewMember,
    NewOrganization,
    RegisterUser,
    RemoveMember,
)
from thedata.domain.access import Role
from thedata.domain.organizations import OrganizationWithRole
from thedata.domain.principal import Principal

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PASSWORD = "correct horse battery staple"


@define
class ManualClock:
    """A clock that moves only when the test says so."""

    current: datetime = T0

    def now(self) -> datetime:
        return self.current

    def monotonic(self) -> float:
        return (self.current - T0).total_seconds()

    def advance(self, delta: timedelta) -> None:
        self.current += delta


def cheap_hasher() -> Argon2PasswordHasher:
    """Real Argon2id at the smallest parameters: the same code path, a fraction of the cost."""
    return Argon2PasswordHasher(memory_kib=8, iterations=1)


@define
class Identity:
    """Every identity use case on the same unit-of-work factory, clock and policy."""

    uow: Callable[[], UnitOfWork]
    clock: ManualClock = field(factory=ManualClock)
    policy: IdentityPolicy = field(factory=IdentityPolicy)
    hasher: Argon2PasswordHasher = field(factory=cheap_hasher)
    tokens: dict[UUID, str] = field(factory=dict)
    """The access token of each user signed in through ``user``, to sign in again with."""

    @classmethod
    def in_memory(cls, **kwargs: object) -> Identity:
        """The use cases on a fresh in-memory store."""
        store = InMemoryStore()
        return cls(lambda: InMemoryUnitOfWork(store), **kwargs)  # type: ignore[arg-type]

    @property
    def register(self) -> RegisterUser:
        return RegisterUser(
            self.uow,
            self.clock,
            UuidV7IdFactory(),
            self.hasher,
            SecureCredentialGenerator(),
            self.policy,
        )

    @property
    def sign_in(self) -> IssueAccessToken:
        return IssueAccessToken(
            self.uow, self.clock, self.hasher, SecureCredentialGenerator(), self.policy
        )

    @property
    def authenticate(self) -> Authenticate:
        return Authenticate(self.uow, self.clock, self.policy)

    @property
    def create_organization(self) -> CreateOrganization:
        return CreateOrganization(self.uow, self.clock, UuidV7IdFactory(), self.policy)

    @property
    def add_member(self) -> AddMember:
        return AddMember(self.uow, self.clock, self.policy)

    @property
    def change_role(self) -> ChangeMemberRole:
        return ChangeMemberRole(self.uow)

    @property
    def remove_member(self) -> RemoveMember:
        return RemoveMember(self.uow)

    @property
    def create_api_key(self) -> CreateApiKey:
        return CreateApiKey(
            self.uow, self.clock, UuidV7IdFactory(), SecureCredentialGenerator(), self.policy
        )

    async def user(self, email: str) -> Principal:
        """A registered user, signed in."""
        registration = await self.register(email, PASSWORD, email.split("@")[0])
        self.tokens[registration.user.id] = registration.access_token
        return await self.authenticate(registration.access_token)

    async def now(self, principal: Principal) -> Principal:
        """The user as a new request would see them, with their memberships as they are now."""
        return await self.authenticate(self.tokens[principal.id])

    async def organization(self, owner: Principal, name: str = "Acme") -> tuple[UUID, Principal]:
        """A new organization of ``owner``, and the owner as a new request sees them."""
        created = await self.create_organization(owner, NewOrganization(name))
        assert isinstance(created, OrganizationWithRole)
        return created.organization.id, await self.now(owner)

    async def member(self, org: UUID, admin: Principal, email: str, role: Role) -> Principal:
        """A new user added to ``org`` with ``role`` by ``admin``, signed in."""
        user = await self.user(email)
        await self.add_member(admin, org, NewMember(email, role))
        return await self.now(user)
