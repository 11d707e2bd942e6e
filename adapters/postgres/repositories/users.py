"""Users in PostgreSQL."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import errors

from thedata.adapters.postgres.repositories.connection import ConnectionSource
from thedata.domain.users import EmailTaken, User

_SELECT = "SELECT id, email, name, password_hash, created_at, updated_at FROM users"


def _user(row: tuple[Any, ...]) -> User:
    return User(*row)


class PostgresUserRepository:
    """The ``users`` table; the email's uniqueness is the table's constraint."""

    def __init__(self, connection: ConnectionSource) -> None:
        self._connection = connection

    async def add(self, user: User) -> None:
        try:
            await self._connection().execute(
                "INSERT INTO users (id, email, name, password_hash, created_at, updated_at)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                (
                    user.id,
                    user.email,
                    user.name,
                    user.password_hash,
                    user.created_at,
                    user.updated_at,
                ),
            )
        except errors.UniqueViolation as error:
            raise EmailTaken("an account with this email exists") from error

    async def get(self, user_id: UUID) -> User | None:
        cursor = await self._connection().execute(_SELECT + " WHERE id = %s", (user_id,))
        row = await cursor.fetchone()
        return _user(row) if row else None

    async def get_by_email(self, email: str) -> User | None:
        cursor = await self._connection().execute(_SELECT + " WHERE email = %s", (email,))
        row = await cursor.fetchone()
        return _user(row) if row else None

    async def update(self, user: User) -> None:
        await self._connection().execute(
            "UPDATE users SET name = %s, password_hash = %s, updated_at = %s WHERE id = %s",
            (user.name, user.password_hash, user.updated_at, user.id),
        )
