"""What a database client span is named after: the statement's operation and first table."""

from __future__ import annotations

import pytest

from thedata.adapters.postgres.traced_cursor import statement_summary


@pytest.mark.parametrize(
    ("query", "summary"),
    [
        ("SELECT id FROM runs WHERE id = %s", ("SELECT", "runs")),
        ("  insert into pipelines (id) values (%s)", ("INSERT", "pipelines")),
        ("UPDATE runs SET status = %s", ("UPDATE", "runs")),
        ("DELETE FROM secrets WHERE organization_id = %s", ("DELETE", "secrets")),
        ("VACUUM", ("VACUUM", None)),
        (
            "WITH RECURSIVE versions (key_version) AS (SELECT min(key_version) FROM secrets)"
            " SELECT key_version FROM versions",
            ("SELECT", "secrets"),
        ),
        (
            "WITH a AS (SELECT 1), b (x) AS (SELECT (2)) UPDATE runs SET x = (SELECT 1)",
            ("UPDATE", "runs"),
        ),
        (
            "WITH moved AS (DELETE FROM runs RETURNING *) INSERT INTO old SELECT * FROM moved",
            ("INSERT", "runs"),
        ),
        ("", (None, None)),
        ("(SELECT 1)", (None, None)),
        (b"SELECT 1", (None, None)),
    ],
)
def test_a_statement_is_summarised_by_its_operation_and_first_table(
    query: object, summary: tuple[str | None, str | None]
) -> None:
    assert statement_summary(query) == summary
