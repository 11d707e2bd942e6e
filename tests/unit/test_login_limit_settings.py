"""The three password-attempt limits: configured, checked for consistency, handed to the policy."""

from __future__ import annotations

from datetime import timedelta

import pytest

from thedata.entrypoints.config import ConfigurationError, load_settings
from thedata.entrypoints.container import identity_policy


def test_the_limits_reach_the_identity_policy() -> None:
    """Each THEDATA_LOGIN_* variable sets the matching limit of the rules."""
    settings = load_settings(
        {
            "THEDATA_LOGIN_ATTEMPT_LIMIT": "5",
            "THEDATA_LOGIN_ACCOUNT_LIMIT": "20",
            "THEDATA_LOGIN_ADDRESS_LIMIT": "300",
            "THEDATA_LOGIN_WINDOW": "600",
        },
        env_file=None,
    )
    policy = identity_policy(settings)
    assert (policy.login_attempt_limit, policy.login_account_limit) == (5, 20)
    assert (policy.login_address_limit, policy.login_window) == (300, timedelta(minutes=10))


@pytest.mark.parametrize("wider", ["ACCOUNT", "ADDRESS"])
def test_a_wider_limit_below_the_per_address_one_is_refused(wider: str) -> None:
    """A count over many addresses or accounts below one address's would close accounts first."""
    with pytest.raises(ConfigurationError, match=f"THEDATA_LOGIN_{wider}_LIMIT: must not be below"):
        load_settings(
            {"THEDATA_LOGIN_ATTEMPT_LIMIT": "10", f"THEDATA_LOGIN_{wider}_LIMIT": "9"},
            env_file=None,
        )
