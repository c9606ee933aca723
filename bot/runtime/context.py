"""What the background loops and adapters run on: the checked configuration, the engine and the
settings read from the environment at start."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine

from bot.config import Config
from bot.runtime.clock import Clock, real_clock
from bot.settings import Settings


@dataclass(frozen=True)
class Runtime:
    """The loaded configuration, the database engine, the settings (no platform but the
    console when none are given) and the clock adapters read "now" from."""

    config: Config
    engine: Engine
    settings: Settings = field(default_factory=Settings)
    clock: Clock = real_clock
