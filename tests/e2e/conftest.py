"""Each end-to-end test gets a database of its own: generated samples reuse learner, cohort and
enterprise ids from test to test, analytics and talent searches span everything a database
holds, and a test may load its own recipe catalog."""

from __future__ import annotations

import pytest

from tests.conftest import migrated_database


@pytest.fixture
async def database_url(stack):
    async for url in migrated_database(stack):
        yield url
