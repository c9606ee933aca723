"""The agreement file: checked, and mapped onto vmi_rules terms.

`load_config` reads and checks a file (every problem at once, one line each, in a
`ConfigError`); `Config` is what the rest of the bot reads. Inside: `schema` (the strict
models of the file), `load` (reading, wording the problems, the cross-reference pass),
`model` (the loaded dataclasses) and `locate` (which file).
"""

from bot.config.load import ConfigError, load_config, parse_config
from bot.config.locate import CONFIG_ENV, DEFAULT_CONFIG, resolve_config_path
from bot.config.model import AgreementConfig, Config, Member

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
