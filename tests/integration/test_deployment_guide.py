"""docs/deployment.md as an operator follows it: every ``sh`` and ``sql`` block of the page
is run here (or in test_container_image.py) against real PostgreSQL servers and real
``thedata`` processes.

The page's blocks are taken from the page itself, each found by the ``<!-- test: name -->``
marker before it, and changed only by simple substitution: ``/srv/thedata`` becomes a
folder of the test, the page's role and database names get a suffix of this run (roles
belong to the whole server, which other tests and runs share), the page's port becomes a
free one. Connection URLs come in through the variables the page names (``ADMIN_URL``,
``OWNER_DATABASE_URL``, ``THEDATA_DATABASE_URL``), which win over the ``.env`` file.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import textwrap
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from attrs import frozen
from psycopg import sql
from psycopg.conninfo import make_conninfo

from tests.conftest import free_port, make_settings, tcp_endpoint
from tests.e2e.conftest import CHEAP_HASHING
from tests.integration.test_cli import ROOT, stop, wait_ready
from tests.postgres_tools import programs_path
from thedata.application.use_cases import NewDataSource, NewOrganization, NewPipeline
from thedata.domain.data_sources import DataSourceKind
from thedata.domain.pipelines import Stream, StreamMode
from thedata.entrypoints.container import build_container, started
from thedata.entrypoints.resolve import resolve

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

PAGE = ROOT / "docs" / "deployment.md"
THIS_RUN = uuid.uuid4().hex[:8]
# the page's names, and what they stand for in this test run
CONTROL_NAMES = {
    "thedata_owner": f"thedata_owner_{THIS_RUN}",
    "thedata_app": f"thedata_app_{THIS_RUN}",
    "thedata": f"thedata_guide_{THIS_RUN}",
}
PAGE_HOME = "/srv/thedata"
PAGE_PORT = "127.0.0.1:8000"
# the virtualenv's `thedata`, the test server's psql and pg_dump, the system's openssl, curl, jq
PATH = programs_path()

_MARKED = re.compile(
    r"^(?P<indent>[ \t]*)<!-- test: (?P<name>[a-z0-9-]+) -->\n"
    r"(?P=indent)```(?P<lang>sh|sql)\n(?P<body>.*?)\n(?P=indent)```$",
    re.MULTILINE | re.DOTALL,
)
_FENCE = re.compile(r"^[ \t]*```(sh|sql)$", re.MULTILINE)


def page_blocks() -> dict[str, str]:
    """The page's marked ``sh`` and ``sql`` blocks by name, unindented."""
    found: dict[str, str] = {}
    for match in _MARKED.finditer(PAGE.read_text()):
        assert match["name"] not in found, f"two blocks are named {match['name']!r}"
        found[match["name"]] = textwrap.dedent(
            "\n".join(line.removeprefix(match["indent"]) for line in match["body"].splitlines())
        )
    return found


def block(name: str) -> str:
    """The page's block ``name``, as written."""
    blocks = page_blocks()
    assert name in blocks, f"docs/deployment.md lost its {name!r} block"
    return blocks[name]


def text_after(name: str) -> str:
    """The ``text`` block (an output) right after block ``name``."""
    section = PAGE.read_text().split(f"<!-- test: {name} -->", 1)[1]
    match = re.search(r"```text\n(.*?)\n\s*```", section, re.DOTALL)
    assert match, f"no output shown after {name!r}"
    return textwrap.dedent(match.group(1))


def renamed(text: str, names: Mapping[str, str]) -> str:
    """``text`` with each whole-word name of ``names`` replaced (never inside a longer name)."""
    for name in names:
        assert re.search(rf"\b{name}\b", text), f"the block no longer names {name!r}"
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, names)) + r")\b")
    return pattern.sub(lambda m: names[m.group(1)], text)


def at_home(text: str, home: Path) -> str:
    """A shell block with the page's /srv/thedata moved into the test's folder."""
    return text.replace(PAGE_HOME, str(home))


def shell(
    text: str, cwd: Path, env: Mapping[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``text`` run by bash as a script (stopping at the first failing command)."""
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", text],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"{text}\n{result.stdout}\n{result.stderr}"
    return result


def base_env(**variables: str) -> dict[str, str]:
    """No THEDATA_* setting of the caller's: the page's .env and ``variables`` only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("THEDATA_", "PG"))}
    env["PATH"] = PATH
    env.update(variables)
    return env


@frozen
class Control:
    """A control database made by the page's SQL: its URLs as the owner and as the service."""

    admin_url: str
    owner_url: str
    app_url: str
    names: dict[str, str]


@contextmanager
def control_database(server_url: str, cwd: Path) -> Iterator[Control]:
    """The page's control-roles.sql and control-database.sql, run by its create-roles
    command; the database and the roles are dropped afterwards (roles are the server's)."""
    (cwd / "control-roles.sql").write_text(renamed(block("control-roles"), CONTROL_NAMES))
    (cwd / "control-database.sql").write_text(renamed(block("control-database"), CONTROL_NAMES))
    names = dict(CONTROL_NAMES)
    # the admin connects to the server's maintenance database, as the page's ADMIN_URL does
    admin_url = make_conninfo(server_url, dbname="postgres")
    try:
        shell(block("create-roles"), cwd, base_env(ADMIN_URL=admin_url))
        database = names["thedata"]
        yield Control(
            admin_url,
            make_conninfo(server_url, dbname=database, user=names["thedata_owner"]),
            make_conninfo(server_url, dbname=database, user=names["thedata_app"]),
            names,
        )
    finally:
        drop(server_url, databases=[names["thedata"], f"{names['thedata']}_restored"])
        drop(server_url, roles=[names["thedata_app"], names["thedata_owner"]])


def drop(server_url: str, databases: Sequence[str] = (), roles: Sequence[str] = ()) -> None:
    """Drop ``databases`` (connections and all), then ``roles``, if they exist."""
    with psycopg.connect(server_url, autocommit=True) as connection:
        for database in databases:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
            )
        for role in roles:
            connection.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """The page's /srv/thedata: its .env, and a key ring made by its first-key block (whose
    `thedata config check` prints what the page shows)."""
    folder = tmp_path / "srv"
    folder.mkdir()
    (folder / ".env").write_text(at_home(block("env-file"), folder) + "\n")
    (folder / ".env").chmod(0o600)
    checked = shell(at_home(block("first-key"), folder), tmp_path, base_env())
    assert checked.stdout.strip() == text_after("first-key").strip()
    assert (folder / "secret-keys").stat().st_mode & 0o777 == 0o600
    return folder


def test_every_command_of_the_page_is_run_by_a_test() -> None:
    """Each ``sh`` and ``sql`` block of the page is marked, and its marker is one these
    tests (or the image test) take the block by: a new example cannot go untested."""
    page = PAGE.read_text()
    blocks = page_blocks()
    assert len(_FENCE.findall(page)) == len(blocks), "a sh or sql block has no test marker"
    tests = (
        Path(__file__).read_text() + (Path(__file__).parent / "test_container_image.py").read_text()
    )
    used = set(re.findall(r"""block\(\s*["']([a-z0-9-]+)["']""", tests))
    assert set(blocks) == used


def test_the_configuration_checks_as_the_page_shows(home: Path) -> None:
    """The .env and the first key pass `thedata config check` without a database (the
    ``home`` fixture runs them and compares the output with the page's)."""
    assert "THEDATA_MIGRATE_ON_START=false" in (home / ".env").read_text()


def start(line: str, home: Path, env: Mapping[str, str]) -> subprocess.Popen[str]:
    """One long-running command of the page, as its own process (bash replaced by it)."""
    return subprocess.Popen(
        ["bash", "-c", f"cd {home} && exec {line}"],
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def commands(text: str) -> list[str]:
    """The commands of a block, one a line, without the ``cd`` line and comments."""
    lines = [line.split("  #", 1)[0].strip() for line in text.splitlines()]
    return [line for line in lines if line and not line.startswith(("#", "cd "))]


def call(
    method: str, url: str, body: Mapping[str, Any] | None = None, token: str | None = None
) -> tuple[int, Any]:
    """One JSON request to the test's own server; its status and decoded body."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(  # noqa: S310 - the test's own loopback server
        url,
        data=json.dumps(body).encode() if body is not None else None,
        headers=headers,
        method=method,
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def wait_live(base: str, process: subprocess.Popen[str]) -> None:
    """Until /health/live answers (readiness may rightly fail)."""
    wait_ready(base, process, probe="/health/live")


def test_the_service_runs_as_a_role_that_cannot_change_the_schema(
    postgres_server_url: str, home: Path, tmp_path: Path
) -> None:
    """The page's roles on a fresh database: `thedata migrate` as the owner, then the API
    (`serve --no-worker --workers 2`) and a worker as the service role, which can neither
    create a table nor use a temporary one; the README's first run goes through them."""
    with control_database(postgres_server_url, tmp_path) as control:
        port = free_port()
        env = base_env(
            ADMIN_URL=control.admin_url,
            OWNER_DATABASE_URL=control.owner_url,
            THEDATA_DATABASE_URL=control.app_url,
            THEDATA_HOST="127.0.0.1",  # the page binds every interface; a test, loopback only
            THEDATA_PORT=str(port),
        )
        migrated = shell(at_home(block("migrate"), home), tmp_path, env)
        assert "applied 0001_identity.sql" in migrated.stdout

        api_line, worker_line = commands(block("processes"))
        api, worker = start(api_line, home, env), start(worker_line, home, env)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_ready(base, api)
            # the worker's presence turns readiness from warn to pass
            smoke = block("smoke").replace(PAGE_PORT, f"127.0.0.1:{port}")
            deadline = time.monotonic() + 30
            while (result := shell(at_home(smoke, home), tmp_path, env)).stdout.split()[
                0
            ] != "pass":
                assert time.monotonic() < deadline, result.stdout
                time.sleep(0.5)
            assert "live" in result.stdout  # `thedata workers`: the one worker, live
            walk = subprocess.run(
                ["bash", str(ROOT / "examples" / "first-run.sh")],
                env={"PATH": "/usr/bin:/bin", "BASE": base, "DATA": str(home / "data")},
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert walk.returncode == 0, walk.stdout + walk.stderr
            assert '"status": "succeeded"' in walk.stdout
        finally:
            api_code, _ = stop(api)
            worker_code, _ = stop(worker)
        assert (api_code, worker_code) == (0, 0)

        with psycopg.connect(control.app_url, autocommit=True) as connection:
            for statement in ("CREATE TABLE intruder (x int)", "CREATE TEMP TABLE t (x int)"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    connection.execute(statement)
            # the privileges come from the owner's default privileges, not from ownership
            owners = connection.execute(
                "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'"
            ).fetchall()
        assert owners == [(control.names["thedata_owner"],)]


def test_a_dump_restores_with_the_rotated_key_ring_and_its_secrets_open(
    postgres_server_url: str, home: Path, tmp_path: Path
) -> None:
    """The backup drill: a data source's password sealed, the key rotated as the page says
    (new key, re-encryption, old key removed), the database dumped and restored into a new
    one, migrated, and served as the service role: readiness decrypts the secret with the
    same key ring, and fails with the old one."""
    with control_database(postgres_server_url, tmp_path) as control:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = base_env(
            OWNER_DATABASE_URL=control.owner_url,
            THEDATA_DATABASE_URL=control.app_url,
            THEDATA_HOST="127.0.0.1",
            THEDATA_PORT=str(port),
        )
        shell(at_home(block("migrate"), home), tmp_path, env)
        api_line, _ = commands(block("processes"))

        api = start(api_line, home, env)
        try:
            wait_ready(base, api)
            status, signup = call(
                "POST",
                base + "/v1/auth/register",
                {"email": "ops@example.com", "password": "a long passphrase", "name": "Ops"},
            )
            assert status == 201, signup
            token = signup["access_token"]
            status, org = call("POST", base + "/v1/orgs", {"name": "Acme"}, token)
            assert status == 201, org
            warehouse = {"host": "warehouse.invalid", "database": "sales", "user": "reader"}
            status, source = call(
                "POST",
                f"{base}/v1/orgs/{org['id']}/data-sources",
                {
                    "name": "warehouse",
                    "kind": "postgres",
                    "config": warehouse | {"password": "s3cret", "sslmode": "verify-full"},
                },
                token,
            )
            assert status == 201, source
        finally:
            stop(api)
        old_ring = (home / "secret-keys").read_text()

        # the rotation, with the processes stopped in between as the page asks
        shell(at_home(block("add-key"), home), tmp_path, env)
        assert [line[:2] for line in (home / "secret-keys").read_text().splitlines()] == [
            "2:",
            "1:",
        ]
        rotated = shell(at_home(block("rotate"), home), tmp_path, env)
        assert rotated.stdout.strip() == text_after("rotate").strip()
        shell(at_home(block("remove-key"), home), tmp_path, env)
        assert [line[:2] for line in (home / "secret-keys").read_text().splitlines()] == ["2:"]

        backups = tmp_path / "backups"
        backups.mkdir()
        shell(block("backup"), backups, env)

        # a new, empty database by the page's control-database.sql, then the restore
        restored = control.names | {"thedata": control.names["thedata"] + "_restored"}
        run_psql(control.admin_url, renamed(block("control-database"), restored), tmp_path)
        owner_url = make_conninfo(control.owner_url, dbname=restored["thedata"])
        app_url = make_conninfo(control.app_url, dbname=restored["thedata"])
        env |= {"OWNER_DATABASE_URL": owner_url, "THEDATA_DATABASE_URL": app_url}
        again = shell(at_home(block("restore"), home), backups, env)
        assert "the database schema is up to date" in again.stdout

        api = start(api_line, home, env)
        try:
            wait_ready(base, api)
            _, ready = call("GET", base + "/health/ready")
            _, listed = call("GET", f"{base}/v1/orgs/{org['id']}/data-sources", None, token)
        finally:
            stop(api)
        assert ready["checks"]["secrets"][0]["status"] == "pass", ready
        assert listed["items"][0]["secret_fields_set"] == ["password"]
        status_after = shell(f"cd {home} && thedata secrets status", tmp_path, env)
        assert status_after.stdout.strip() == "key version 2: 1 secrets (newest)"

        # with the ring from before the rotation, version 2 is another process's newer key:
        # a warning, still 200 (a key roll-out does not take unrestarted processes out of
        # the load balancer); with another key under version 2, the wrong ring: 503
        wrong = shell("thedata secrets generate-key --version 2", tmp_path, env).stdout
        verdicts = []
        for name, ring in (("old-keys", old_ring), ("wrong-keys", wrong)):
            (tmp_path / name).write_text(ring)
            (tmp_path / name).chmod(0o600)
            api = start(api_line, home, env | {"THEDATA_SECRET_KEY_FILE": str(tmp_path / name)})
            try:
                wait_live(base, api)
                code, report = call("GET", base + "/health/ready")
            finally:
                stop(api)
            verdicts.append((code, report["checks"]["secrets"][0]["status"]))
        assert verdicts == [(200, "warn"), (503, "fail")]


# the tables the page's source role may read: its GRANT names them
SOURCE_TABLES = """
CREATE TABLE orders (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL, amount numeric(12,2));
INSERT INTO orders
SELECT n, now() - n * interval '1 minute', n / 4.0 FROM generate_series(1, 300) n;
CREATE TABLE customers (id bigint PRIMARY KEY, name text);
INSERT INTO customers SELECT n, 'c' || n FROM generate_series(1, 40) n;
CREATE TABLE payroll (id bigint PRIMARY KEY, salary numeric);
"""


@pytest.fixture
def warehouses(source_server_url: str) -> Iterator[tuple[str, str]]:
    """A source and a destination database on the data sources' server (never the control
    database's), where nobody but their owner and the page's grants can do anything."""
    names = [f"thedata_guide_{kind}_{uuid.uuid4().hex[:8]}" for kind in ("shop", "warehouse")]
    with psycopg.connect(source_server_url, autocommit=True) as connection:
        for name in names:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            # the defaults would let any role connect and make temporary tables: prove
            # that the page's own grants are enough
            connection.execute(
                sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(name))
            )
    urls = [make_conninfo(source_server_url, dbname=name) for name in names]
    with psycopg.connect(urls[0], autocommit=True) as connection:
        connection.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
        connection.execute(SOURCE_TABLES)
    yield urls[0], urls[1]
    drop(source_server_url, databases=names)


def run_psql(url: str, script: str, cwd: Path, **variables: str) -> None:
    """``script`` run by psql at ``url``, stopping at its first error, with ``variables``."""
    (cwd / "script.sql").write_text(script)
    options = [f"{name}={value}" for name, value in variables.items()]
    result = subprocess.run(
        [
            "psql",
            url,
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            *[arg for option in options for arg in ("-v", option)],
            "-f",
            str(cwd / "script.sql"),
        ],
        env=base_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def rows(url: str, query: str | sql.Composed) -> list[tuple[Any, ...]]:
    """The rows ``query`` returns at ``url``."""
    with psycopg.connect(url) as connection:
        return connection.execute(query).fetchall()


async def test_a_pipeline_reads_and_writes_through_the_least_privileged_roles(
    database_url: str, source_server_url: str, warehouses: tuple[str, str], tmp_path: Path
) -> None:
    """The page's source role (SELECT on two tables) and destination role (CREATE on one
    schema, TEMPORARY): a full refresh (load table, swap) and an upsert (temporary table)
    run twice, equal to the source; the reader cannot write nor see the other table."""
    shop_url, warehouse_url = warehouses
    suffix = uuid.uuid4().hex[:8]
    reader, loader = f"thedata_reader_{suffix}", f"thedata_loader_{suffix}"
    shop, warehouse = (psycopg.conninfo.conninfo_to_dict(u)["dbname"] for u in warehouses)
    try:
        run_psql(
            shop_url,
            renamed(block("source-role"), {"thedata_reader": reader, "shop": str(shop)}),
            tmp_path,
            reader_password="unused-under-trust",
        )
        run_psql(
            warehouse_url,
            renamed(
                block("destination-role"), {"thedata_loader": loader, "warehouse": str(warehouse)}
            ),
            tmp_path,
            loader_password="unused-under-trust",
        )
        settings = make_settings(
            database_url=database_url, data_root=str(tmp_path / "data"), **CHEAP_HASHING
        )
        streams = [
            Stream("customers", "customers", StreamMode.FULL_REFRESH),
            Stream("orders", "orders", StreamMode.INCREMENTAL, "updated_at", ("id",)),
        ]
        async with started(build_container(settings)) as container:
            await (await resolve(container.migrator)).migrate()
            signup = await (await resolve(container.register_user))("a@x.io", "p" * 12, "A")
            authenticate = await resolve(container.authenticate)
            me = await authenticate(signup.access_token)
            org = (
                await (await resolve(container.create_organization))(me, NewOrganization("A"))
            ).organization.id
            me = await authenticate(signup.access_token)
            create = await resolve(container.create_data_source)
            with (
                tcp_endpoint(shop_url) as (host, port, database, _),
                tcp_endpoint(warehouse_url) as (dest_host, dest_port, dest_database, _),
            ):
                source = await create(
                    me,
                    org,
                    NewDataSource(
                        "shop",
                        DataSourceKind.POSTGRES,
                        {
                            "host": host,
                            "port": port,
                            "database": database,
                            "user": reader,
                        },
                    ),
                )
                destination = await create(
                    me,
                    org,
                    NewDataSource(
                        "warehouse",
                        DataSourceKind.POSTGRES,
                        {
                            "host": dest_host,
                            "port": dest_port,
                            "database": dest_database,
                            "user": loader,
                            "schema": "analytics",
                        },
                    ),
                )
                pipeline = await (await resolve(container.create_pipeline))(
                    me, org, NewPipeline("nightly", source.id, destination.id, streams)
                )
                run = await resolve(container.run_pipeline)
                first = await run(me, org, pipeline.id)
                with psycopg.connect(shop_url, autocommit=True) as connection:
                    connection.execute(
                        "UPDATE orders SET amount = 0, updated_at = clock_timestamp() WHERE id <= 5"
                    )
                second = await run(me, org, pipeline.id)
        assert first.streams["orders"].rows == 300
        assert second.streams["orders"].rows == 5  # only what changed
        for table in ("customers", "orders"):
            ordered = sql.SQL("SELECT * FROM {} ORDER BY id")
            assert rows(warehouse_url, ordered.format(sql.Identifier("analytics", table))) == rows(
                shop_url, ordered.format(sql.Identifier(table))
            )
        assert rows(
            warehouse_url,
            "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'analytics'",
        ) == [(loader,)]

        reader_url = make_conninfo(shop_url, user=reader)
        with psycopg.connect(reader_url, autocommit=True) as connection:
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                connection.execute("DELETE FROM orders")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                connection.execute("SELECT * FROM payroll")
    finally:
        drop_role(source_server_url, reader, shop_url)
        drop_role(source_server_url, loader, warehouse_url)


def drop_role(server_url: str, role: str, database_url: str) -> None:
    """Drop ``role`` with what it owns and was granted in the database at ``database_url``
    (a role holding a privilege cannot be dropped)."""
    with psycopg.connect(database_url, autocommit=True) as connection:
        if connection.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
            connection.execute(sql.SQL("DROP OWNED BY {} CASCADE").format(sql.Identifier(role)))
    drop(server_url, roles=[role])
