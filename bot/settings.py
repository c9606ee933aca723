"""The environment (CONTRACT §2), read once at start into one typed `Settings`.

`vmi-bot` reads it with `Settings.from_environment()` and passes it down: to the runtime, the
server, the platforms' senders and clients, and the scheduled jobs. Nothing else in the bot
reads the environment. A `Settings` built with values holds those values alone, so tests and
embedders say exactly what is on.

A platform is on when its variables are set: Slack with `SLACK_BOT_TOKEN` and
`SLACK_SIGNING_SECRET` (or `SLACK_APP_TOKEN`), WeCom with `WECOM_CORP_ID`, `WECOM_CORP_SECRET`
and `WECOM_AGENT_ID`, Feishu with `FEISHU_APP_ID` and `FEISHU_APP_SECRET` (`FEISHU_MODE`:
`websocket`, the default, or `http`), DingTalk with `DINGTALK_CLIENT_ID` and
`DINGTALK_CLIENT_SECRET`, the WeCom intelligent robot with `WECOM_BOT_ID` and
`WECOM_BOT_SECRET`; the console always. A variable set but empty counts as not set.
Secrets are `SecretStr`: printed or logged, they show as stars.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

CONSOLE = "console"
SLACK = "slack"
WECOM = "wecom"
DINGTALK = "dingtalk"
FEISHU = "feishu"
WECOM_ROBOT = "wecom_robot"  # the intelligent robot (智能机器人), by its long connection


class SettingsError(Exception):
    """The environment cannot be used: one line per variable, naming it and why."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class Settings(BaseSettings):
    """Every environment variable the bot knows, typed; None when not set.

    The `*_base_url` / `*_ws_url` fields are None for the platform's own endpoint (each adapter
    knows its default).
    """

    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    # Slack
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None  # Socket Mode when set
    slack_api_base_url: str | None = None
    # WeCom (企业微信), a self-built app
    wecom_corp_id: str | None = None
    wecom_corp_secret: SecretStr | None = None
    wecom_agent_id: int | None = None
    wecom_token: SecretStr | None = None
    wecom_encoding_aes_key: SecretStr | None = None
    wecom_api_base_url: str | None = None
    # WeCom intelligent robot (智能机器人), by its long connection (API mode)
    wecom_bot_id: str | None = None
    wecom_bot_secret: SecretStr | None = None
    wecom_bot_ws_url: str | None = None
    # Feishu (飞书), a self-built app with a bot
    feishu_app_id: str | None = None
    feishu_app_secret: SecretStr | None = None
    feishu_verification_token: SecretStr | None = None
    feishu_encrypt_key: SecretStr | None = None
    feishu_api_base_url: str | None = None
    feishu_mode: Literal["websocket", "http"] | None = None  # None: websocket
    # DingTalk (钉钉), an internal app with a robot, in Stream mode
    dingtalk_client_id: str | None = None  # the app's Client ID (AppKey)
    dingtalk_client_secret: SecretStr | None = None  # its Client Secret (AppSecret)
    dingtalk_robot_code: str | None = None  # the robot's code (default: the client id)
    dingtalk_api_base_url: str | None = None
    # an interactive card (互动卡片) template for proposals; unset: ActionCards
    dingtalk_card_template_id: str | None = None
    # the bot itself
    vmi_api_token: SecretStr | None = None  # enables GET /api/status
    database_url: SecretStr | None = None  # it may carry a password
    vmi_config: str | None = None
    vmi_sheet_secret: SecretStr | None = None  # signs the sheet's links (GET /sheet/...)
    vmi_public_url: str | None = None  # where people open the sheet: the links start with it
    vmi_sheet_days: int = 7  # how long a sheet link stays valid

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Built with values, a `Settings` holds those alone: only `from_environment` reads
        the environment, so a test never picks up the shell's tokens."""
        return (init_settings,)

    @classmethod
    def from_environment(cls) -> Settings:
        """The settings of this process, from its environment; `SettingsError` when a variable
        has a value the bot cannot use."""
        try:
            read = _FromEnvironment()
        except ValidationError as err:
            raise SettingsError(_problems(err)) from None
        return cls(**dict(read))

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        # `export WECOM_AGENT_ID=` is how people switch a variable off
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @property
    def slack_on(self) -> bool:
        """Slack is on: a bot token, and a signing secret (HTTP) or an app token (Socket Mode)."""
        return bool(self.slack_bot_token and (self.slack_signing_secret or self.slack_app_token))

    @property
    def wecom_on(self) -> bool:
        """WeCom is on: the corp id, the app's secret and its agent id."""
        return bool(self.wecom_corp_id and self.wecom_corp_secret and self.wecom_agent_id)

    @property
    def wecom_callback_on(self) -> bool:
        """WeCom's messages can be received: the callback's token and AES key are set too."""
        return self.wecom_on and bool(self.wecom_token and self.wecom_encoding_aes_key)

    @property
    def dingtalk_on(self) -> bool:
        """DingTalk is on: the app's client id and secret (Stream mode needs nothing else)."""
        return bool(self.dingtalk_client_id and self.dingtalk_client_secret)

    @property
    def wecom_robot_on(self) -> bool:
        """The WeCom intelligent robot is on: its Bot ID and Secret."""
        return bool(self.wecom_bot_id and self.wecom_bot_secret)

    @property
    def feishu_on(self) -> bool:
        """Feishu is on: the app's id and secret."""
        return bool(self.feishu_app_id and self.feishu_app_secret)

    @property
    def feishu_long_connection(self) -> bool:
        """Feishu's events come over the SDK's long connection (`FEISHU_MODE` not `http`)."""
        return self.feishu_on and self.feishu_mode != "http"

    @property
    def platforms_on(self) -> frozenset[str]:
        """The platforms the bot talks on; the console is always on."""
        on = {CONSOLE}
        if self.slack_on:
            on.add(SLACK)
        if self.wecom_on:
            on.add(WECOM)
        if self.dingtalk_on:
            on.add(DINGTALK)
        if self.feishu_on:
            on.add(FEISHU)
        if self.wecom_robot_on:
            on.add(WECOM_ROBOT)
        return frozenset(on)


def secret(value: SecretStr | None) -> str:
    """A secret's value where it is handed to its platform ("" when not set)."""
    return value.get_secret_value() if value is not None else ""


class _FromEnvironment(Settings):
    """`Settings` read from the process's environment (variable names are the fields' names
    in capitals)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The environment only: no .env file, no secrets folder."""
        return (env_settings,)


_WHY = {
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "int_type": "must be a whole number",
}


def _problems(err: ValidationError) -> list[str]:
    """One line per variable: `WECOM_AGENT_ID: must be a whole number, got "abc"`; a secret's
    value is never repeated."""
    lines = []
    for error in err.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        name = field.upper()
        why = _WHY.get(error["type"], error["msg"].lower())
        shown = None if field in _SECRET_FIELDS else error.get("input")
        got = f', got "{shown}"' if isinstance(shown, str) else ""
        lines.append(f"{name}: {why}{got}")
    return lines


_SECRET_FIELDS = frozenset(
    name for name, info in Settings.model_fields.items() if SecretStr in get_args(info.annotation)
)
