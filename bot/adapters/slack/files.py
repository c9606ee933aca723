"""A file sent in Slack (a keeper's .xlsx or .csv): found in the message's `files` (or asked
for with `files.info` when only its id came), downloaded with the bot token from its
`url_private_download`, and put on the message as its name and bytes."""

from __future__ import annotations

import base64
import urllib.parse
import urllib.request
from typing import Any

from slack_sdk import WebClient

SHEET_ENDINGS = (".xlsx", ".csv")
MAX_BYTES = 5_000_000  # a sheet of parts is kilobytes


class FileNotFetched(Exception):
    """The file could not be downloaded now; Slack sends the event again."""


def sheet_of(event: dict[str, Any]) -> dict[str, Any] | None:
    """The message's first sheet-like file (by its name), if any."""
    for found in event.get("files") or []:
        if isinstance(found, dict) and str(found.get("name", "")).lower().endswith(SHEET_ENDINGS):
            return found
    return None


def fetch(client: WebClient, found: dict[str, Any]) -> tuple[str, str]:
    """The file's name and its bytes in base64, downloaded with the bot token."""
    url = found.get("url_private_download") or found.get("url_private")
    if not url and found.get("id"):  # a file_shared event names the file only
        info = client.files_info(file=str(found["id"]))
        found = dict(info.get("file") or {})
        url = found.get("url_private_download") or found.get("url_private")
    if not url:
        raise FileNotFetched("no download URL for the file")
    url = urllib.parse.quote(str(url), safe=":/?&=%#~")  # a name in Chinese, sent unquoted
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {client.token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # Slack's URL
            data = answer.read(MAX_BYTES + 1)
    except OSError as err:
        raise FileNotFetched(f"download failed: {err}") from err
    return str(found.get("name") or "sheet.xlsx"), base64.b64encode(data).decode("ascii")
