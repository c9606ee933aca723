"""The fake WeCom API answers wechatpy's enterprise client the way WeCom does, and
tests/wecom_crypto.py encrypts callbacks so that wechatpy's WeChatCrypto reads them."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import xmltodict
from wechatpy.enterprise import WeChatClient
from wechatpy.enterprise.crypto import WeChatCrypto
from wechatpy.enterprise.exceptions import InvalidCorpIdException
from wechatpy.exceptions import (
    APILimitedException,
    InvalidSignatureException,
    WeChatClientException,
)

from bot.adapters.wecom.render import card_markdown, template_card
from messages.cards import Button, Card
from tests import wecom_crypto
from tests.fake_wecom import FakeWeCom
from tests.wecom_crypto import (
    card_event_xml,
    decrypt,
    encrypt_callback,
    encrypt_echostr,
    signature,
    text_message_xml,
)

CORP, SECRET, AGENT = "ww-test-corp", "test-secret", 1000002
TOKEN, AES_KEY = "callback-token", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


_clients: list[WeChatClient] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _clients:
        _clients.pop()._http.close()  # wechatpy keeps a requests.Session open


@pytest.fixture
def fake() -> Iterator[FakeWeCom]:
    with FakeWeCom() as server:
        yield server


def client_for(fake: FakeWeCom, corp_id: str = CORP, secret: str = SECRET) -> WeChatClient:
    """wechatpy's client under the fake's root, as the bot builds it."""
    root = fake.base_url

    class Client(WeChatClient):
        API_BASE_URL = root + "/cgi-bin/"

        def fetch_access_token(self) -> Any:
            return self._fetch_access_token(
                url=root + "/cgi-bin/gettoken",
                params={"corpid": self.corp_id, "corpsecret": self.secret},
            )

    client = Client(corp_id, secret, timeout=5)
    _clients.append(client)
    return client


def post(url: str, body: object, **params: str) -> tuple[int, dict]:
    answer = requests.post(url, params=params, json=body, timeout=5)
    return answer.status_code, answer.json()


# -- callback crypto, checked against wechatpy ------------------------------------------------


def test_wechatpy_decrypts_a_callback_encrypted_as_wecom_does() -> None:
    xml = text_message_xml("wangcg", "6205 库存 45 <b>]]></b>", "m1", 1763690400, CORP)
    body, msg_signature = encrypt_callback(
        xml, token=TOKEN, aes_key=AES_KEY, corp_id=CORP, timestamp="1763690400", nonce="n1"
    )
    crypto = WeChatCrypto(TOKEN, AES_KEY, CORP)

    plain = crypto.decrypt_message(body, msg_signature, "1763690400", "n1")

    assert plain == xml
    fields = xmltodict.parse(plain)["xml"]
    assert fields["ToUserName"] == CORP and fields["FromUserName"] == "wangcg"
    assert (fields["MsgType"], fields["MsgId"], fields["AgentID"]) == ("text", "m1", "1000002")
    assert fields["Content"] == "6205 库存 45 <b>]]></b>"  # CDATA survives "]]>"
    assert fields["CreateTime"] == "1763690400"
    outer = xmltodict.parse(body)["xml"]
    assert outer["ToUserName"] == CORP and outer["AgentID"] == "1000002"


def test_a_card_event_as_wecom_sends_it() -> None:
    xml = card_event_xml("wangcaigou", "confirm:P1", "vmi-7", "RC-1", 1763690460, CORP)
    body, msg_signature = encrypt_callback(
        xml, token=TOKEN, aes_key=AES_KEY, corp_id=CORP, timestamp="1763690460", nonce="n2"
    )

    plain = WeChatCrypto(TOKEN, AES_KEY, CORP).decrypt_message(
        body, msg_signature, "1763690460", "n2"
    )

    assert xmltodict.parse(plain)["xml"] == {
        "ToUserName": CORP,
        "FromUserName": "wangcaigou",
        "CreateTime": "1763690460",
        "MsgType": "event",
        "Event": "template_card_event",
        "EventKey": "confirm:P1",
        "TaskId": "vmi-7",
        "CardType": "button_interaction",
        "ResponseCode": "RC-1",
        "AgentID": "1000002",
    }


def test_wechatpy_checks_the_url_verification_echostr() -> None:
    echo = encrypt_echostr("4242424242", aes_key=AES_KEY, corp_id=CORP)
    crypto = WeChatCrypto(TOKEN, AES_KEY, CORP)

    assert crypto.check_signature(signature(TOKEN, "1", "n", echo), "1", "n", echo) == "4242424242"
    with pytest.raises(InvalidSignatureException):
        crypto.check_signature(signature("other-token", "1", "n", echo), "1", "n", echo)


def test_wechatpy_refuses_a_bad_signature_or_another_corp() -> None:
    xml = text_message_xml("wangcg", "hi", "m2", 1763690400, CORP)
    body, msg_signature = encrypt_callback(
        xml, token=TOKEN, aes_key=AES_KEY, corp_id=CORP, timestamp="1", nonce="n"
    )
    with pytest.raises(InvalidSignatureException):
        WeChatCrypto(TOKEN, AES_KEY, CORP).decrypt_message(body, msg_signature, "2", "n")
    with pytest.raises(InvalidCorpIdException):
        WeChatCrypto(TOKEN, AES_KEY, "ww-other").decrypt_message(body, msg_signature, "1", "n")


def test_what_wechatpy_encrypts_this_module_decrypts() -> None:
    reply = "<xml><Content><![CDATA[收到 ✓]]></Content></xml>"
    out = WeChatCrypto(TOKEN, AES_KEY, CORP).encrypt_message(reply, "n3", "1763690400")
    fields = xmltodict.parse(out)["xml"]

    assert decrypt(fields["Encrypt"], aes_key=AES_KEY) == (reply, CORP)
    assert signature(TOKEN, "1763690400", "n3", fields["Encrypt"]) == fields["MsgSignature"]


@pytest.mark.parametrize("size", [0, 1, 11, 12, 31, 32, 33, 1000])
def test_padding_to_32_byte_blocks_round_trips(size: int) -> None:
    message = "x" * size  # 16 + 4 + len(CORP) = 32: sizes 0 and 32 get a whole block of padding
    encrypted = wecom_crypto.encrypt(message, aes_key=AES_KEY, receive_id=CORP)
    raw = base64.b64decode(encrypted)
    assert len(raw) % 32 == 0 and len(raw) > 16 + 4 + size + len(CORP)
    assert decrypt(encrypted, aes_key=AES_KEY) == (message, CORP)
    xml = f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    crypto = WeChatCrypto(TOKEN, AES_KEY, CORP)
    assert crypto.decrypt_message(xml, signature(TOKEN, "1", "n", encrypted), "1", "n") == message


def test_signature_is_sha1_of_the_sorted_strings() -> None:
    # sorted: "1409659813", "1372623149", "msg", "token" -> "13726231491409659813msgtoken"
    assert signature("token", "1409659813", "1372623149", "msg") == (
        hashlib.sha1(b"13726231491409659813msgtoken").hexdigest()
    )


def test_a_bad_key_or_ciphertext_is_refused() -> None:
    with pytest.raises(ValueError):
        wecom_crypto.aes_key_bytes("short")
    with pytest.raises(ValueError):
        decrypt("AAAA", aes_key=AES_KEY)
    other = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefg"
    encrypted = wecom_crypto.encrypt("hello", aes_key=other, receive_id=CORP)
    with pytest.raises(ValueError):  # bad padding or length, or not utf-8
        decrypt(encrypted, aes_key=AES_KEY)


# -- the fake API through wechatpy ------------------------------------------------------------


def test_base_url_is_local_and_a_text_message_is_sent(fake: FakeWeCom) -> None:
    assert fake.base_url.startswith("http://127.0.0.1:") and not fake.base_url.endswith("/")
    client = client_for(fake)

    answer = client.message.send_text(AGENT, "wangcg", "6205 现有 45 件")

    assert answer["errcode"] == 0 and answer["errmsg"] == "ok" and answer["invaliduser"] == ""
    assert answer["msgid"]
    token_call, sent = fake.calls
    assert token_call.path == "/cgi-bin/gettoken"
    assert token_call.query == {"corpid": CORP, "corpsecret": SECRET}
    assert token_call.response["expires_in"] == 7200 and token_call.body is None
    assert sent.path == "/cgi-bin/message/send"
    assert sent.query["access_token"] == token_call.response["access_token"]
    assert sent.body is not None
    assert sent.body["touser"] == "wangcg" and sent.body["agentid"] == AGENT
    assert sent.body["text"] == {"content": "6205 现有 45 件"}
    assert fake.calls_to("message/send") == [sent] and fake.tokens_issued == 1
    assert token_call.at <= sent.at


def test_the_token_is_reused_and_message_ids_differ(fake: FakeWeCom) -> None:
    client = client_for(fake)
    first = client.message.send_text(AGENT, "wangcg", "1")
    second = client.message.send_text(AGENT, "wangcg", "2")
    assert first["msgid"] != second["msgid"]
    assert fake.tokens_issued == 1


def test_an_expired_token_is_fetched_again_by_wechatpy(fake: FakeWeCom) -> None:
    client = client_for(fake)
    client.message.send_text(AGENT, "wangcg", "before")
    fake.expire_tokens()

    answer = client.message.send_text(AGENT, "wangcg", "after")

    assert answer["errcode"] == 0 and fake.tokens_issued == 2
    expired, retried = fake.calls_to("message/send")[1:]
    assert expired.response["errcode"] == 42001 and retried.response["errcode"] == 0
    assert expired.query["access_token"] != retried.query["access_token"]


def test_frequency_limit_is_wechatpys_api_limited_exception(fake: FakeWeCom) -> None:
    client = client_for(fake)
    fake.fail_next(1, errcode=45009, path_suffix="message/send")

    with pytest.raises(APILimitedException) as limited:
        client.message.send_text(AGENT, "wangcg", "hi")

    assert limited.value.errcode == 45009
    [call] = fake.calls_to("message/send")
    assert (call.status, call.response["errcode"]) == (200, 45009)
    assert client.message.send_text(AGENT, "wangcg", "again")["errcode"] == 0


def test_a_server_error_is_a_wechat_client_exception(fake: FakeWeCom) -> None:
    client = client_for(fake)
    client.message.send_text(AGENT, "wangcg", "warm up")  # the token is fetched first
    fake.fail_next(1)

    with pytest.raises(WeChatClientException) as failed:
        client.message.send_text(AGENT, "wangcg", "hi")

    assert failed.value.errcode is None
    assert failed.value.response is not None and failed.value.response.status_code == 500
    assert fake.calls[-1].status == 500 and fake.calls[-1].response["errcode"] == -1


def test_fail_next_with_a_path_leaves_other_paths_alone(fake: FakeWeCom) -> None:
    fake.fail_next(2, status=502, path_suffix="appchat/send")
    client = client_for(fake)
    assert client.message.send_text(AGENT, "wangcg", "hi")["errcode"] == 0
    for _ in range(2):
        with pytest.raises(WeChatClientException):
            client.appchat.send_text("wrVMI01", "hi")
    assert client.appchat.send_text("wrVMI01", "hi")["errcode"] == 0
    assert [c.status for c in fake.calls_to("appchat/send")] == [502, 502, 200]


def test_a_wrong_corp_id_or_secret_gets_no_token(fake: FakeWeCom) -> None:
    with pytest.raises(WeChatClientException) as wrong_corp:
        client_for(fake, corp_id="ww-other").message.send_text(AGENT, "wangcg", "hi")
    assert wrong_corp.value.errcode == 40013
    with pytest.raises(WeChatClientException) as wrong_secret:
        client_for(fake, secret="nope").message.send_text(AGENT, "wangcg", "hi")
    assert wrong_secret.value.errcode == 40001
    assert fake.tokens_issued == 0 and not fake.calls_to("message/send")


def test_a_missing_or_unknown_token_is_refused(fake: FakeWeCom) -> None:
    url = fake.base_url + "/cgi-bin/message/send"
    body = {"touser": "wangcg", "agentid": AGENT, "msgtype": "text", "text": {"content": "hi"}}
    assert post(url, body) == (200, {"errcode": 41001, "errmsg": "access_token missing"})
    assert post(url, body, access_token="made-up") == (
        200,
        {"errcode": 40014, "errmsg": "invalid access_token"},
    )


def test_a_template_card_and_its_update(fake: FakeWeCom) -> None:
    card = Card(
        "补货建议 P1",
        lines=("建议补货 1200 件",),
        buttons=(Button("确认", "confirm", "P1", "primary"), Button("拒绝", "reject", "P1")),
    )
    client = client_for(fake)
    message = {"msgtype": "template_card", "template_card": template_card(card, "vmi-1")}

    sent = client.message.send(AGENT, "wangcaigou", msg=message)

    assert sent["errcode"] == 0 and sent["msgid"] and sent["response_code"]
    [call] = fake.calls_to("message/send")
    assert call.body is not None
    assert call.body["template_card"]["button_list"][0]["key"] == "confirm:P1"
    update = {
        "userids": ["wangcaigou"],
        "agentid": AGENT,
        "response_code": sent["response_code"],
        "button": {"replace_name": "已确认"},
    }
    answer = client.post("message/update_template_card", data=update)
    assert answer == {"errcode": 0, "errmsg": "ok", "invaliduser": []}
    with pytest.raises(WeChatClientException) as used:  # a response_code is good once
        client.post("message/update_template_card", data=update)
    assert used.value.errcode == 40058
    with pytest.raises(WeChatClientException) as again:  # a task_id too
        client.message.send(AGENT, "wangcaigou", msg=message)
    assert again.value.errcode == 40058
    click = {**update, "response_code": fake.new_response_code()}
    assert client.post("message/update_template_card", data=click)["errcode"] == 0


def test_response_codes_of_a_test_own_are_taken_once_unless_strict() -> None:
    update = {"userids": ["u"], "agentid": AGENT, "button": {"replace_name": "x"}}
    with FakeWeCom() as lenient, FakeWeCom(strict_response_codes=True) as strict:
        assert client_for(lenient).post(
            "message/update_template_card", data={**update, "response_code": "RC-1"}
        )["errcode"] == 0  # fmt: skip
        with pytest.raises(WeChatClientException):
            client_for(strict).post(
                "message/update_template_card", data={**update, "response_code": "RC-1"}
            )


def test_a_bad_task_id_or_message_is_refused(fake: FakeWeCom) -> None:
    client = client_for(fake)
    card = {"card_type": "button_interaction", "main_title": {"title": "t"}, "task_id": "a b"}
    with pytest.raises(WeChatClientException) as bad_task:
        client.message.send(AGENT, "u", msg={"msgtype": "template_card", "template_card": card})
    assert bad_task.value.errcode == 40058
    with pytest.raises(WeChatClientException) as bad_type:
        client.message.send(AGENT, "u", msg={"msgtype": "sticker", "sticker": {}})
    assert bad_type.value.errcode == 40008
    with pytest.raises(WeChatClientException) as empty:
        client.message.send_text(AGENT, "u", "")
    assert empty.value.errcode == 44004
    with pytest.raises(WeChatClientException) as nobody:
        client.message.send_text(AGENT, "", "hi")
    assert nobody.value.errcode == 40058


def test_the_agent_id_is_checked_when_given() -> None:
    with FakeWeCom(agent_id=AGENT) as fake:
        client = client_for(fake)
        assert client.message.send_text(str(AGENT), "u", "hi")["errcode"] == 0
        with pytest.raises(WeChatClientException) as wrong:
            client.message.send_text(1000003, "u", "hi")
        assert wrong.value.errcode == 40056


def test_a_group_post_to_an_app_chat(fake: FakeWeCom) -> None:
    content = card_markdown(Card("结算单", lines=("合计 1,062.50 元",)))
    answer = client_for(fake).appchat.send("wrVMI01", "markdown", content=content)

    assert answer == {"errcode": 0, "errmsg": "ok"}
    [call] = fake.calls_to("appchat/send")
    assert call.body is not None
    assert call.body["chatid"] == "wrVMI01" and call.body["markdown"] == {"content": content}


def test_the_group_robot_needs_a_key_not_a_token(fake: FakeWeCom) -> None:
    url = fake.base_url + "/cgi-bin/webhook/send"
    body = {"msgtype": "markdown", "markdown": {"content": "**结算单**"}}
    assert post(url, body, key="robot-key") == (200, {"errcode": 0, "errmsg": "ok"})
    assert post(url, body)[1]["errcode"] == 93000
    assert post(url, {"msgtype": "text", "text": {"content": ""}}, key="k")[1]["errcode"] == 44004
    assert fake.tokens_issued == 0
    [ok, no_key, _] = fake.calls_to("webhook/send")
    assert ok.query == {"key": "robot-key"} and ok.body == body and no_key.query == {}
    with FakeWeCom(webhook_keys={"robot-key"}) as only:
        only_url = only.base_url + "/cgi-bin/webhook/send"
        assert post(only_url, body, key="robot-key")[1]["errcode"] == 0
        assert post(only_url, body, key="other")[1]["errcode"] == 93000


def test_the_group_robot_takes_20_messages_a_minute(fake: FakeWeCom) -> None:
    url = fake.base_url + "/cgi-bin/webhook/send"
    body = {"msgtype": "text", "text": {"content": "hi"}}
    codes = [post(url, body, key="robot-key")[1]["errcode"] for _ in range(21)]
    assert codes == [0] * 20 + [45009]
    assert post(url, body, key="another-robot")[1]["errcode"] == 0  # per robot
    with FakeWeCom(webhook_per_minute=None) as unlimited:
        unlimited_url = unlimited.base_url + "/cgi-bin/webhook/send"
        assert {post(unlimited_url, body, key="k")[1]["errcode"] for _ in range(25)} == {0}


def test_a_body_that_is_not_json_or_an_unknown_path(fake: FakeWeCom) -> None:
    client = client_for(fake)
    token = client.access_token
    request = urllib.request.Request(
        f"{fake.base_url}/cgi-bin/message/send?access_token={token}", data=b"{not json"
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert json.loads(answer.read())["errcode"] == 47001
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{fake.base_url}/cgi-bin/nothing", timeout=5)
    missing.value.close()
    assert missing.value.code == 404


def test_wait_for_sees_calls_from_other_threads_and_times_out(fake: FakeWeCom) -> None:
    client = client_for(fake)
    client.fetch_access_token()
    threads = [
        threading.Thread(target=client.message.send_text, args=(AGENT, "u", str(i)))
        for i in range(8)
    ]
    for t in threads:
        t.start()
    calls = fake.wait_for("message/send", 8, timeout=10)
    for t in threads:
        t.join()
    assert len(calls) == 8 and len({c.response["msgid"] for c in calls}) == 8
    assert [c.at for c in fake.calls] == sorted(c.at for c in fake.calls)
    with pytest.raises(TimeoutError, match="0 of 1 appchat/send"):
        fake.wait_for("appchat/send", timeout=0.1)


def test_reset_forgets_calls_and_failures(fake: FakeWeCom) -> None:
    client = client_for(fake)
    client.message.send_text(AGENT, "u", "hi")
    fake.fail_next(3)
    fake.reset()
    assert fake.calls == []
    assert client.message.send_text(AGENT, "u", "hi")["errcode"] == 0


def test_start_and_stop() -> None:
    fake = FakeWeCom()
    with pytest.raises(RuntimeError):
        _ = fake.base_url
    fake.start()
    url = fake.base_url
    with pytest.raises(RuntimeError):
        fake.start()
    fake.stop()
    fake.stop()  # twice is fine
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/cgi-bin/gettoken", timeout=2)
