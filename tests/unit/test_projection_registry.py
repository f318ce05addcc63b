"""The registry is the one place the API takes projections from: each registered read API loads,
its fast reads belong to registered projections, and a registry the app cannot serve
unambiguously is refused when the app is built, not on some later request."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from fastapi.routing import APIRoute

from hub.api.app import create_app
from hub.api.fast import FastReads
from hub.projections import REGISTERED, Registration, all_projections, read_api_of, read_apis
from toolkit.settings import Settings
from toolkit.web.access import MentorLookup
from toolkit.web.read_api import FastRead, ReadApi


async def nothing(caller, subject, conn, mentors):
    return None


def test_every_fast_read_belongs_to_a_registered_projection():
    names = set(all_projections())
    reads = [r for api in read_apis() for r in api.fast_reads]
    assert reads
    assert {r.projection for r in reads} <= names


def test_the_app_mounts_every_registered_router():
    documented = set(create_app(Settings()).openapi()["paths"])
    declared = {route.path_format for api in read_apis() for router in api.routers
                for route in router.routes if isinstance(route, APIRoute)}
    assert len(declared) >= 9  # the CONTRACT's nine reads
    assert declared <= documented


def test_a_module_without_a_read_api_is_refused_by_name():
    registered = [Registration(REGISTERED[0].projection, read_api_of("toolkit.web.read_api"))]
    with pytest.raises(TypeError, match="toolkit.web.read_api.READ_API is not"):
        read_apis(registered)


def test_two_projections_answering_who_mentors_whom_are_refused():
    second = MentorLookup("SELECT true")
    with_mentors = ReadApi(routers=[], mentors=second)
    registered = [*REGISTERED, replace(REGISTERED[0], read_api=lambda: with_mentors)]
    with pytest.raises(ValueError, match="who mentors whom"):
        create_app(Settings(), registered)


def test_a_fast_read_has_a_path_or_a_pattern():
    with pytest.raises(ValueError):
        FastRead("missions", nothing)
    with pytest.raises(ValueError):
        FastRead("missions", nothing, path="/a", pattern=re.compile("/a"))


def test_two_fast_reads_of_one_path_are_refused():
    reads = [FastRead("missions", nothing, path="/a"), FastRead("recipes", nothing, path="/a")]
    with pytest.raises(ValueError, match="same path"):
        FastReads(app=None, reads=reads)  # type: ignore[arg-type]
