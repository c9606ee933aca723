"""The rule every probe leans on: a platform hears 2xx only once its message is stored."""

from __future__ import annotations

import pytest

from bot.storage.tables import InboxRow, LedgerRow
from tests.faults.edge import Edge, slack_message
from tests.wecom_crypto import text_message_xml


@pytest.mark.probe("a signed Slack count: 200 only with the message in the inbox")
def test_a_slack_count_is_stored_before_the_200(edge: Edge) -> None:
    status, _ = edge.slack_post(slack_message("6205 库存 45"))
    assert status == 200
    assert edge.count(InboxRow) == 1
    assert edge.count(LedgerRow) == 1


@pytest.mark.probe("an encrypted WeCom count: 200 only with the message in the inbox")
def test_a_wecom_count_is_stored_before_the_200(edge: Edge) -> None:
    xml = text_message_xml("wangcg", "6205 库存 45", "1", 1763690400, "ww-test-corp")
    status, _ = edge.wecom_post(xml)
    assert status == 200
    assert edge.count(InboxRow) == 1
    assert edge.count(LedgerRow) == 1
