"""Users in memory."""

from __future__ import annotations

from uuid import UUID

from attrs import evolve

from thedata.adapters.memory.repositories.tables import Tables
from thedata.domain.users import EmailTaken, User


class InMemoryUserRepository:
    """Users by id; the email's uniqueness checked as the database's constraint would."""

    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    def _rows(self) -> dict[UUID, User]:
        return self._tables("users")

    async def add(self, user: User) -> None:
        if any(u.email == user.email for u in self._rows().values()):
            raise EmailTaken("an account with this email exists")
        self._rows()[user.id] = evolve(user)

    async def get(self, user_id: UUID) -> User | None:
        user = self._rows().get(user_id)
        return evolve(user) if user else None

    async def get_by_email(self, email: str) -> User | None:
        found = [u for u in self._rows().values() if u.email == email]
        return evolve(found[0]) if found else None

    async def update(self, user: User) -> None:
        if user.id in self._rows():
            self._rows()[user.id] = evolve(user)
