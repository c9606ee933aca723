"""The status of one agreement (`vmi-bot status --agreement ID`, `GET /api/status?agreement=ID`)
shows that agreement and reads none of the others' rows; nor does a message of one agreement."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import event

from bot.app.bootstrap import start
from bot.app.server import build_service
from bot.runtime.context import Runtime
from bot.services.status import status
from bot.settings import Settings
from bot.storage.db import transaction
from bot.storage.stock import record_count, stock_levels
from handlers.conversation import handle
from handlers.incoming import Incoming
from tests.support import DATA, EXAMPLE, shanghai

VMI_BOT = str(Path(sys.executable).with_name("vmi-bot"))
NOW = shanghai(2026, 11, 24, 9, 0)


def two_agreements(tmp_path: Path) -> str:
    """The example with a second customer's agreement (motor-6205) beside plant-6205."""
    extra = (DATA / "second_customer.toml").read_text(encoding="utf-8")
    path = tmp_path / "two.toml"
    path.write_text(EXAMPLE.read_text(encoding="utf-8") + "\n" + extra, encoding="utf-8")
    return str(path)


def counted(config: str, url: str, settings: Settings | None = None) -> Runtime:
    rt = start(config, url, settings)
    with transaction(rt.engine) as s:
        record_count(s, "plant-6205", "6205", 45, shanghai(2026, 11, 21, 10, 0), "keeper")
        record_count(s, "motor-6205", "6206", 7, shanghai(2026, 11, 21, 10, 0), "motorkeeper")
    return rt


def values(parameters: Any) -> Iterator[object]:
    """Every bound value of a statement, however the driver was handed them."""
    if isinstance(parameters, dict):
        yield from parameters.values()
    elif isinstance(parameters, list | tuple):
        for value in parameters:
            yield from values(value) if isinstance(value, list | tuple | dict) else [value]


@contextmanager
def statements_run(rt: Runtime) -> Iterator[list[tuple[str, list[object]]]]:
    """Every statement the database runs within the block, with the values bound to it."""
    said: list[tuple[str, list[object]]] = []

    def heard(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        said.append((statement, list(values(parameters))))

    event.listen(rt.engine, "before_cursor_execute", heard)
    try:
        yield said
    finally:
        event.remove(rt.engine, "before_cursor_execute", heard)


def test_the_status_of_one_agreement_reads_only_its_rows(tmp_path: Path) -> None:
    rt = counted(two_agreements(tmp_path), f"sqlite:///{tmp_path / 'vmi.sqlite'}")
    with statements_run(rt) as said, transaction(rt.engine, read_only=True) as session:
        document = status(session, rt.config, NOW, ["motor-6205"])
    [agreement] = document["agreements"]
    assert agreement["id"] == "motor-6205"
    assert [(i["sku"], i["on_hand"]) for i in agreement["items"]][:2] == [("6205", 0), ("6206", 7)]
    reads = [(sql, bound) for sql, bound in said if sql.lstrip().upper().startswith("SELECT")]
    assert reads, "status read nothing"
    for sql, bound in reads:  # every read names the agreement, and only it
        assert "agreement_id" in sql, sql
        assert "motor-6205" in bound and "plant-6205" not in bound, (sql, bound)
    rt.engine.dispose()


def test_vmi_bot_status_for_one_agreement(tmp_path: Path) -> None:
    config, url = two_agreements(tmp_path), f"sqlite:///{tmp_path / 'vmi.sqlite'}"
    counted(config, url).engine.dispose()
    common = [VMI_BOT, "--config", config, "--db", url, "status"]
    at = ["--now", "2026-11-24T09:00:00+08:00"]
    run = subprocess.run([*common, "--json", "--agreement", "motor-6205", *at],
                         capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert [a["id"] for a in json.loads(run.stdout)["agreements"]] == ["motor-6205"]
    both = subprocess.run([*common, "--json", *at],
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert [a["id"] for a in json.loads(both.stdout)["agreements"]] == ["plant-6205", "motor-6205"]
    wrong = subprocess.run([*common, "--agreement", "motor-9999"],
                           capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert wrong.returncode == 2 and wrong.stdout == ""
    assert "no agreement 'motor-9999'; known: plant-6205, motor-6205" in wrong.stderr


def test_the_status_api_for_one_agreement(tmp_path: Path) -> None:
    settings = Settings(vmi_api_token=SecretStr("api-secret"))
    rt = counted(two_agreements(tmp_path), f"sqlite:///{tmp_path / 'vmi.sqlite'}", settings)
    client = build_service(rt).app.test_client()
    token = {"Authorization": "Bearer api-secret"}
    one = client.get("/api/status?agreement=motor-6205", headers=token)
    assert one.status_code == 200
    assert [a["id"] for a in one.get_json()["agreements"]] == ["motor-6205"]
    assert [a["id"] for a in client.get("/api/status", headers=token).get_json()["agreements"]] == [
        "plant-6205",
        "motor-6205",
    ]
    unknown = client.get("/api/status?agreement=nope", headers=token)
    assert (unknown.status_code, unknown.get_json()) == (404, {"error": "unknown agreement"})
    assert client.get("/api/status?agreement=motor-6205").status_code == 401
    rt.engine.dispose()


def test_a_message_reads_only_its_own_agreements_rows(tmp_path: Path) -> None:
    rt = counted(two_agreements(tmp_path), f"sqlite:///{tmp_path / 'vmi.sqlite'}")
    with statements_run(rt) as said:  # a count of the second customer's item
        said_at = NOW + timedelta(hours=1)
        handle(rt.engine, rt.config, Incoming("console", "motor-6205", "motorkeeper", "m1",
                                              said_at, "6206 5"))  # fmt: skip
    reads = [(sql, bound) for sql, bound in said if "agreement_id" in sql]
    assert any("amendment" in sql for sql, _ in reads), "the terms were not read"
    for sql, bound in reads:  # whatever names agreements names only this one
        assert "plant-6205" not in bound, (sql, bound)
    with transaction(rt.engine) as s:
        assert stock_levels(s, ["motor-6205"], ["6206"])[("motor-6205", "6206")].on_hand == 5
    rt.engine.dispose()
