"""What an adapter hands the conversation: one message or button press, platform-neutral."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

# How far a platform's own time for a message may stray from our clock before ours is used
# instead: a phone that was offline for a day sends late, and Slack retries for hours; a message
# dated 1970 or 2286 is a forgery or a broken client and would land in no settlement period.
TRUSTED_PAST = timedelta(days=3)
TRUSTED_FUTURE = timedelta(minutes=5)  # clocks differ by seconds, not hours


def said_at(claimed: float | str | None, now: datetime) -> tuple[datetime, bool]:
    """When a message was said: the platform's time (Unix seconds, as Slack's `ts` or WeCom's
    `CreateTime` give it) when it is a number within the trusted window around `now`; else
    `now`, and True to say the platform's time was doubted (missing ones are not doubted)."""
    if claimed is None or claimed == "":
        return now, False
    try:
        seconds = float(claimed)
    except (TypeError, ValueError):
        return now, True
    if not math.isfinite(seconds) or not (
        (now - TRUSTED_PAST).timestamp() <= seconds <= (now + TRUSTED_FUTURE).timestamp()
    ):
        return now, True
    return datetime.fromtimestamp(seconds, UTC), False


@dataclass(frozen=True)
class ButtonPress:
    """A pressed card button: the same as typing its text equivalent."""

    action: str  # "confirm" | "adjust" | "reject" | "ship" | "receive"
    value: str  # the proposal id, e.g. "P1"


@dataclass(frozen=True)
class Incoming:
    """One message or click, as every platform's adapter translates it."""

    platform: str  # "console" | "slack" | "wecom"
    chat: str  # where it was said: a channel, a group chat, or the person's own chat
    sender: str  # the person's id on that platform
    message_id: str  # the platform's id for it: a repeat of the same id changes nothing
    at: datetime
    text: str = ""
    button: ButtonPress | None = None
    direct: bool = True  # a one-to-one chat with the bot (it always answers there)
    addressed: bool = True  # in a group: the bot was mentioned
    via: str = "message"  # message | button | form | command (a slash command: answer privately)
    origin_ref: str = ""  # the platform's reference of the message said or the card pressed
    thread_ref: str = ""  # the thread the message was said in, when it was a reply in one
    time_doubted: bool = False  # the platform's time was out of the window: `at` is ours
    # a file sent (a keeper's sheet): its name and its bytes in base64, fetched by the adapter
    file_name: str = ""
    file_data: str = ""

    def to_json(self, with_text: bool = True) -> str:
        """The whole message as JSON, kept in the inbox until it is handled; without its text
        when that is kept apart."""
        raw = dict(vars(self))  # its fields are immutable: no deep copy (as asdict's) is needed
        raw["button"] = dict(vars(self.button)) if self.button else None
        if not with_text:
            del raw["text"]
        raw["at"] = self.at.isoformat()
        return json.dumps(raw, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Incoming:
        """A message read back from the inbox."""
        return cls.from_fields(json.loads(text))

    @classmethod
    def from_fields(cls, stored: dict[str, Any]) -> Incoming:
        """A message from its fields as `to_json` wrote them (the inbox's JSON, read); a
        ValueError naming what is missing when they are not a stored message's."""
        missing = [name for name in ("platform", "at") if name not in stored]
        if missing:
            raise ValueError(f"not a stored message: no {', '.join(missing)}")
        raw = dict(stored)
        raw["at"] = datetime.fromisoformat(raw["at"])
        raw["button"] = ButtonPress(**raw["button"]) if raw.get("button") else None
        return cls(**raw)
