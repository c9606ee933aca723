"""How WeCom (企业微信) hears announcements. A group post (an app group chat, or a group robot)
carries no buttons, so everyone who decides on a proposal also gets a template card of their
own, as an app message, to press. A card once sent is not changed: a resized proposal is sent
anew.

The chat ids say to the sender which way a message goes: `appchat:<chatid>` an app group chat,
`webhook:<agreement id>` the agreement's group robot, anything else a person's user id."""

from __future__ import annotations

from bot.config import AgreementConfig, Member
from bot.settings import WECOM

APPCHAT = "appchat:"
WEBHOOK = "webhook:"


class WeComAudience:
    """The agreement's group chat or robot, and a card for each person who decides."""

    platform = WECOM
    updates_in_place = False

    def group_chat(self, agreement: AgreementConfig) -> str | None:
        """The app group chat (`wecom_chat`), else the group robot (`wecom_webhook_key`)."""
        if agreement.wecom_chat:
            return f"{APPCHAT}{agreement.wecom_chat}"
        if agreement.wecom_webhook_key:
            return f"{WEBHOOK}{agreement.id}"  # the key itself stays in the configuration
        return None

    def private_chat(self, member: Member) -> str | None:
        """The member's WeCom user id, when they have one."""
        return member.wecom or None


AUDIENCE = WeComAudience()
