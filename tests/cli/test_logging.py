"""Operator logs: malformed requests are one WARNING line, not a traceback."""

from __future__ import annotations

import logging
import sys

from aiohttp.http_exceptions import LineTooLong

from collector.cli import BadRequestLineFilter


def test_long_request_line_logged_as_warning() -> None:
    try:
        raise LineTooLong(b"/api/metrics?region=aaaa", "16384")
    except LineTooLong:
        record = logging.LogRecord(
            "aiohttp.server",
            logging.ERROR,
            __file__,
            1,
            "Error handling request",
            None,
            sys.exc_info(),
        )

    assert BadRequestLineFilter().filter(record)
    assert record.levelno == logging.WARNING
    assert record.exc_info is None
    assert "rejected a malformed HTTP request" in record.getMessage()


def test_other_errors_left_alone() -> None:
    try:
        raise RuntimeError("handler bug")
    except RuntimeError:
        record = logging.LogRecord(
            "aiohttp.server",
            logging.ERROR,
            __file__,
            1,
            "Error handling request",
            None,
            sys.exc_info(),
        )

    assert BadRequestLineFilter().filter(record)
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None
