"""Pure parts of ``hub stack``: rendered configs, env lines, the state file."""

from __future__ import annotations

import base64

import pytest

from hub.stack.envfile import (
    database_url_for,
    external_services,
    kafka_bootstrap_for,
    render_env_file,
    render_export,
    write_env_file,
)
from hub.stack.errors import StackError
from hub.stack.kafka import (
    existing_cluster_id,
    previous_ports,
    render_log4j2,
    render_server_properties,
)
from hub.stack.kafka_jars import render_pom
from hub.stack.layout import StackLayout
from hub.stack.postgres import previous_port, render_postgres_conf
from hub.stack.probes import asyncpg_dsn
from hub.stack.state import StackState, load_state, new_cluster_id, save_state
from toolkit.settings import STACK_ENV_FILE, Settings

STATE = StackState(kafka_port=21001, controller_port=21002, postgres_port=21003, cluster_id="x")


def _props(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line)


def test_server_properties_use_state_ports_loopback_and_data_dir(tmp_path):
    props = _props(render_server_properties(STATE, tmp_path / "data"))
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:21001,CONTROLLER://127.0.0.1:21002"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:21001"
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:21002"
    assert props["log.dirs"] == str(tmp_path / "data")
    assert props["process.roles"] == "broker,controller"
    assert props["auto.create.topics.enable"] == "false"
    assert props["offsets.topic.replication.factor"] == "1"
    assert int(props["broker.session.timeout.ms"]) > int(props["broker.heartbeat.interval.ms"])


def test_log4j_config_logs_to_console_without_config_dumps():
    text = render_log4j2()
    assert "appender.out.type = Console" in text
    assert "org.apache.kafka.common.config.AbstractConfig" in text


def test_pom_pins_kafka_and_an_slf4j_binding():
    pom = render_pom("4.4.0", "2.25.5")
    assert "<artifactId>kafka_2.13</artifactId><version>4.4.0</version>" in pom
    assert "<artifactId>log4j-slf4j-impl</artifactId><version>2.25.5</version>" in pom


def test_env_file_has_exactly_the_two_hub_lines():
    text = render_env_file(kafka_bootstrap_for(21001), database_url_for(21003))
    assert text.splitlines() == [
        "HUB_KAFKA_BOOTSTRAP=127.0.0.1:21001",
        "HUB_DATABASE_URL=postgresql+asyncpg://hub@127.0.0.1:21003/hub",
    ]


def test_settings_read_the_written_env_file(tmp_path, monkeypatch):
    monkeypatch.delenv("HUB_KAFKA_BOOTSTRAP", raising=False)
    monkeypatch.delenv("HUB_DATABASE_URL", raising=False)
    path = tmp_path / "hub.env"
    write_env_file(path, "127.0.0.1:21001", database_url_for(21003))
    settings = Settings(_env_file=path)
    assert settings.kafka_bootstrap == "127.0.0.1:21001"
    assert settings.database_url == "postgresql+asyncpg://hub@127.0.0.1:21003/hub"


def test_export_line_is_shell_safe():
    line = render_export("127.0.0.1:1", "postgresql+asyncpg://hub@127.0.0.1:2/hub")
    assert line == (
        "export HUB_KAFKA_BOOTSTRAP=127.0.0.1:1 "
        "HUB_DATABASE_URL=postgresql+asyncpg://hub@127.0.0.1:2/hub"
    )
    assert "'a b'" in render_export("a b", "u")


@pytest.mark.parametrize(
    ("environ", "external"),
    [
        ({}, False),
        ({"HUB_KAFKA_BOOTSTRAP": "kafka:9092"}, False),
        ({"HUB_KAFKA_BOOTSTRAP": "kafka:9092", "HUB_DATABASE_URL": "postgresql://db/hub"}, True),
        ({"HUB_KAFKA_BOOTSTRAP": "127.0.0.1:1", "HUB_DATABASE_URL": "pg://local"}, False),
    ],
)
def test_external_services_need_both_variables_and_not_our_own_stack(environ, external):
    found = external_services(environ, local=("127.0.0.1:1", "pg://local"))
    assert (found is not None) is external


def test_state_round_trips_through_the_state_file(tmp_path):
    path = tmp_path / "nested" / "state.json"
    assert load_state(path) is None
    save_state(path, STATE)
    assert load_state(path) == STATE
    assert StackState.from_json(STATE.to_json()) == STATE


def test_unreadable_state_file_is_reported(tmp_path):
    path = tmp_path / "state.json"
    path.write_text("{not json")
    with pytest.raises(StackError, match="unreadable"):
        load_state(path)


def test_cluster_id_is_unpadded_base64url_of_16_bytes():
    cid = new_cluster_id()
    assert len(cid) == 22 and "=" not in cid
    assert len(base64.urlsafe_b64decode(cid + "==")) == 16
    assert new_cluster_id() != cid


def test_existing_cluster_id_is_read_from_meta_properties(tmp_path):
    assert existing_cluster_id(tmp_path) is None
    (tmp_path / "meta.properties").write_text("version=1\ncluster.id=abc\nnode.id=1\n")
    assert existing_cluster_id(tmp_path) == "abc"


def test_postgres_conf_listens_on_loopback_only(tmp_path):
    conf = render_postgres_conf(21003, tmp_path)
    assert "listen_addresses = '127.0.0.1'" in conf
    assert "port = 21003" in conf
    assert f"unix_socket_directories = '{tmp_path}'" in conf
    assert "unix_socket_directories = ''" in render_postgres_conf(21003, None)


def test_asyncpg_dsn_drops_the_driver():
    assert asyncpg_dsn(database_url_for(5)) == "postgresql://hub@127.0.0.1:5/hub"


def test_layout_env_file_is_the_one_settings_read():
    assert StackLayout.for_project().env_file == STACK_ENV_FILE


def test_ports_of_an_earlier_run_are_recovered_from_its_configs(tmp_path):
    props = tmp_path / "server.properties"
    props.write_text(render_server_properties(STATE, tmp_path / "data"))
    assert previous_ports(props) == (21001, 21002)
    assert previous_ports(tmp_path / "absent") == (None, None)
    conf = tmp_path / "hub.conf"
    conf.write_text(render_postgres_conf(21003, None))
    assert previous_port(conf) == 21003
    assert previous_port(tmp_path / "absent") is None
