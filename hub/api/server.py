"""uvicorn's HTTP protocols with a deadline on reading a request's headers, and the server
options `hub api` runs with.

uvicorn has no header-read timeout: `timeout_keep_alive` runs only between requests and is
cancelled by the first byte received, and a fresh connection has no timer at all, so a client
that opens connections and trickles a request line a byte at a time holds each one forever
(slowloris). h11's `max_incomplete_event_size` caps the bytes of unfinished headers, not their
time, and `limit_concurrency` only answers 503 once the slow clients hold every slot.

These protocols arm a deadline when a connection opens and when the first byte of a later
request arrives, disarm it once the request's headers are parsed, and close the connection
when it passes. Bodies and responses are not bounded by it: a slow download is not an attack on
the header parser, and the API's requests carry no body.

`hub api` serves with httptools (llhttp, C) on uvloop: h11 is pure Python and its parsing was
the largest cost of a request after the application's own (py-spy, README "Benchmarks"). The
httptools protocol gets the same deadline, and the cap on unfinished header bytes that h11
applies itself (`max_incomplete_event_size`, 16 KiB) and llhttp does not.
"""

from __future__ import annotations

import asyncio
import logging

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("hub.api")

MAX_HEADER_BYTES = 16 * 1024  # h11's default max_incomplete_event_size


def configured_header_timeout() -> float:
    """HUB_API_HEADER_TIMEOUT_SECONDS. Read in the serving process itself: uvicorn's workers
    import the protocol class by name, so a value set on a class in the parent would not
    reach them."""
    from toolkit.settings import get_settings

    return get_settings().api_header_timeout_seconds


class HeaderDeadline:
    """The deadline both protocols share; they call `_arm_header_deadline` when a request's
    first byte (or the connection) arrives and `_disarm_header_deadline` once its headers are
    parsed. Mixed in before the uvicorn protocol, whose `loop`, `transport` and `client` it
    uses."""

    header_timeout: float | None = None  # None: configured_header_timeout()
    _header_deadline: asyncio.TimerHandle | None = None
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    client: tuple[str, int] | None

    def _arm_header_deadline(self) -> None:
        self._disarm_header_deadline()
        timeout = type(self).header_timeout
        if timeout is None:
            timeout = type(self).header_timeout = configured_header_timeout()
        self._header_deadline = self.loop.call_later(timeout, self._header_timed_out)

    def _disarm_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _header_timed_out(self) -> None:
        self._header_deadline = None
        if not self.transport.is_closing():
            log.info("closed a connection whose request headers took over %s s",
                     self.header_timeout, extra={"client": self.client})
            self.transport.close()


class HeaderTimeoutH11Protocol(HeaderDeadline, H11Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def data_received(self, data: bytes) -> None:
        # First bytes of the next request on a kept-alive connection: its headers' clock starts.
        if self._header_deadline is None and self.conn.their_state is h11.IDLE:
            self._arm_header_deadline()
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the request line and headers are parsed
            self._disarm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)


class HeaderTimeoutHttpToolsProtocol(HeaderDeadline, HttpToolsProtocol):
    """The same deadline for httptools: armed when the connection opens and when llhttp starts
    a message (its first byte), disarmed when its headers are complete. While it is armed the
    bytes received are counted, and a connection whose request headers are still incomplete
    past MAX_HEADER_BYTES is closed."""

    _header_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def data_received(self, data: bytes) -> None:
        if self._header_deadline is not None:
            self._header_bytes += len(data)
        super().data_received(data)
        # As h11 does: what counts is what is still unparsed, so a large request whose headers
        # complete within the bytes received passes; one still incomplete past the cap does not.
        if self._header_deadline is not None and self._header_bytes > MAX_HEADER_BYTES:
            log.info("closed a connection whose request headers passed %d bytes",
                     MAX_HEADER_BYTES, extra={"client": self.client})
            self._disarm_header_deadline()
            self.transport.close()

    def on_message_begin(self) -> None:
        if self._header_deadline is None:  # a later request on a kept-alive connection
            self._arm_header_deadline()
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._disarm_header_deadline()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def _arm_header_deadline(self) -> None:
        self._header_bytes = 0
        super()._arm_header_deadline()


def uvicorn_options() -> dict:
    """The server options of `hub api`, shared by `bench/anchor_api.py` so that the benchmark
    compares applications, not servers. Protocols by name: uvicorn's worker processes import
    them (a class built at run time would not travel to them)."""
    return {
        # uvloop and httptools (llhttp): with asyncio's selector loop and h11, socket writes and
        # pure-Python parsing took ~35% of a request's CPU (py-spy).
        "loop": "uvloop",
        # uvicorn bounds no header read; this protocol closes a slow one (see above).
        "http": "hub.api.server:HeaderTimeoutHttpToolsProtocol",
    }
