"""Neutral cards: what the bot says, before an adapter turns it into Block Kit, a WeCom
template card or console text. Text here is plain; each adapter escapes it for its platform."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field, replace
from typing import Literal

ButtonStyle = Literal["primary", "danger", "default"]


@dataclass(frozen=True)
class Button:
    """A button; pressing it is the same as typing its text equivalent."""

    label: str
    action: str  # e.g. "confirm"
    value: str  # e.g. "P1"
    style: ButtonStyle = "default"
    text_equivalent: str = ""  # what to type instead, e.g. "确认 P1"


@dataclass(frozen=True)
class Card:
    """A message: a title, lines of text, label/value fields and buttons."""

    title: str
    lines: tuple[str, ...] = ()
    fields: tuple[tuple[str, str], ...] = ()
    buttons: tuple[Button, ...] = field(default=())
    urgent: bool = False
    refusal: bool = False  # says why nothing changed: shown only to the person who asked
    # a file sent with the card (the monthly review's chart, the shared sheet): its bytes in
    # base64, kept in the outbox row itself so that any process can deliver it; its file name
    # and its media type (empty: a PNG picture, as the chart always was)
    image: str = ""
    image_name: str = ""
    file_type: str = ""
    # for the asker's eyes alone, even asked in a group (a sheet link opens what only they
    # may see)
    private: bool = False

    @classmethod
    def png(cls, data: bytes) -> str:
        """PNG bytes as a card's `image`."""
        return base64.b64encode(data).decode("ascii")

    @classmethod
    def attach(cls, card: Card, data: bytes, name: str, media_type: str) -> Card:
        """`card` carrying a file: its bytes, name and media type (e.g. an .xlsx workbook)."""
        return replace(card, image=cls.png(data), image_name=name, file_type=media_type)

    @property
    def media_type(self) -> str:
        """The attachment's media type: image/png unless the card says otherwise."""
        return self.file_type or "image/png"

    @property
    def is_picture(self) -> bool:
        """True when the attachment is a picture (shown as one), not a file to download."""
        return bool(self.image) and self.media_type.startswith("image/")

    def image_bytes(self) -> bytes:
        """The picture's PNG bytes (empty without one)."""
        return base64.b64decode(self.image) if self.image else b""

    def to_json(self) -> str:
        """The card as JSON, for the outbox (a card without a picture as it always was)."""
        raw = dict(vars(self))  # its fields are immutable: no deep copy (as asdict's) is needed
        raw["buttons"] = [dict(vars(button)) for button in self.buttons]
        if not self.image:
            del raw["image"], raw["image_name"]
        if not self.file_type:
            del raw["file_type"]
        if not self.private:
            del raw["private"]
        return json.dumps(raw, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Card:
        """A card read back from the outbox."""
        raw = json.loads(text)
        return cls(
            title=raw["title"],
            lines=tuple(raw.get("lines", ())),
            fields=tuple((k, v) for k, v in raw.get("fields", ())),
            buttons=tuple(Button(**b) for b in raw.get("buttons", ())),
            urgent=raw.get("urgent", False),
            refusal=raw.get("refusal", False),
            image=raw.get("image", ""),
            image_name=raw.get("image_name", ""),
            file_type=raw.get("file_type", ""),
            private=raw.get("private", False),
        )

    def as_text(self) -> str:
        """Plain text: the title, the lines, the fields, and what to type for each button."""
        out = [self.title, *self.lines, *(f"{k}: {v}" for k, v in self.fields)]
        return "\n".join(out)
