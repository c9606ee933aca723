"""What the background loops and adapters run on: the checked configuration and the engine."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from bot.config import Config


@dataclass(frozen=True)
class Runtime:
    """The loaded configuration and the database engine."""

    config: Config
    engine: Engine
