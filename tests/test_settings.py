"""The environment, read once at start: a bad value is one line before anything starts, secrets
never show, and the settings `serve` was given are the ones its scheduled jobs post with."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bot.app.bootstrap import start
from bot.app.server import build_service
from bot.runtime import jobs
from bot.runtime.jobs import run_scheduled_settlement
from bot.settings import Settings, SettingsError
from tests.fake_slack import FakeSlack
from tests.support import EXAMPLE, serve

VMI_BOT = str(Path(sys.executable).with_name("vmi-bot"))
SECRETS = {"WECOM_CORP_SECRET": "corp-s3cret", "SLACK_SIGNING_SECRET": "signing-s3cret",
           "SLACK_BOT_TOKEN": "xoxb-s3cret", "VMI_API_TOKEN": "api-s3cret"}  # fmt: skip


def environment(**values: str) -> dict[str, str]:
    """This process's environment without any platform's variables, plus `values`."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "WECOM_", "VMI_"))}
    return {**kept, **values}


def test_a_wecom_agent_id_that_is_no_number_stops_serve_with_one_line(tmp_path: Path) -> None:
    env = environment(WECOM_CORP_ID="ww-corp", WECOM_AGENT_ID="abc", **SECRETS)
    db = tmp_path / "vmi.sqlite"
    shown = subprocess.run(
        [VMI_BOT, "--config", str(EXAMPLE), "--db", f"sqlite:///{db}", "serve", "--port", "0"],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )  # fmt: skip
    assert shown.returncode == 2
    assert shown.stderr == 'WECOM_AGENT_ID: must be a whole number, got "abc"\n'
    assert shown.stdout == ""
    assert not db.exists()  # stopped before anything started


def test_serve_never_logs_a_secret(tmp_path: Path) -> None:
    env = environment(WECOM_CORP_ID="ww-corp", WECOM_AGENT_ID="1000002",
                      WECOM_API_BASE_URL="http://127.0.0.1:9", **SECRETS)  # fmt: skip
    process, said = serve(f"sqlite:///{tmp_path / 'vmi.sqlite'}", env)
    try:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        said.append(process.stderr.read() if process.stderr else "")
    finally:
        process.kill()
    log = "".join(said)
    assert "WeCom callback off" in log  # it did say what it had to say
    assert not [value for value in SECRETS.values() if value in log]


def test_secrets_show_as_stars() -> None:
    settings = Settings(slack_bot_token="xoxb-s3cret", wecom_corp_secret="corp-s3cret",
                        database_url="postgresql://vmi:pw-s3cret@db/vmi")  # fmt: skip
    shown = f"{settings!r} {settings}"
    assert "s3cret" not in shown and "**********" in shown


def test_a_platform_is_on_when_its_variables_are_set() -> None:
    assert Settings().platforms_on == {"console"}
    assert Settings(slack_bot_token="x", slack_signing_secret="s").platforms_on == {
        "console",
        "slack",
    }
    assert Settings(slack_bot_token="x", slack_app_token="xapp").slack_on  # Socket Mode alone
    assert not Settings(slack_bot_token="x").slack_on
    wecom = Settings(wecom_corp_id="ww", wecom_corp_secret="s", wecom_agent_id=1000002)
    assert wecom.platforms_on == {"console", "wecom"} and not wecom.wecom_callback_on
    assert not Settings(wecom_corp_id="ww", wecom_corp_secret="s", wecom_agent_id="").wecom_on


def test_settings_built_with_values_ignore_the_environment() -> None:
    # a developer's shell may hold real tokens; a test's settings must not pick them up
    assert Settings(vmi_config="a.toml").slack_bot_token is None


def test_the_scheduled_jobs_post_on_the_platforms_serve_was_given(
    tmp_path: Path,
) -> None:
    slack = FakeSlack()
    slack.start()
    settings = Settings(slack_bot_token="xoxb-test", slack_signing_secret="s",
                        slack_api_base_url=slack.base_url)  # fmt: skip
    runtime = start(str(EXAMPLE), f"sqlite:///{tmp_path / 'vmi.sqlite'}", settings)
    service = build_service(runtime)
    jobs.activate(runtime)
    try:
        run_scheduled_settlement("plant-6205")
        while service.delivery.run_once():
            pass
    finally:
        jobs.activate(None)
        slack.stop()
        runtime.engine.dispose()
    [posted] = slack.calls_to("chat.postMessage")
    assert posted.params["channel"] == "C01VMI" and "结算单" in posted.params["text"]


def test_feishu_is_on_with_its_app_and_listens_on_the_long_connection_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    feishu = Settings(feishu_app_id="cli_1", feishu_app_secret="s")
    assert feishu.platforms_on == {"console", "feishu"} and feishu.feishu_long_connection
    assert not Settings(feishu_app_id="cli_1", feishu_app_secret="s",
                        feishu_mode="http").feishu_long_connection  # fmt: skip
    assert not Settings(feishu_app_id="cli_1").feishu_on
    monkeypatch.setenv("FEISHU_MODE", "webhook")
    with pytest.raises(SettingsError) as refused:
        Settings.from_environment()
    assert str(refused.value).startswith("FEISHU_MODE: ")
    monkeypatch.setenv("FEISHU_MODE", "")  # switched off: the default
    assert Settings.from_environment().feishu_mode is None
