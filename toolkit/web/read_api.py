"""What one projection serves over HTTP, as it declares it in `consumers/<name>/api.py`.

`ReadApi` holds the projection's routers (FastAPI, mounted by the app in registry order), the
endpoints the fast path may answer (`FastRead`), and, for the projection that knows who mentors
whom, the `MentorLookup` every learner read's access rule asks.

The fast path (`hub/api/fast.py`) is an optimisation of routes that already exist: a
`FastRead` answers only a request it knows is a 200, with the route's response model, and
returns None for anything else (refusal, 404, odd parameters), which the route then answers
from scratch. So a handler must reach exactly the route's decision and body, or give up.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter
from pydantic import BaseModel

from toolkit.web.access import MentorLookup, Placement, may_read_learner
from toolkit.web.auth import Principal

MAX_USER_ID = 64  # UserIdParam's bounds (toolkit/web/deps.py)

# (caller, subject, asyncpg connection, who mentors whom) -> the 200's model (or the bytes the
# route's model serializes to), or None to let the route answer. The subject is the learner
# (or group, or query) the request names.
FastHandler = Callable[[Principal, Any, Any, MentorLookup], Awaitable[BaseModel | bytes | None]]


def learner_param(query_string: bytes, name: str = "user_id") -> tuple[bool, str | None]:
    """(usable, value): usable when the query holds nothing but at most one valid `name`."""
    if not query_string:
        return True, None
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    if len(pairs) != 1 or pairs[0][0] != name:
        return False, None
    value = pairs[0][1]
    # latin-1 above keeps bytes; FastAPI decodes UTF-8: take only what reads the same both ways
    if not value or not value.isascii() or len(value) > MAX_USER_ID:
        return False, None
    return True, value


def whole_query(query_string: bytes) -> tuple[bool, str | None]:
    """The query string itself, for a handler that validates it as its route would; an empty
    one is left to the route."""
    return bool(query_string), query_string.decode("latin-1")


@dataclass(frozen=True)
class FastRead:
    """One endpoint the fast path may answer, reached either by its exact `path` (the subject
    read from the query string by `subject`) or by `pattern` (a path whose one group is the
    subject; only without a query string). `default_to_caller`: a missing subject means the
    caller's own user id."""

    projection: str
    handler: FastHandler
    path: str | None = None
    pattern: re.Pattern[str] | None = None
    subject: Callable[[bytes], tuple[bool, str | None]] = learner_param
    default_to_caller: bool = True

    def __post_init__(self) -> None:
        if (self.path is None) == (self.pattern is None):
            raise ValueError("a FastRead has a path or a pattern, not both nor neither")


@dataclass(frozen=True)
class ReadApi:
    """One projection's read API: routers, fast reads, and who mentors whom (at most one
    registered projection may answer that)."""

    routers: Sequence[APIRouter]
    fast_reads: Sequence[FastRead] = ()
    mentors: MentorLookup | None = None


async def may_read_learner_fast(conn: Any, caller: Principal, learner: str,
                                placement: Placement, mentors: MentorLookup) -> bool:
    """`authorize_learner`'s decision on the fast path's asyncpg connection (without a
    refusal's audit: a refused read goes to the route, which records it)."""
    mentor = "mentor" in caller.roles and caller.user_id != learner and (
        await mentors.is_active_mentor_raw(conn, caller.user_id, learner))
    return may_read_learner(caller, learner, placement, mentor).allowed
