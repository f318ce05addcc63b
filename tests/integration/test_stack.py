"""The real local stack: up is idempotent, both services answer, restarts keep port and data.

The stack is left running afterwards because other tests share it.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from hub.stack import (
    StackInfo,
    ensure_stack_up,
    external_config,
    kafka_restart,
    kafka_stop,
    postgres_restart,
    postgres_start,
    postgres_stop,
    stack_status,
)
from hub.stack import kafka as kafka_service
from hub.stack.envfile import render_env_file
from hub.stack.layout import StackLayout
from hub.stack.probes import asyncpg_dsn, check_postgres

pytestmark = pytest.mark.integration
local_only = pytest.mark.skipif(
    external_config() is not None, reason="external services are configured; not ours to restart"
)


@pytest.fixture(scope="module")
def stack_info() -> StackInfo:
    return ensure_stack_up()


def test_ensure_stack_up_is_idempotent(stack_info):
    began = time.monotonic()
    assert ensure_stack_up() == stack_info
    assert time.monotonic() - began < 5
    if not stack_info.external:
        env_file = StackLayout.for_project().env_file
        assert env_file.read_text() == render_env_file(
            stack_info.kafka_bootstrap, stack_info.database_url
        )


async def test_kafka_answers_metadata(stack_info):
    admin = AIOKafkaAdminClient(bootstrap_servers=stack_info.kafka_bootstrap)
    await admin.start()
    try:
        cluster = await admin.describe_cluster()
        assert cluster["brokers"]
        assert isinstance(await admin.list_topics(), list)
    finally:
        await admin.close()


async def test_postgres_answers_select_1(stack_info):
    conn = await asyncpg.connect(asyncpg_dsn(stack_info.database_url))
    try:
        assert await conn.fetchval("select 1") == 1
        assert await conn.fetchval("select current_database()") == "hub"
        assert await conn.fetchval("show max_connections") == "200"
    finally:
        await conn.close()


async def _query(url: str, sql: str, *args: object) -> object:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


@pytest.mark.restarts_services
@local_only
async def test_postgres_stop_start_and_crash_keep_port_and_data(stack_info):
    table = f"stack_probe_{uuid.uuid4().hex[:12]}"
    await _query(stack_info.database_url, f"create table {table} (v text)")
    await _query(stack_info.database_url, f"insert into {table} values ('kept')")
    try:
        postgres_stop()
        assert check_postgres(stack_info.database_url, timeout=1) is not None
        assert stack_status()["postgres"]["running"] is False
        assert postgres_start() == stack_info
        assert await _query(stack_info.database_url, f"select v from {table}") == "kept"

        assert postgres_restart(mode="immediate") == stack_info
        assert await _query(stack_info.database_url, f"select v from {table}") == "kept"
    finally:
        await _query(stack_info.database_url, f"drop table if exists {table}")


async def _produce(bootstrap: str, topic: str, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, value)
    finally:
        await producer.stop()


async def _read_all(bootstrap: str, topic: str, count: int) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        return [(await asyncio.wait_for(consumer.getone(), 30)).value for _ in range(count)]
    finally:
        await consumer.stop()


@pytest.mark.restarts_services
@local_only
async def test_kafka_hard_and_clean_restart_keep_port_and_data(stack_info):
    topic = f"stack-probe-{uuid.uuid4().hex[:12]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=stack_info.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
    await _produce(stack_info.kafka_bootstrap, topic, b"before-kill")

    assert kafka_restart(hard=True) == stack_info
    await _produce(stack_info.kafka_bootstrap, topic, b"after-kill")
    assert kafka_restart() == stack_info
    assert await _read_all(stack_info.kafka_bootstrap, topic, 2) == [b"before-kill", b"after-kill"]

    admin = AIOKafkaAdminClient(bootstrap_servers=stack_info.kafka_bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([topic])
    finally:
        await admin.close()


@pytest.mark.restarts_services
@local_only
def test_up_restarts_only_the_service_that_died(stack_info):
    pg_pid = stack_status()["postgres"]["pid"]
    kafka_stop(hard=True)
    assert ensure_stack_up() == stack_info
    status = stack_status()
    assert status["postgres"]["pid"] == pg_pid
    assert status["kafka"]["running"] and status["kafka"]["reachable"]


def test_stale_pid_file_is_not_taken_for_a_running_broker(tmp_path):
    layout = StackLayout(tmp_path)
    layout.kafka_dir.mkdir()
    layout.kafka_pid.write_text(f"{os.getpid()}\n")
    assert kafka_service.running_pid(layout) is None
    assert not layout.kafka_pid.exists()
