"""docs/recovery.md's requests for compromised credentials, run as written (curl) against a
live ``thedata serve``: each stops what the page says it stops, and nothing else. The
oracle is the API's own answer to the credentials afterwards (401 or not)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_cli import ROOT, serve, server_home, stop, wait_ready

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
__all__ = ["server_home"]  # the fixture

PAGE = ROOT / "docs" / "recovery.md"
OLD_PASSWORD, NEW_PASSWORD = "the old long passphrase", "a new long passphrase"


def credential_blocks() -> list[str]:
    """The section's shell blocks, in the page's order."""
    section = PAGE.read_text().split("## A compromised token", 1)[1].split("\n## ", 1)[0]
    found = re.findall(r"```sh\n(.*?)```", section, re.DOTALL)
    return [block for block in found if "curl" in block]


def call(base: str, method: str, path: str, token: str | None = None, body: Any = None) -> Any:
    """The status and JSON body of a request."""
    request = urllib.request.Request(  # noqa: S310 - the local test server
        base + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"content-type": "application/json"}
        | ({"authorization": f"Bearer {token}"} if token else {}),
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            raw = answer.read()
            return answer.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


@pytest.mark.skipif(shutil.which("curl") is None, reason="the page's examples use curl")
def test_the_credential_examples_revoke_what_they_say(server_home: Path) -> None:
    """Logout stops the leaked token; deleting the key stops the key; the password change
    stops every other session and the old password, and keeps the session that made it."""
    logout, password, api_key = credential_blocks()
    process, base = serve(server_home, "--no-worker")
    try:
        wait_ready(base, process)
        account = {"email": "ada@example.com", "password": OLD_PASSWORD, "name": "Ada"}
        token = call(base, "POST", "/v1/auth/register", body=account)[1]["access_token"]
        sign_in = {"email": "ada@example.com", "password": OLD_PASSWORD}
        leaked = call(base, "POST", "/v1/auth/token", body=sign_in)[1]["access_token"]
        other = call(base, "POST", "/v1/auth/token", body=sign_in)[1]["access_token"]
        org = call(base, "POST", "/v1/orgs", token, {"name": "Acme"})[1]["id"]
        made = call(
            base, "POST", f"/v1/orgs/{org}/api-keys", token, {"name": "ci", "role": "member"}
        )
        key_id, key = made[1]["id"], made[1]["key"]
        variables = {
            "PATH": "/usr/bin:/bin",
            "BASE": base,
            "TOKEN": token,
            "LEAKED_TOKEN": leaked,
            "ORG": org,
            "KEY_ID": key_id,
            "OLD_PASSWORD": OLD_PASSWORD,
            "NEW_PASSWORD": NEW_PASSWORD,
        }

        def run(block: str) -> str:
            done = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", block],
                env=variables,
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
            assert done.returncode == 0, done.stderr
            return done.stdout

        me = "/v1/users/me"
        assert call(base, "GET", me, leaked)[0] == 200
        run(logout)
        assert call(base, "GET", me, leaked)[0] == 401
        assert call(base, "GET", me, other)[0] == 200  # one token only

        assert call(base, "GET", f"/v1/orgs/{org}", key)[0] == 200
        listed = run(api_key)
        assert key_id in listed  # the list the page shows, before the delete
        assert call(base, "GET", f"/v1/orgs/{org}", key)[0] == 401

        run(password)
        assert call(base, "GET", me, other)[0] == 401
        assert call(base, "GET", me, token)[0] == 200  # the session that changed it stays
        assert call(base, "POST", "/v1/auth/token", body=sign_in)[0] == 401
        new = {"email": "ada@example.com", "password": NEW_PASSWORD}
        assert call(base, "POST", "/v1/auth/token", body=new)[0] == 200
    finally:
        code, _ = stop(process)
    assert code == 0
