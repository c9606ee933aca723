"""Which configuration file to read."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_CONFIG = Path("config/example.toml")
CONFIG_ENV = "VMI_CONFIG"


def resolve_config_path(arg: str | None) -> Path:
    """The configuration file to use: `--config PATH`, else `$VMI_CONFIG`, else the example."""
    if arg:
        return Path(arg)
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env)
    return DEFAULT_CONFIG
