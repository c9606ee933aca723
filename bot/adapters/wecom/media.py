"""A file a person sends the WeCom app (a keeper's sheet): its bytes from `media/get`, which
answers the file itself, or JSON with an errcode when the media_id is unknown or expired."""

from __future__ import annotations

import re
from urllib.parse import unquote

import requests

from bot.adapters.wecom.client import WeComClient

MAX_BYTES = 5_000_000  # a sheet of parts is kilobytes
_FILENAME = re.compile(r"filename\*?=(?:UTF-8'')?\"?([^\";]+)\"?", re.IGNORECASE)


class MediaNotFetched(Exception):
    """The file could not be fetched; the message is answered as if it had none."""


def download(client: WeComClient, media_id: str) -> tuple[str, bytes]:
    """The file's name (from Content-Disposition, may be empty) and its bytes."""
    try:
        answer = requests.get(
            f"{client.root}/cgi-bin/media/get",
            params={"access_token": client.access_token, "media_id": media_id},
            timeout=10,
        )
    except requests.RequestException as err:
        raise MediaNotFetched(f"network: {err.__class__.__name__}") from err
    kind = answer.headers.get("Content-Type", "")
    if answer.status_code != 200 or kind.startswith(("application/json", "text/plain")):
        raise MediaNotFetched(f"media/get answered {answer.status_code}: {answer.text[:100]}")
    found = _FILENAME.search(answer.headers.get("Content-Disposition", ""))
    return (unquote(found[1]) if found else ""), answer.content[: MAX_BYTES + 1]
