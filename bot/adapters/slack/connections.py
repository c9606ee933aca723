"""Slack's Web API over kept-alive connections.

slack_sdk's WebClient opens a new connection (and a TLS handshake with slack.com) for every
call: in the morning burst every answer would pay one. This client sends the same requests
through urllib3's connection pool and hands slack_sdk the same answer urlopen would have given:
the status, headers and body of a 2xx, an `HTTPError` for any other status (so its 429 and
error handling run unchanged), a `URLError` (an OSError) when there is no connection.
"""

from __future__ import annotations

import io
import threading
import time
from http.client import HTTPMessage
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.request import Request

import urllib3
from slack_sdk import WebClient

# Connections kept per host: one per delivery thread, and one per request thread for the
# listeners' own calls (files.info, views.open); more at once are opened and then closed.
POOL_SIZE = 16
# A connection idle longer than this may have been dropped silently on the way (a NAT or a
# firewall forgets it overnight): the next call would wait out its timeout. Opened afresh.
IDLE_SECONDS = 30.0


class KeptAliveWebClient(WebClient):
    """slack_sdk's WebClient whose calls reuse their connections (see the module's text)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pool = urllib3.PoolManager(
            num_pools=2,  # Slack's API host (files_upload_v2's upload goes through urlopen)
            maxsize=POOL_SIZE,
            ssl_context=self.ssl,
            retries=False,  # delivery decides when to try again (a POST is not repeated here)
            # as urlopen's: for connecting, and for each read
            timeout=urllib3.Timeout(connect=self.timeout, read=self.timeout),
        )
        self._last_call = time.monotonic()
        self._idle_guard = threading.Lock()

    def _fresh_after_idle(self) -> None:
        with self._idle_guard:
            now = time.monotonic()
            idle, self._last_call = now - self._last_call, now
        if idle > IDLE_SECONDS:
            self._pool.clear()

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        if self.proxy is not None or not url.lower().startswith(("http://", "https://")):
            return super()._perform_urllib_http_request_internal(url, req)  # as slack_sdk does
        self._fresh_after_idle()
        try:
            answer = self._pool.request(
                req.get_method(),
                url,
                body=req.data,  # type: ignore[arg-type]
                headers=dict(req.header_items()),
                redirect=False,
                preload_content=True,
            )
        except urllib3.exceptions.HTTPError as err:  # refused, reset, timed out: no answer
            raise URLError(err) from err
        headers = HTTPMessage()
        for name, value in answer.headers.items():
            headers[name] = value
        if not 200 <= answer.status < 300:
            raise HTTPError(
                url, answer.status, answer.reason or "", headers, io.BytesIO(answer.data)
            )
        if headers.get_content_type() == "application/gzip":
            return {"status": answer.status, "headers": headers, "body": answer.data}
        charset = headers.get_content_charset() or "utf-8"
        return {"status": answer.status, "headers": headers, "body": answer.data.decode(charset)}
