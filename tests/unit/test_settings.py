"""Configuration: THEDATA_* variables and .env, validated, with one readable line per mistake."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from thedata.entrypoints.config import (
    ConfigurationError,
    Settings,
    load_settings,
    validate_settings,
)


def load(environ: dict[str, str], env_file: Path | None = None) -> Settings:
    return load_settings(environ, env_file=env_file)


def test_defaults_need_no_configuration_at_all() -> None:
    """With nothing set the service runs: embedded database, local port, JSON logs."""
    settings = load({})
    assert settings.database_url is None
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.log_format == "json"
    assert settings.max_body_bytes == 1024 * 1024


def test_variables_are_parsed_into_their_types() -> None:
    """Strings from the environment become ints, floats, booleans and choices."""
    settings = load(
        {
            "THEDATA_PORT": "9000",
            "THEDATA_READY_TIMEOUT": "0.25",
            "THEDATA_MIGRATE_ON_START": "false",
            "THEDATA_LOG_FORMAT": "console",
            "THEDATA_DATABASE_URL": "postgresql://app@db.internal:5432/thedata",
        }
    )
    assert settings.port == 9000
    assert settings.ready_timeout == 0.25
    assert settings.migrate_on_start is False
    assert settings.log_format == "console"
    assert settings.database_url == "postgresql://app@db.internal:5432/thedata"


@given(st.integers(min_value=-(10**6), max_value=10**6))
def test_a_port_is_accepted_exactly_when_it_is_in_range(port: int) -> None:
    """1..65535 loads; anything else is an error naming THEDATA_PORT."""
    if 1 <= port <= 65535:
        assert load({"THEDATA_PORT": str(port)}).port == port
    else:
        with pytest.raises(ConfigurationError, match=r"^THEDATA_PORT: "):
            load({"THEDATA_PORT": str(port)})


@given(st.text(min_size=1).filter(lambda s: not s.strip().lstrip("+-").isdigit()))
def test_a_non_numeric_port_is_an_error_naming_the_variable(value: str) -> None:
    """Whatever text is given, a non-integer is one line naming the variable, never a crash."""
    with pytest.raises(ConfigurationError, match=r"^THEDATA_PORT: ") as error:
        load({"THEDATA_PORT": value})
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("THEDATA_LOG_FORMAT", "xml", "expected one of console, json"),
        ("THEDATA_MIGRATE_ON_START", "maybe", "use true or false"),
        ("THEDATA_MAX_BODY_BYTES", "10", ">= 1024"),
        ("THEDATA_READY_TIMEOUT", "0", "> 0"),
        ("THEDATA_HOME", " ", None),
    ],
)
def test_an_invalid_value_names_the_variable_and_what_was_expected(
    variable: str, value: str, expected: str | None
) -> None:
    """Each mistake is reported as `VARIABLE: what was expected`."""
    if expected is None:  # whitespace is a valid (if odd) folder name; it must not crash
        load({variable: value})
        return
    with pytest.raises(ConfigurationError) as error:
        load({variable: value})
    assert str(error.value).startswith(f"{variable}: ")
    assert expected in str(error.value)


def test_a_misspelt_variable_is_an_error_with_a_suggestion() -> None:
    """A typo must not silently fall back to a default (say, an embedded database in production)."""
    with pytest.raises(ConfigurationError, match="did you mean THEDATA_DATABASE_URL"):
        load({"THEDATA_DATABSE_URL": "postgresql://db/x"})


def test_the_test_suites_own_variables_are_not_settings() -> None:
    """THEDATA_TEST_* configure the test suite and are ignored by the service."""
    assert load({"THEDATA_TEST_DATABASE_URL": "postgresql://x/y"}).database_url is None


def test_an_empty_variable_counts_as_unset() -> None:
    """`THEDATA_DATABASE_URL=` means: no external database, as if it were not there."""
    assert load({"THEDATA_DATABASE_URL": "", "THEDATA_PORT": ""}) == load({})


def test_a_malformed_database_url_is_refused_without_echoing_it() -> None:
    """The URL may hold a password: the error names the variable, not the value."""
    with pytest.raises(ConfigurationError, match="THEDATA_DATABASE_URL: not a libpq URL") as e:
        load({"THEDATA_DATABASE_URL": "postgresql://u:hunter2@host/db?bogus=1"})
    assert "hunter2" not in str(e.value)


@pytest.mark.parametrize("port", ["notaport", "0", "70000", "5432,x"])
def test_a_database_url_with_a_bad_port_is_refused_at_start_up(port: str) -> None:
    """libpq would only notice when connecting; the configuration check notices first."""
    with pytest.raises(ConfigurationError, match="THEDATA_DATABASE_URL: the port must be"):
        load({"THEDATA_DATABASE_URL": f"postgresql://u@host:{port}/db"})


def test_a_multi_host_database_url_is_accepted() -> None:
    """libpq's failover form (several hosts and ports) is a valid configuration."""
    url = "postgresql://u@a:5432,b:5433/db?target_session_attrs=read-write"
    assert load({"THEDATA_DATABASE_URL": url}).database_url == url


def test_pool_bounds_must_be_consistent() -> None:
    """A pool whose minimum exceeds its maximum cannot exist."""
    with pytest.raises(ConfigurationError, match="THEDATA_DB_POOL_MIN_SIZE: must not be larger"):
        load({"THEDATA_DB_POOL_MIN_SIZE": "20", "THEDATA_DB_POOL_MAX_SIZE": "5"})


def test_the_env_file_fills_in_what_the_environment_does_not_set(tmp_path: Path) -> None:
    """.env supplies defaults for the machine; a real variable always wins over it."""
    env_file = tmp_path / ".env"
    env_file.write_text('# local\nTHEDATA_PORT=9100\nexport THEDATA_LOG_LEVEL="debug"\n')
    settings = load({"THEDATA_PORT": "9200"}, env_file=env_file)
    assert settings.port == 9200
    assert settings.log_level == "debug"


def test_a_mistake_in_the_env_file_is_reported_like_one_in_the_environment(
    tmp_path: Path,
) -> None:
    """Where the value came from does not change how its error reads."""
    env_file = tmp_path / ".env"
    env_file.write_text("THEDATA_PORT=eighty\n")
    with pytest.raises(ConfigurationError, match=r"^THEDATA_PORT: "):
        load({}, env_file=env_file)


def test_settings_built_in_code_are_validated_too() -> None:
    """Library users who construct Settings get the same checks as the environment."""
    with pytest.raises(ConfigurationError, match=r"^THEDATA_PORT: "):
        validate_settings(Settings(port=0))
    assert validate_settings(Settings(port=8080)).port == 8080


def test_a_worker_metrics_port_with_metrics_off_is_refused_naming_both() -> None:
    """Serving metrics that are not recorded would show zeros, as if all were quiet."""
    with pytest.raises(ConfigurationError, match=r"^THEDATA_WORKER_METRICS_PORT: .*METRICS=false"):
        load({"THEDATA_METRICS": "false", "THEDATA_WORKER_METRICS_PORT": "9100"})
    assert not load({"THEDATA_METRICS": "false"}).metrics
