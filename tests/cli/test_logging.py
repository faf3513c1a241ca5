"""Operator logs: malformed requests are one WARNING line, not a traceback."""

from __future__ import annotations

import logging
import sys

from aiohttp.http_exceptions import BadHttpMessage, LineTooLong

from collector.cli import BadRequestLineFilter


def record_of(error: Exception) -> logging.LogRecord:
    """Return the record aiohttp logs when handling a request raised `error`."""
    try:
        raise error
    except Exception:
        return logging.LogRecord(
            "aiohttp.server",
            logging.ERROR,
            __file__,
            1,
            "Error handling request",
            None,
            sys.exc_info(),
        )


def test_long_request_line_logged_as_warning() -> None:
    record = record_of(LineTooLong(b"/api/metrics?region=aaaa", "16384"))

    assert BadRequestLineFilter().filter(record)
    assert record.levelno == logging.WARNING
    assert record.exc_info is None
    assert "rejected a malformed HTTP request" in record.getMessage()


def test_other_errors_left_alone() -> None:
    record = record_of(RuntimeError("handler bug"))

    assert BadRequestLineFilter().filter(record)
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None


def test_multiline_message_logged_on_one_line() -> None:
    message = "Invalid header token:\n\n  b'Bad Header'\n       ^"
    record = record_of(BadHttpMessage(message))

    assert BadRequestLineFilter().filter(record)
    assert record.getMessage() == (
        "rejected a malformed HTTP request: Invalid header token: | b'Bad Header'"
    )
