"""How DingTalk (钉钉) hears announcements. A robot hears a group only when it is @mentioned,
and a button on an ActionCard sends its text without the mention, so group posts carry no
buttons: everyone who decides on a proposal also gets an ActionCard of their own, one to one,
whose buttons send the text equivalent back. With a card template (DINGTALK_CARD_TEMPLATE_ID)
a proposal is an interactive card instead, in the group and for each decider, whose clicks
come back through the card callback.

A resized or withdrawn proposal's card is changed in place where it is an interactive card
(PUT instances); an ActionCard or a markdown message, which DingTalk cannot change, is sent
anew.

The chat ids say to the sender which way a message goes: `group:<openConversationId>` the
agreement's group (through the app's robot), `webhook:<agreement id>` the agreement's custom
group robot (push only), anything else a person's staffId (userid)."""

from __future__ import annotations

from bot.config import AgreementConfig, Member
from bot.settings import DINGTALK

GROUP = "group:"
WEBHOOK = "webhook:"


class DingTalkAudience:
    """The agreement's group, and a card of their own for each person who decides."""

    platform = DINGTALK
    updates_in_place = True  # an interactive card is; the sender sends anything else anew

    def group_chat(self, agreement: AgreementConfig) -> str | None:
        """The group the app's robot is in (`dingtalk_chat`), else the custom robot
        (`dingtalk_webhook`)."""
        if agreement.dingtalk_chat:
            return f"{GROUP}{agreement.dingtalk_chat}"
        if agreement.dingtalk_webhook:
            return f"{WEBHOOK}{agreement.id}"  # the URL and secret stay in the configuration
        return None

    def private_chat(self, member: Member) -> str | None:
        """The member's staffId, when they have one."""
        return member.dingtalk or None


AUDIENCE = DingTalkAudience()
