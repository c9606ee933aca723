"""DingTalk's open API (api.dingtalk.com, or `DINGTALK_API_BASE_URL`): the app's access token,
kept until five minutes before it expires, and JSON calls with it.

DingTalk answers an error with an HTTP status and a JSON body `{"code": ..., "message": ...}`:
429 and 5xx may pass, 401 is an expired or revoked token (fetched anew and tried later), any
other 4xx (a wrong robotCode, an unknown user or group) will not.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import requests

DEFAULT_API = "https://api.dingtalk.com"
TOKEN_MARGIN_SECONDS = 300


class DingTalkError(Exception):
    """DingTalk refused a call: its HTTP status, code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status = status
        self.code = code

    @property
    def passing(self) -> bool:
        """A later try may work: throttled, DingTalk's own fault, or the token renewed."""
        return self.status in (401, 429) or self.status >= 500 or "Throttling" in self.code


def api_root(base_url: str | None = None) -> str:
    """The API's root: `base_url` (`DINGTALK_API_BASE_URL`), else DingTalk's own."""
    return (base_url or DEFAULT_API).rstrip("/")


class DingTalkApi:
    """Calls under the API's root with the app's token; thread-safe."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        root: str = DEFAULT_API,
        timeout: float = 15,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client_id = client_id
        self._secret = client_secret
        self.root = root.rstrip("/")
        self.timeout = timeout
        self.clock = clock
        self._token = ""
        self._expires = 0.0
        self._lock = threading.Lock()
        self.http = requests.Session()

    def token(self) -> str:
        """The app's access token, fetched when there is none or it is about to expire."""
        with self._lock:
            if self._token and self.clock() < self._expires:
                return self._token
            answer = self._json(
                self.http.post(
                    f"{self.root}/v1.0/oauth2/accessToken",
                    json={"appKey": self.client_id, "appSecret": self._secret},
                    timeout=self.timeout,
                )
            )
            self._token = str(answer["accessToken"])
            expires_in = float(answer.get("expireIn", 7200))
            self._expires = self.clock() + max(0.0, expires_in - TOKEN_MARGIN_SECONDS)
            return self._token

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST `body` as JSON to `path` with the token; DingTalk's answer, or DingTalkError."""
        return self.call("POST", path, body)

    def call(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """`method` `path` with `body` as JSON and the token; DingTalk's answer, or
        DingTalkError."""
        for _ in range(2):
            response = self.http.request(
                method,
                f"{self.root}{path}",
                json=body,
                headers={"x-acs-dingtalk-access-token": self.token()},
                timeout=self.timeout,
            )
            if response.status_code != 401:
                break
            with self._lock:
                self._token = ""  # revoked or expired early: fetch another and try once more
        return self._json(response)

    @staticmethod
    def _json(response: requests.Response) -> dict[str, Any]:
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if not isinstance(answer, dict):
            answer = {}
        if response.status_code >= 400:
            raise DingTalkError(
                response.status_code,
                str(answer.get("code", "")),
                str(answer.get("message", response.reason)),
            )
        return answer
