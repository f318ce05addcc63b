"""uvicorn's HTTP protocol with a deadline on reading a request's headers.

uvicorn has no header-read timeout: `timeout_keep_alive` runs only between requests and is
cancelled by the first byte received, and a fresh connection has no timer at all, so a client
that opens connections and trickles a request line a byte at a time holds each one forever
(slowloris). h11's `max_incomplete_event_size` caps the bytes of unfinished headers, not their
time, and `limit_concurrency` only answers 503 once the slow clients hold every slot.

This protocol arms a deadline when a connection opens and when the first byte of a later
request arrives, disarms it once h11 has parsed the request's headers, and closes the connection
when it passes. Bodies and responses are not bounded by it: a slow download is not an attack on
the header parser, and the API's requests carry no body.
"""

from __future__ import annotations

import asyncio
import logging

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("hub.api")


class HeaderTimeoutH11Protocol(H11Protocol):
    header_timeout: float = 10.0
    _header_deadline: asyncio.TimerHandle | None = None

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

    def _arm_header_deadline(self) -> None:
        self._disarm_header_deadline()
        self._header_deadline = self.loop.call_later(self.header_timeout, self._header_timed_out)

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


def h11_with_header_timeout(seconds: float) -> type[H11Protocol]:
    """The protocol class to pass as uvicorn's `http=`, closing after `seconds` without headers."""
    return type("H11WithHeaderTimeout", (HeaderTimeoutH11Protocol,), {"header_timeout": seconds})
