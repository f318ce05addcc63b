"""Consistency tokens: what the publisher hands out is what the read API parses, and when a
projection's stored positions include one."""

from __future__ import annotations

import pytest
from aiokafka.structs import RecordMetadata

from consumers.missions.tables import positions as missions_positions
from consumers.recipes.tables import positions as recipes_positions
from producers.publisher import Token
from toolkit.web.freshness import Position, PositionWatch, parse_tokens


def test_a_published_records_token_reads_back_as_the_same_position():
    metadata = RecordMetadata("profiler.events", 3, None, 1234, -1, -1, None)
    token = Token.of(metadata)
    assert str(token) == "profiler.events:3:1234"
    assert parse_tokens(str(token)) == [Position("profiler.events", 3, 1234)]


def test_several_tokens_separated_by_commas():
    assert parse_tokens("a.b:0:5, mentorship.assignments:1:0") == [
        Position("a.b", 0, 5), Position("mentorship.assignments", 1, 0)]


@pytest.mark.parametrize("bad", ["", "topic", "topic:1", "topic:x:1", "topic:1:-1",
                                 "to pic:1:1", "t:1:1," * 40])
def test_malformed_tokens_are_refused_with_the_reason(bad):
    with pytest.raises(ValueError):
        parse_tokens(bad)


def unstarted_watch() -> PositionWatch:
    return PositionWatch(engine=None,  # type: ignore[arg-type]  # never connects here
                         positions={"missions": missions_positions, "recipes": recipes_positions},
                         listen=False, poll_interval_s=1)


def test_a_token_is_included_once_the_partitions_next_offset_has_passed_it():
    watch = unstarted_watch()
    token = [Position("profiler.events", 3, 1234)]
    assert not watch.included("missions", token)  # that partition never applied
    watch.offsets["missions"] = {("profiler.events", 3): 1234}
    assert not watch.included("missions", token)  # next to read is the token's record itself
    watch.offsets["missions"] = {("profiler.events", 3): 1235}
    assert watch.included("missions", token)
    assert not watch.included("recipes", token)  # per projection


def test_headers_say_none_before_any_event_and_the_inclusion_when_asked():
    watch = unstarted_watch()
    assert watch.headers("missions", None) == {"Hub-Projection": "missions",
                                               "Hub-Newest-Event-At": "none"}
    assert watch.headers("missions", False)["Hub-Position-Included"] == "false"
