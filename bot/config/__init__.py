"""The agreement file: checked, and mapped onto vmi_rules terms.

`load_config` reads and checks a file (every problem at once, one line each, in a
`ConfigError`); `Config` is what the rest of the bot reads.
"""

from bot.config.file import (
    CONFIG_ENV,
    DEFAULT_CONFIG,
    AgreementConfig,
    Config,
    ConfigError,
    Member,
    load_config,
    parse_config,
    resolve_config_path,
)

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_CONFIG",
    "AgreementConfig",
    "Config",
    "ConfigError",
    "Member",
    "load_config",
    "parse_config",
    "resolve_config_path",
]
