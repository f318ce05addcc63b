"""The missions worker: a faust app in consumer group `hub-missions`."""

from __future__ import annotations

import faust

from consumers.missions.projection import MissionsProjection
from toolkit.settings import Settings
from toolkit.streaming.faust_app import create_app


def build(settings: Settings) -> faust.App:
    return create_app(MissionsProjection(settings.erasure_secret), settings)
