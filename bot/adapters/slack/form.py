"""The adjust form (Slack's modal for a proposal's new quantity): its view, the quantity read
from it, and its hidden fields sealed so a submission can only be of the form the bot opened,
by the person it opened it for."""

from __future__ import annotations

import hashlib
import hmac
import json
import unicodedata
from typing import Any

from messages.render import render_card

ADJUST_FORM = "vmi_adjust"
QTY_BLOCK, QTY_INPUT = "qty", "value"
MAX_QTY = 1_000_000


class ForgedOrBroken(Exception):
    """A signed request whose content does not hold together (a form's hidden fields changed
    or cut): it is answered 400 and changes nothing."""


def whole(text: str) -> int | None:
    text = unicodedata.normalize("NFKC", text).strip()  # full-width "６０" is 60
    if not (text.isascii() and text.isdecimal()):  # "²" is a digit to Python, not a number
        return None
    qty = int(text)
    return qty if 0 < qty <= MAX_QTY else None


def adjust_form(
    proposal: str, channel: str, ts: str, locale: str, user: str, key: bytes
) -> dict[str, Any]:
    """The modal asking the buyer `user` for the new quantity of a proposal; which proposal
    and card it is for are sealed with `key`, so a submission can only be of what was opened."""
    words = render_card("adjust_form", locale, proposal_id=proposal)
    label, submit = words.lines[0], words.lines[1]
    return {
        "type": "modal",
        "callback_id": ADJUST_FORM,
        "title": {"type": "plain_text", "text": words.title[:24]},
        "submit": {"type": "plain_text", "text": submit[:24]},
        "private_metadata": seal({"proposal": proposal, "channel": channel, "ts": ts}, user, key),
        "blocks": [
            {
                "type": "input",
                "block_id": QTY_BLOCK,
                "label": {"type": "plain_text", "text": label},
                "element": {"type": "plain_text_input", "action_id": QTY_INPUT},
            }
        ],
    }


def _form_mac(fields: dict[str, str], user: str, key: bytes) -> str:
    signed = json.dumps([user, fields], sort_keys=True, ensure_ascii=False).encode()
    return hmac.new(key, signed, hashlib.sha256).hexdigest()


def seal(fields: dict[str, str], user: str, key: bytes) -> str:
    """A form's hidden fields (Slack's `private_metadata`) with a MAC of them and of the person
    the form was opened for."""
    return json.dumps({"form": fields, "mac": _form_mac(fields, user, key)}, ensure_ascii=False)


def unseal(metadata: str, user: str, key: bytes) -> dict[str, str]:
    """The hidden fields `seal` made for `user`; `ForgedOrBroken` when they were changed, cut,
    made for someone else, or not made by this bot."""
    try:
        sealed = json.loads(metadata)
    except (ValueError, RecursionError):
        raise ForgedOrBroken("a form's hidden fields are not JSON") from None
    fields = sealed.get("form") if isinstance(sealed, dict) else None
    mac = sealed.get("mac") if isinstance(sealed, dict) else None
    if not (
        isinstance(fields, dict)
        and all(isinstance(fields.get(k), str) for k in ("proposal", "channel", "ts"))
        and isinstance(mac, str)
    ):
        raise ForgedOrBroken("a form's hidden fields are not the ones the bot made")
    if not hmac.compare_digest(mac, _form_mac(fields, user, key)):
        raise ForgedOrBroken("a form's hidden fields were not sealed for this person")
    return {k: fields[k] for k in ("proposal", "channel", "ts")}
