"""Each reliability run gets a database of its own (generated samples reuse learner and cohort
ids, and analytics spans everything a database holds), a second one for the undisturbed
reference run, and a short group session timeout so killed and stopped workers' partitions
move soon."""

from __future__ import annotations

import pytest

from tests.conftest import migrated_database
from tests.reliability.harness import Scale


def pytest_collection_modifyitems(items):
    for item in items:
        if "/reliability/" in str(item.fspath):
            item.add_marker(pytest.mark.reliability)


@pytest.fixture
async def database_url(stack):
    async for url in migrated_database(stack):
        yield url


@pytest.fixture
async def reference_url(stack):
    async for url in migrated_database(stack):
        yield url


@pytest.fixture
async def settings(settings):
    # 6 s is the broker's smallest allowed session timeout (group.min.session.timeout.ms).
    return settings.model_copy(update={"session_timeout_seconds": 6.0})


@pytest.fixture(scope="session")
def scale() -> Scale:
    return Scale.from_environ()
