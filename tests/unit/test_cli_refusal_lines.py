"""A refusal is one line, named after the command that refused."""

from __future__ import annotations

from hub.cli import command_path
from hub.operations.refusals import Refused


def test_a_refusal_is_one_line_whatever_its_cause_said():
    assert str(Refused("cannot reach Kafka:\n  Unable to bootstrap\n")) == (
        "cannot reach Kafka: Unable to bootstrap")


def test_the_command_path_stops_at_the_first_argument():
    assert command_path(["dlq", "redrive", "missions", "0:1"]) == "hub dlq redrive"
    assert command_path(["replay", "missions", "--to", "99:0"]) == "hub replay"
    assert command_path(["--help"]) == "hub"
