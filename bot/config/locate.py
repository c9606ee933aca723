"""Which agreement file to read: `--config PATH`, else `$VMI_CONFIG`, else
./config/example.toml, else the example installed with the bot (so it runs from any folder)."""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path

DEFAULT_CONFIG = Path("config/example.toml")
CONFIG_ENV = "VMI_CONFIG"


def shipped_example() -> Path:
    """The seed's agreement as installed with the package."""
    return Path(str(resources.files("bot.config") / "example.toml"))


def resolve_config_path(
    arg: str | None, from_env: str | None = None, say: Callable[[str], None] | None = None
) -> Path:
    """The agreement file to use: `--config PATH`, else `$VMI_CONFIG` (`from_env`, as the
    settings read it), else ./config/example.toml, else the shipped example, which `say` is
    told about in one line."""
    if arg:
        return Path(arg)
    if from_env:
        return Path(from_env)
    if DEFAULT_CONFIG.exists() or say is None:
        return DEFAULT_CONFIG
    say(
        f"vmi-bot: no agreement file given (--config PATH, $VMI_CONFIG or {DEFAULT_CONFIG}); "
        f"using the example installed with vmi-bot ({shipped_example()}); `vmi-bot init` "
        "writes a copy to edit"
    )
    return shipped_example()
