"""What the fakes of tests/fake_slack.py and tests/fake_wecom.py share: a real HTTP server on
127.0.0.1 and a random free port, served from a daemon thread, that records every request.

A fake subclasses `LoopbackFake` with its handler class (a `QuietHandler`) and its own `Call`
type; its handler answers through the fake, which records each call with `_record` and offers
its own `calls_to`/`wait_for` on top of `_find` and `_wait`.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Generic, Self, TypeVar

CallT = TypeVar("CallT")
FakeT = TypeVar("FakeT", bound="LoopbackFake[Any]")


class LoopbackFake(Generic[CallT]):
    """A fake HTTP API on 127.0.0.1 and a random free port: the server's lifecycle, and the
    calls it recorded (`calls`, in the order they were answered) under one Condition."""

    def __init__(self, handler: type[QuietHandler[Any]]) -> None:
        self.calls: list[CallT] = []
        self._changed = threading.Condition()  # guards `calls` and a subclass's own state
        self._handler = handler
        self._server: LoopbackServer[Self] | None = None
        self._thread: threading.Thread | None = None
        self._holds: dict[str, int] = {}  # call name → answers still to hold back
        self._released = threading.Event()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind a free port and serve in a background thread; returns self."""
        if self._server is not None:
            raise RuntimeError(f"{type(self).__name__} is already running")
        server: LoopbackServer[Self] = LoopbackServer(("127.0.0.1", 0), self._handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release held answers, shut the server down and join its thread. Safe to call twice."""
        self.release()
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def drop_connections(self) -> None:
        """Close the connections clients keep open, as a server ends idle ones between calls."""
        if self._server is not None:
            self._server.close_connections()

    @property
    def connections(self) -> int:
        """TCP connections accepted so far (a client that keeps its connection opens one)."""
        return self._server.accepted if self._server is not None else 0

    @property
    def address(self) -> str:
        """Where the server listens: http://127.0.0.1:PORT (no trailing slash)."""
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not running; call start() first")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- answers held back, to stand for a caller that dies mid-call ---------------------------

    def hold(self, name: str, count: int = 1) -> None:
        """The next `count` calls named `name` (a method, or the end of a path) are done (a post
        is posted) and recorded, but their answers wait until `release()` or `stop()`."""
        with self._changed:
            self._holds[name] = self._holds.get(name, 0) + count
            self._released.clear()

    def release(self) -> None:
        """Send the answers `hold` kept back."""
        self._released.set()

    def _take_hold(self, matches: Callable[[str], bool]) -> bool:
        """Under `_changed`: whether this call's answer is to be held (one hold used up)."""
        held = next((name for name, n in self._holds.items() if n > 0 and matches(name)), None)
        if held is not None:
            self._holds[held] -= 1
        return held is not None

    def _wait_if_held(self, held: bool) -> None:
        """Outside the lock: hold the answer back until released (at most two minutes)."""
        if held:
            self._released.wait(timeout=120)

    # -- calls -------------------------------------------------------------------------------

    def _record(self, call: CallT) -> None:
        """Append `call` and wake the waiters. Call it under `_changed` together with deciding
        the answer, so calls are recorded in the order they were answered."""
        with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    def _call_name(self, call: CallT) -> str:
        """How a call is named in wait_for's TimeoutError (its method, its path, ...)."""
        return repr(call)

    def _find(self, match: Callable[[CallT], bool]) -> list[CallT]:
        """The calls that `match`, in order."""
        with self._changed:
            return [c for c in self.calls if match(c)]

    def _wait(
        self, match: Callable[[CallT], bool], n: int, timeout: float, label: str
    ) -> list[CallT]:
        """Block until `n` calls that `match` were recorded; returns all of them so far.
        Raises TimeoutError after `timeout` seconds, naming `label` and the calls seen."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [c for c in self.calls if match(c)]
                if len(found) >= n:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [self._call_name(c) for c in self.calls]
                    raise TimeoutError(
                        f"{len(found)} of {n} {label} calls after {timeout}s; calls: {seen}"
                    )
                self._changed.wait(left)


class LoopbackServer(ThreadingHTTPServer, Generic[FakeT]):
    """The threading server a LoopbackFake runs; its handlers reach the fake as `server.fake`."""

    daemon_threads = True
    fake: FakeT

    def __init__(self, address: tuple[str, int], handler: type[QuietHandler[FakeT]]) -> None:
        super().__init__(address, handler)
        self.accepted = 0
        self._open: set[socket.socket] = set()  # kept-alive connections, closed by stop()
        self._open_guard = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_guard:
            self.accepted += 1
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_guard:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """End the connections clients keep open: their handlers stop waiting for a request."""
        with self._open_guard:
            still = list(self._open)
        for connection in still:
            with contextlib.suppress(OSError):  # closed by the client meanwhile
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up (timeout, closed socket) is not worth a traceback on stderr.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class QuietHandler(BaseHTTPRequestHandler, Generic[FakeT]):
    """A request handler that logs nothing and answers JSON."""

    # HTTP/1.0: one request per connection (a fake that speaks HTTP/1.1 keeps them: stop()
    # closes what is still open)
    server: LoopbackServer[FakeT]

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _send_json(
        self, status: int, answer: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        """Answer HTTP `status` with `answer` as UTF-8 JSON, plus any extra `headers`."""
        data = json.dumps(answer, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
