"""Configuration: typed settings from THEDATA_* variables, validated at start-up."""

from thedata.entrypoints.config.docs import render_configuration_docs
from thedata.entrypoints.config.loader import (
    ConfigurationError,
    load_settings,
    validate_settings,
    variable_name,
)
from thedata.entrypoints.config.settings import Settings

__all__ = [
    "ConfigurationError",
    "Settings",
    "load_settings",
    "render_configuration_docs",
    "validate_settings",
    "variable_name",
]
