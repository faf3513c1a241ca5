"""A small server-sent events reader for tests."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from aiohttp import ClientResponse


@dataclass
class Event:
    event: str
    data: Any


async def next_event(response: ClientResponse, timeout_s: float = 5.0) -> Event:
    """Read lines until one whole event with data; skip comments and `retry:`."""
    async with asyncio.timeout(timeout_s):
        name = "message"
        data_lines: list[str] = []
        while True:
            raw = await response.content.readline()
            if not raw:
                raise EOFError("the event stream ended")
            line = raw.decode().rstrip("\n")
            if line == "":
                if data_lines:
                    return Event(name, json.loads("\n".join(data_lines)))
                name = "message"
                continue
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                name = value
            elif field == "data":
                data_lines.append(value)


async def next_comment(response: ClientResponse, timeout_s: float = 5.0) -> str:
    async with asyncio.timeout(timeout_s):
        while True:
            line = (await response.content.readline()).decode()
            if not line:
                raise EOFError("the event stream ended")
            if line.startswith(":"):
                return line.strip()
