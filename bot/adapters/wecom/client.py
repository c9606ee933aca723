"""WeCom's Web API through wechatpy, with every call, `gettoken` included, under
`WECOM_API_BASE_URL` (private deployments, tests). wechatpy caches the access token until a
minute before it expires and fetches a new one on errcode 40014 / 42001 by itself."""

from __future__ import annotations

from typing import Any

import requests
from wechatpy.enterprise import WeChatClient

DEFAULT_API = "https://qyapi.weixin.qq.com"


def api_root(base_url: str | None = None) -> str:
    """The API's root: `base_url` (`WECOM_API_BASE_URL`), else WeCom's own."""
    return (base_url or DEFAULT_API).rstrip("/")


class _TimedSession(requests.Session):
    """Every request with a timeout: wechatpy fetches its token without one, and a WeCom that
    never answers must not hold up delivery for good."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs["timeout"] = kwargs.get("timeout") or self.timeout
        return super().request(*args, **kwargs)


class WeComClient(WeChatClient):  # type: ignore[misc]
    """wechatpy's enterprise client at a configurable root (it hard-codes `gettoken`'s)."""

    def __init__(self, corp_id: str, secret: str, root: str, timeout: float = 15) -> None:
        self.root = root.rstrip("/")
        self.API_BASE_URL = f"{self.root}/cgi-bin/"
        super().__init__(corp_id, secret, timeout=timeout)
        self._http = _TimedSession(timeout)

    def fetch_access_token(self) -> Any:
        """Fetch a token from `gettoken` under our root."""
        return self._fetch_access_token(
            url=f"{self.root}/cgi-bin/gettoken",
            params={"corpid": self.corp_id, "corpsecret": self.secret},
        )
