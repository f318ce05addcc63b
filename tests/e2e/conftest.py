"""End-to-end tests publish generated samples whose learner ids repeat from test to test,
so each test gets a database of its own."""

from __future__ import annotations

import pytest

from tests.conftest import migrated_database


@pytest.fixture
async def database_url(stack):
    async for url in migrated_database(stack):
        yield url
