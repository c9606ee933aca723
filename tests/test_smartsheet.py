"""The WeCom smart sheet (智能表格) mirror: an agreement with `wecom_smartsheet = true` gets one
doc, created by the bot through WeCom's `wedoc` API and shared with its members, whose records
follow the stock rows after every change. Against the fake WeCom API (tests/fake_wecom.py) on
loopback, on SQLite and, when TEST_DATABASE_URL is set, on PostgreSQL."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from bot.adapters.wecom.client import WeComClient
from bot.adapters.wecom.smartsheet import WeComSmartSheet
from bot.app.bootstrap import start
from bot.app.server import build_service
from bot.config import ConfigError
from bot.runtime.context import Runtime
from bot.runtime.smartsheet_mirror import SmartSheetMirror
from bot.settings import Settings
from bot.storage.db import transaction
from bot.storage.tables import SmartSheetDocRow, SmartSheetRecordRow
from tests.fake_wecom import CORP_ID, CORP_SECRET, FakeWeCom
from tests.group_chat import say, text_of
from tests.support import EXAMPLE, shanghai

T0 = shanghai(2026, 11, 21, 10, 0)
TITLES = ["物料", "名称", "库存", "在途", "库存位置", "补货线", "安全线", "可用天数", "最后盘点",
          "盘点人"]  # fmt: skip


def millis(at: datetime) -> str:
    """A time as WeCom's date cell holds it: milliseconds since the epoch, as text."""
    return str(int(at.timestamp() * 1000))


def mirrored_config(tmp_path: Path, locale: str = "zh") -> Path:
    """The example agreement with the mirror on."""
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace('wecom_chat = "wrVMI01"', 'wecom_smartsheet = true\nwecom_chat = "wrVMI01"')
    text = text.replace('locale = "zh"', f'locale = "{locale}"', 1)
    path = tmp_path / "smartsheet.toml"
    path.write_text(text, encoding="utf-8")
    return path


@dataclass
class Clock:
    """The time the mirror reads, moved on by the test."""

    at: datetime

    def __call__(self) -> datetime:
        return self.at


@dataclass
class Scene:
    rt: Runtime
    wecom: FakeWeCom
    clock: Clock

    def mirror(self) -> SmartSheetMirror:
        """A mirror as a process starts one (each its own lease owner)."""
        client = WeComClient(CORP_ID, CORP_SECRET, self.wecom.base_url)
        return SmartSheetMirror(self.rt.engine, self.rt.config, WeComSmartSheet(client),
                                clock=self.clock)  # fmt: skip

    def docid(self) -> str:
        [docid] = self.wecom.docs
        return docid

    def rows(self) -> list[dict[str, object]]:
        return self.wecom.sheet_rows(self.docid())


@pytest.fixture
def wecom() -> Iterator[FakeWeCom]:
    with FakeWeCom() as fake:
        yield fake


@pytest.fixture
def scene(database_url: str, tmp_path: Path, wecom: FakeWeCom) -> Iterator[Scene]:
    rt = start(str(mirrored_config(tmp_path)), database_url)
    try:
        yield Scene(rt, wecom, Clock(T0))
    finally:
        rt.engine.dispose()


def test_the_doc_is_created_once_shared_with_the_members_and_holds_a_row_per_item(
    scene: Scene,
) -> None:
    scene.mirror().pass_once()
    scene.mirror().pass_once()  # a second process, or the same after a restart
    assert len(scene.wecom.calls_to("wedoc/create_doc")) == 1
    [create] = scene.wecom.calls_to("wedoc/create_doc")
    assert create.body is not None and create.body["doc_type"] == 10
    doc = scene.wecom.docs[scene.docid()]
    # both sides read; the admin edits
    assert doc["members"] == {"wangcg": 1, "wangcaigou": 1, "ligy": 1, "admin": 2}
    [sheet] = doc["sheets"].values()
    assert list(sheet["fields"]) == TITLES
    assert sheet["fields"]["库存"]["field_type"] == "FIELD_TYPE_NUMBER"
    assert sheet["fields"]["最后盘点"]["field_type"] == "FIELD_TYPE_DATE_TIME"
    [row] = scene.rows()
    assert row["物料"] == "6205" and row["名称"] == "6205 深沟球轴承"
    assert (row["库存"], row["补货线"], row["安全线"]) == (0, 50, 100)
    assert "最后盘点" not in row  # never counted: the cell is left empty
    assert len(scene.wecom.calls_to("add_records")) == 1
    assert not scene.wecom.calls_to("update_records")
    assert len(scene.wecom.calls_to("mod_doc_member")) == 1


def test_after_a_count_the_record_shows_it_and_an_unchanged_row_is_not_written_again(
    scene: Scene,
) -> None:
    mirror = scene.mirror()
    mirror.pass_once()
    say(scene.rt, "keeper", "6205 库存 45", T0)
    scene.clock.at = T0 + timedelta(minutes=1)
    mirror.pass_once()
    [update] = scene.wecom.calls_to("update_records")
    assert update.body is not None and len(update.body["records"]) == 1
    [row] = scene.rows()
    assert (row["库存"], row["库存位置"], row["在途"]) == (45, 45, 0)
    assert row["最后盘点"] == millis(T0) and row["盘点人"] == "王仓管"
    mirror.pass_once()
    scene.mirror().pass_once()
    assert len(scene.wecom.calls_to("update_records")) == 1  # nothing changed, nothing written
    # a withdrawal, then its undo: each pass writes the row as it stands
    say(scene.rt, "keeper", "领用 6205 10", T0 + timedelta(minutes=2))
    mirror.pass_once()
    assert scene.rows()[0]["库存"] == 35
    say(scene.rt, "keeper", "撤销", T0 + timedelta(minutes=3))
    mirror.pass_once()
    assert scene.rows()[0]["库存"] == 45
    assert len(scene.rows()) == 1


def test_changes_made_while_no_mirror_ran_are_mirrored_at_the_next_start(scene: Scene) -> None:
    scene.mirror().pass_once()
    say(scene.rt, "keeper", "6205 库存 45", T0)
    say(scene.rt, "keeper", "领用 6205 5", T0 + timedelta(minutes=1))
    scene.mirror().pass_once()  # the process started again: one write of the row as it is
    [update] = scene.wecom.calls_to("update_records")
    assert update.body is not None and len(update.body["records"]) == 1
    assert scene.rows()[0]["库存"] == 40


def test_a_rate_limit_is_waited_out_and_the_rows_still_end_in_step(scene: Scene) -> None:
    mirror = scene.mirror()
    mirror.pass_once()
    say(scene.rt, "keeper", "6205 库存 45", T0)
    scene.wecom.fail_next(1, errcode=45009, path_suffix="update_records")
    mirror.pass_once()
    assert scene.rows()[0]["库存"] == 0  # WeCom refused it: api freq out of limit
    mirror.pass_once()
    scene.mirror().pass_once()  # no process tries again before the wait is over
    assert len(scene.wecom.calls_to("update_records")) == 1
    scene.clock.at = T0 + timedelta(seconds=61)
    mirror.pass_once()
    assert scene.rows()[0]["库存"] == 45
    assert len(scene.wecom.calls_to("update_records")) == 2


def test_an_expired_token_is_renewed_and_the_call_made_again(scene: Scene) -> None:
    mirror = scene.mirror()
    mirror.pass_once()
    say(scene.rt, "keeper", "6205 库存 45", T0)
    scene.wecom.expire_tokens()
    mirror.pass_once()
    assert scene.rows()[0]["库存"] == 45
    assert scene.wecom.tokens_issued == 2
    assert [c.response.get("errcode") for c in scene.wecom.calls_to("update_records")] == [42001, 0]


def test_a_doc_the_app_may_not_edit_marks_the_mirror_failed_without_looping(
    scene: Scene, caplog: pytest.LogCaptureFixture
) -> None:
    mirror = scene.mirror()
    mirror.pass_once()
    say(scene.rt, "keeper", "6205 库存 45", T0)
    scene.wecom.fail_next(1, errcode=640017, path_suffix="update_records")
    with caplog.at_level(logging.ERROR):
        mirror.pass_once()
    assert "640017" in caplog.text and "failed" in caplog.text
    before = len(scene.wecom.calls)
    say(scene.rt, "keeper", "6205 库存 40", T0 + timedelta(minutes=1))
    scene.clock.at = T0 + timedelta(hours=1)
    mirror.pass_once()
    scene.mirror().pass_once()
    assert len(scene.wecom.calls) == before  # not tried again
    with transaction(scene.rt.engine) as session:
        doc = session.get(SmartSheetDocRow, "plant-6205")
        assert doc is not None and doc.state == "failed"


def test_two_mirrors_at_once_create_one_doc(scene: Scene) -> None:
    first, second = scene.mirror(), scene.mirror()
    scene.wecom.hold("wedoc/create_doc")  # the first one's create_doc is still on its way
    racing = threading.Thread(target=first.pass_once)
    racing.start()
    scene.wecom.wait_for("wedoc/create_doc")
    second.pass_once()  # meanwhile: the doc is being created by the other, so it waits
    scene.wecom.release()
    racing.join(timeout=60)
    threads = [threading.Thread(target=m.pass_once) for m in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(scene.wecom.calls_to("wedoc/create_doc")) == 1
    assert len(scene.wecom.docs) == 1 and len(scene.rows()) == 1


def test_a_record_added_but_not_stored_before_a_crash_is_not_added_twice(scene: Scene) -> None:
    scene.mirror().pass_once()
    with transaction(scene.rt.engine) as session:  # as if the process died after add_records
        session.execute(delete(SmartSheetRecordRow))
    say(scene.rt, "keeper", "6205 库存 45", T0)
    scene.mirror().pass_once()
    assert len(scene.wecom.calls_to("add_records")) == 1
    [row] = scene.rows()
    assert row["库存"] == 45
    with transaction(scene.rt.engine) as session:
        [stored] = session.scalars(select(SmartSheetRecordRow))
        assert stored.record_id == row["record_id"]


def test_a_record_deleted_by_hand_in_the_sheet_is_added_again(scene: Scene) -> None:
    mirror = scene.mirror()
    mirror.pass_once()
    [sheet] = scene.wecom.docs[scene.docid()]["sheets"].values()
    sheet["records"].clear()  # an admin (who may edit) deleted the row in WeCom
    say(scene.rt, "keeper", "6205 库存 45", T0)
    mirror.pass_once()  # the update is refused: 40058 invalid record_id
    assert scene.rows() == []
    scene.clock.at = T0 + timedelta(seconds=2)
    mirror.pass_once()
    [row] = scene.rows()
    assert row["库存"] == 45
    with transaction(scene.rt.engine) as session:
        doc = session.get(SmartSheetDocRow, "plant-6205")
        assert doc is not None and doc.state == "ready"


def test_an_item_taken_out_of_the_agreement_leaves_the_sheet(
    database_url: str, tmp_path: Path, wecom: FakeWeCom
) -> None:
    path = mirrored_config(tmp_path)
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text + '\n[[agreements.items]]\nsku = "6206"\nname = "6206"\nmin = 1\nmax = 2\n'
        "unit_price = 1\n",
        encoding="utf-8",
    )
    rt = start(str(path), database_url)
    Scene(rt, wecom, Clock(T0)).mirror().pass_once()
    rt.engine.dispose()
    path.write_text(text, encoding="utf-8")
    rt = start(str(path), database_url)
    try:
        scene = Scene(rt, wecom, Clock(T0))
        assert [r["物料"] for r in scene.rows()] == ["6205", "6206"]
        scene.mirror().pass_once()
        assert [r["物料"] for r in scene.rows()] == ["6205"]
        assert len(wecom.calls_to("delete_records")) == 1
    finally:
        rt.engine.dispose()


def test_the_sheet_reply_adds_the_smart_sheets_link(scene: Scene) -> None:
    before = text_of(say(scene.rt, "keeper", "表格", T0))
    assert "智能表格" not in before  # no doc yet: the reply as it always was
    scene.mirror().pass_once()
    url = f"https://doc.weixin.qq.com/smartsheet/{scene.docid()}"
    reply = text_of(say(scene.rt, "keeper", "表格", T0))
    assert f"企业微信智能表格：{url}" in reply
    assert before.strip() in reply  # the page's answer is kept
    assert url not in text_of(say(scene.rt, "supplier", "总览", T0))


def test_the_sheet_reply_in_english(tmp_path: Path, wecom: FakeWeCom) -> None:
    rt = start(str(mirrored_config(tmp_path, "en")), f"sqlite:///{tmp_path / 'en.sqlite'}")
    try:
        scene = Scene(rt, wecom, Clock(T0))
        scene.mirror().pass_once()
        doc = wecom.docs[scene.docid()]
        assert list(next(iter(doc["sheets"].values()))["fields"])[:3] == ["SKU", "Name", "On hand"]
        reply = text_of(say(rt, "keeper", "sheet", T0))
        assert f"WeCom smart sheet: https://doc.weixin.qq.com/smartsheet/{scene.docid()}" in reply
    finally:
        rt.engine.dispose()


def test_many_items_are_written_at_most_500_a_call(tmp_path: Path, wecom: FakeWeCom) -> None:
    text = mirrored_config(tmp_path).read_text(encoding="utf-8")
    item = text[text.index("[[agreements.items]]") :]
    extra = "".join(
        "\n[[agreements.items]]\n"
        f'sku = "X{n}"\nname = "part {n}"\nmin = 1\nmax = 2\nunit_price = 1\n'
        for n in range(520)
    )
    path = tmp_path / "many.toml"
    path.write_text(text.replace(item, item + extra), encoding="utf-8")
    rt = start(str(path), f"sqlite:///{tmp_path / 'many.sqlite'}")
    try:
        scene = Scene(rt, wecom, Clock(T0))
        scene.mirror().pass_once()
        sizes = [len(c.body["records"]) for c in wecom.calls_to("add_records") if c.body]
        assert sizes == [500, 21]
        assert len(scene.rows()) == 521
    finally:
        rt.engine.dispose()


def test_the_key_is_a_boolean(tmp_path: Path) -> None:
    path = mirrored_config(tmp_path)
    text = path.read_text(encoding="utf-8")
    key = "wecom_smartsheet = "
    path.write_text(text.replace(f"{key}true", f'{key}"yes"'), encoding="utf-8")
    with pytest.raises(ConfigError, match="wecom_smartsheet"):
        start(str(path), f"sqlite:///{tmp_path / 'vmi.sqlite'}")


def test_serve_keeps_the_mirror_only_when_wecom_is_on(
    tmp_path: Path, wecom: FakeWeCom, caplog: pytest.LogCaptureFixture
) -> None:
    path = str(mirrored_config(tmp_path))
    rt = start(path, f"sqlite:///{tmp_path / 'vmi.sqlite'}", Settings())
    with caplog.at_level(logging.WARNING):
        service = build_service(rt)
    assert service.smartsheet is None
    assert "wecom_smartsheet" in caplog.text and "WeCom is off" in caplog.text
    rt.engine.dispose()
    on = Settings(wecom_corp_id=CORP_ID, wecom_corp_secret=CORP_SECRET, wecom_agent_id="1000002",
                  wecom_api_base_url=wecom.base_url)  # fmt: skip
    rt = start(path, f"sqlite:///{tmp_path / 'vmi.sqlite'}", on)
    rt = replace(rt, clock=Clock(T0))
    service = build_service(rt)
    assert isinstance(service.smartsheet, SmartSheetMirror)
    service.smartsheet.idle_seconds = 600  # from here on only a handled message wakes it
    service.smartsheet.start()
    try:
        wecom.wait_for("add_records")
        say(rt, "keeper", "6205 库存 45", T0)
        service.inbox.on_handled()
        wecom.wait_for("update_records")
        assert wecom.sheet_rows(next(iter(wecom.docs)))[0]["库存"] == 45
    finally:
        service.smartsheet.stop()
        rt.engine.dispose()
