"""Another learner's events naming a learner's session ids (hostile category `session_reuse`),
for the order and duplication properties: each learner's projections must be exactly what they
would be without the other learner's events."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import strategies as st

from tests.support.events import completed, invalidated

INTRUDER = "learner-intruder"


@st.composite
def reusing(
    draw, history: list, intruder: str = INTRUDER,
    complete: Callable[..., object] = completed,
) -> list:
    """Valid events of `intruder` that name session ids of `history`: completions of their
    own under those ids, invalidations of them, or both."""
    ids = sorted({e.data.session_id for e in history if hasattr(e.data, "session_id")}, key=str)
    if not ids:
        return []
    minutes = st.integers(min_value=0, max_value=60)
    events: list = []
    for sid in draw(st.lists(st.sampled_from(ids), max_size=4, unique=True)):
        kind = draw(st.sampled_from(["completed", "invalidated", "both"]))
        if kind != "invalidated":
            events.append(complete(intruder, minute=draw(minutes), session_id=sid,
                                   score=draw(st.floats(min_value=0, max_value=100))))
        if kind != "completed":
            events.append(invalidated(intruder, sid, minute=draw(minutes)))
    return events


@st.composite
def arrivals(draw, events: list) -> list:
    """The events in any order, some delivered more than once."""
    resent = draw(st.lists(st.sampled_from(events), max_size=5)) if events else []
    return draw(st.permutations(events + resent))
