"""A fake of Feishu's long-connection server for tests, speaking the SDK's frame protocol: a
websocket on 127.0.0.1 (`ws://…/ws?device_id=…&service_id=…`, the URL the fake API's
`/callback/ws/endpoint` hands out) exchanging protobuf `Frame`s (lark_oapi.ws.pb.pbbp2_pb2):
control frames (method 0) for ping and pong, data frames (method 1) for events, each answered
by the client with the same frame carrying `{"code": 200}` (the ack) as its payload.

    with FakeFeishuWs() as ws:
        fake_api.ws_url = ws.url
        ...
        ack = ws.push(event_dict)     # send an event, wait for the client's ack
"""

from __future__ import annotations

import itertools
import json
import threading
from typing import Any, Self

from lark_oapi.ws.pb.pbbp2_pb2 import Frame
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

SERVICE_ID = 7


def frame(method: int, headers: dict[str, str], payload: bytes = b"") -> Frame:
    """A Frame as Feishu's server builds it."""
    out = Frame(SeqID=0, LogID=0, service=SERVICE_ID, method=method, payload=payload)
    for key, value in headers.items():
        header = out.headers.add()
        header.key, header.value = key, value
    return out


def header(of: Frame, key: str) -> str:
    """One header's value ('' when it has none)."""
    return next((h.value for h in of.headers if h.key == key), "")


class FakeFeishuWs:
    """The server: one client connection at a time; `acks` are the answers to data frames,
    `pings` the client's pings (each answered with a pong)."""

    def __init__(self) -> None:
        self.acks: dict[str, Frame] = {}
        self.pings = 0
        self.closed = threading.Event()
        self._connected = threading.Event()
        self._connection: ServerConnection | None = None
        self._changed = threading.Condition()
        self._ids = itertools.count(1)
        self._server: Server | None = None

    def __enter__(self) -> Self:
        self._server = serve(self._serve, "127.0.0.1", 0)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._server is not None:
            self._server.shutdown()

    @property
    def url(self) -> str:
        """The long connection's address, with the device and service ids the SDK reads."""
        assert self._server is not None
        port = self._server.socket.getsockname()[1]
        return f"ws://127.0.0.1:{port}/ws?device_id=dev-1&service_id={SERVICE_ID}"

    def wait_connected(self, timeout: float = 10) -> bool:
        """Block until a client is connected."""
        return self._connected.wait(timeout)

    def _serve(self, connection: ServerConnection) -> None:
        self._connection = connection
        self.closed.clear()
        self._connected.set()
        try:
            for message in connection:
                if not isinstance(message, bytes):
                    continue
                got = Frame()
                got.ParseFromString(message)
                if got.method == 0 and header(got, "type") == "ping":
                    with self._changed:
                        self.pings += 1
                    connection.send(frame(0, {"type": "pong"}).SerializeToString())
                elif got.method == 1:
                    with self._changed:
                        self.acks[header(got, "message_id")] = got
                        self._changed.notify_all()
        except ConnectionClosed:
            pass
        finally:
            self._connected.clear()
            self.closed.set()

    def push(self, payload: dict[str, Any], timeout: float = 10) -> dict[str, Any]:
        """Send one event as a data frame and wait for the client's ack: its payload."""
        assert self._connection is not None, "no client connected"
        message_id = f"msg-{next(self._ids)}"
        data = frame(1, {"type": "event", "message_id": message_id, "trace_id": "trace",
                         "sum": "1", "seq": "0"}, json.dumps(payload).encode())  # fmt: skip
        self._connection.send(data.SerializeToString())
        with self._changed:
            if not self._changed.wait_for(lambda: message_id in self.acks, timeout):
                raise TimeoutError(f"no ack for {message_id} after {timeout}s")
            answer: dict[str, Any] = json.loads(self.acks[message_id].payload)
        return answer
