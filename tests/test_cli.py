"""The `vmi-bot` command as a user runs it: a real process, a real database."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bot.app.bootstrap import start
from bot.storage.db import transaction
from bot.storage.stock import record_count
from tests.support import EXAMPLE, serve, shanghai

VMI_BOT = str(Path(sys.executable).with_name("vmi-bot"))


def vmi_bot(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [VMI_BOT, *args], capture_output=True, text=True, timeout=60, cwd=cwd, check=False
    )


def test_count_45_then_check_proposes_55_once_and_status_shows_it(database_url: str) -> None:
    rt = start(str(EXAMPLE), database_url)
    with transaction(rt.engine) as s:
        record_count(s, "plant-6205", "6205", 45, shanghai(2026, 11, 21, 10, 0), "keeper")
    rt.engine.dispose()
    common = ("--config", str(EXAMPLE), "--db", database_url)

    first = vmi_bot(*common, "check", "--now", "2026-11-21T11:00:00+08:00")
    assert first.returncode == 0, first.stderr
    assert "P1 55 件" in first.stdout and "库存位置 45 < 补货线 50" in first.stdout

    second = vmi_bot(*common, "check", "--now", "2026-11-24T08:00:00+08:00")
    assert second.returncode == 0, second.stderr
    assert "P2" not in second.stdout and "没有新的补货建议" in second.stdout

    shown = vmi_bot(*common, "status", "--json", "--now", "2026-11-24T09:00:00+08:00")
    assert shown.returncode == 0, shown.stderr
    [agreement] = json.loads(shown.stdout)["agreements"]
    [item] = agreement["items"]
    assert (agreement["id"], agreement["customer"], agreement["supplier"]) == (
        "plant-6205",
        "plant",
        "bearing-co",
    )
    assert (item["sku"], item["on_hand"], item["in_transit"], item["position"]) == (
        "6205",
        45,
        0,
        100,
    )
    assert (item["min"], item["max"], item["aged_qty"]) == (50, 100, 0)
    assert item["last_count_at"] == "2026-11-21T10:00:00+08:00"
    assert [(p["id"], p["qty"], p["state"], p["urgent"]) for p in item["open_proposals"]] == [
        ("P1", 55, "proposed", False)
    ]

    text = vmi_bot(*common, "status", "--now", "2026-11-24T09:00:00+08:00")
    assert "现有 45 件" in text.stdout and "P1：55 件，待确认" in text.stdout


def test_help_names_every_command() -> None:
    shown = vmi_bot("--help")
    assert shown.returncode == 0
    for command in ("check", "status"):
        assert command in shown.stdout
    assert "--config" in shown.stdout and "--db" in shown.stdout


def test_a_broken_config_stops_with_one_line_per_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        EXAMPLE.read_text(encoding="utf-8")
        .replace("min = 50", "min = 150")
        .replace('timezone = "Asia/Shanghai"', 'timezone = "Asia/Shanghia"'),
        encoding="utf-8",
    )
    shown = vmi_bot("--config", str(bad), "--db", f"sqlite:///{tmp_path / 'x.sqlite'}", "status")
    assert shown.returncode == 2
    lines = shown.stderr.strip().splitlines()
    assert len(lines) == 2
    assert any("agreements[0].items[0].min" in line for line in lines)
    assert any("bot.timezone" in line and "Asia/Shanghia" in line for line in lines)
    assert not (tmp_path / "x.sqlite").exists()  # nothing was started


def test_a_bad_now_is_refused_with_an_example(tmp_path: Path) -> None:
    shown = vmi_bot(
        "--config", str(EXAMPLE), "--db", f"sqlite:///{tmp_path / 'x.sqlite'}",
        "check", "--now", "tomorrow",
    )  # fmt: skip
    assert shown.returncode == 2
    assert "not an ISO 8601 time" in shown.stderr and "2026-11-21T10:00:00+08:00" in shown.stderr


def test_a_database_in_a_missing_folder_names_the_folder(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "dir" / "x.sqlite"
    shown = vmi_bot("--config", str(EXAMPLE), "--db", f"sqlite:///{missing}", "status")
    assert shown.returncode == 2
    assert shown.stderr.count("\n") == 1
    assert f"{missing.parent} does not exist" in shown.stderr
    assert "sqlite:///path/file.sqlite" in shown.stderr and "postgresql://" in shown.stderr


@pytest.mark.parametrize("url", ["foo", "mysql://u:secret@h/d"])
def test_a_database_url_we_cannot_use_says_what_one_looks_like(tmp_path: Path, url: str) -> None:
    shown = vmi_bot("--config", str(EXAMPLE), "--db", url, "status", cwd=tmp_path)
    assert shown.returncode == 2
    assert shown.stderr.count("\n") == 1 and "sqlite:///path/file.sqlite" in shown.stderr
    assert "secret" not in shown.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_global_option_after_the_command_gets_a_hint() -> None:
    shown = vmi_bot("status", "--db", "sqlite:///x.sqlite")
    assert shown.returncode == 2 and shown.stderr.count("\n") == 1
    assert "--db goes before the command" in shown.stderr


def test_in_an_empty_folder_the_shipped_example_is_used_and_a_new_file_named_once(
    tmp_path: Path,
) -> None:
    first = vmi_bot("status", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "plant-6205" in first.stdout
    notes = first.stderr.strip().splitlines()
    assert len(notes) == 2
    assert "using the example installed with vmi-bot" in notes[0] and "vmi-bot init" in notes[0]
    assert notes[1] == f"vmi-bot: new database {tmp_path.resolve() / 'vmi-bot.sqlite'}"
    again = vmi_bot("status", cwd=tmp_path)
    assert "new database" not in again.stderr and again.stderr.count("\n") == 1


def test_demo_runs_in_an_empty_folder(tmp_path: Path) -> None:
    shown = vmi_bot("demo", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "1062.50" in shown.stdout.replace(",", "")
    assert list(tmp_path.iterdir()) == []  # its database is a temporary one


def test_init_writes_a_commented_agreement_that_loads_and_never_overwrites(tmp_path: Path) -> None:
    made = vmi_bot("init", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    written = tmp_path / "vmi-bot.toml"
    assert "vmi-bot --config vmi-bot.toml chat" in made.stdout
    assert written.read_text(encoding="utf-8").startswith("#")
    used = vmi_bot("--config", str(written), "status", cwd=tmp_path)
    assert used.returncode == 0, used.stderr
    written.write_text("# mine\n", encoding="utf-8")
    again = vmi_bot("init", str(written), cwd=tmp_path)
    assert again.returncode == 2 and "exists already" in again.stderr
    assert written.read_text(encoding="utf-8") == "# mine\n"


@pytest.mark.parametrize("port", ["-1", "70000", "http"])
def test_a_port_out_of_range_is_one_line(port: str) -> None:
    shown = vmi_bot("serve", "--port", port)
    assert shown.returncode == 2 and shown.stderr.count("\n") == 1
    assert "port" in shown.stderr


def test_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        shown = vmi_bot(
            "--config", str(EXAMPLE), "--db", f"sqlite:///{tmp_path / 'x.sqlite'}",
            "serve", "--port", str(port),
        )  # fmt: skip
    assert shown.returncode == 2
    [line] = [x for x in shown.stderr.splitlines() if "cannot listen" in x]
    assert line.startswith(f"vmi-bot: cannot listen on 127.0.0.1:{port}") and "--port" in line
    assert "Traceback" not in shown.stderr


def test_serve_help_names_the_paths_and_the_defaults() -> None:
    shown = vmi_bot("serve", "--help")
    assert shown.returncode == 0
    text = " ".join(shown.stdout.split())
    for words in ("/wecom/callback", "/slack/events", "/healthz", "127.0.0.1", "8080"):
        assert words in text


def test_defaults_are_the_example_config_and_a_sqlite_file_here(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "example.toml").write_text(EXAMPLE.read_text(encoding="utf-8"))
    shown = vmi_bot("status", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "plant-6205" in shown.stdout
    assert (tmp_path / "vmi-bot.sqlite").exists()


def test_a_malformed_database_url_is_one_line(tmp_path: Path) -> None:
    shown = vmi_bot("--config", str(EXAMPLE), "--db", "postgresql://u:p@h:notaport/d", "status")
    assert shown.returncode == 2
    assert shown.stderr.count("\n") == 1 and "cannot use the database URL" in shown.stderr
    assert "p@h" not in shown.stderr  # the password never shows


def test_an_unknown_command_is_one_line_pointing_to_help() -> None:
    shown = vmi_bot("frobnicate")
    assert shown.returncode == 2
    assert shown.stderr.count("\n") == 1 and "vmi-bot --help" in shown.stderr


def test_serve_with_no_platform_says_what_it_serves_and_how_to_turn_one_on(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "WECOM_"))}
    process, said = serve(f"sqlite:///{tmp_path / 'x.sqlite'}", env)
    process.terminate()
    process.wait(timeout=30)
    [note] = [line for line in said if "no platform" in line]
    assert "only GET /healthz and GET /api/status (with VMI_API_TOKEN) are served" in note
    assert "SLACK_BOT_TOKEN" in note and "WECOM_CORP_ID" in note


@pytest.mark.parametrize(
    "command",
    [("status",), ("settle",), ("retro", "--month", "2026-11"), ("export",), ("simulate",)],
)
def test_an_agreement_the_file_lacks_is_refused_naming_the_known_ones(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    db = f"sqlite:///{tmp_path / 'vmi.sqlite'}"
    done = vmi_bot("--config", str(EXAMPLE), "--db", db, *command, "--agreement", "nope",
                   cwd=tmp_path)  # fmt: skip
    assert done.returncode == 2
    assert "no agreement 'nope'; known: plant-6205" in done.stderr
    assert not list(tmp_path.glob("*.xlsx"))  # nothing written for it
