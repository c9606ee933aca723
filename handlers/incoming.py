"""What an adapter hands the conversation: one message or button press, platform-neutral."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime


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

    def to_json(self) -> str:
        """The whole message as JSON, kept in the inbox until it is handled."""
        raw = asdict(self)
        raw["at"] = self.at.isoformat()
        return json.dumps(raw, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Incoming:
        """A message read back from the inbox."""
        raw = json.loads(text)
        raw["at"] = datetime.fromisoformat(raw["at"])
        raw["button"] = ButtonPress(**raw["button"]) if raw.get("button") else None
        return cls(**raw)
