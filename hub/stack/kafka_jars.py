"""The Kafka broker's jars, resolved by Maven once and cached in ``.stack/kafka-jars/<version>``.

No Kafka tarball or Docker image is needed: the broker runs straight from the Maven
artifacts. ``log4j-slf4j-impl`` is added because Kafka logs through SLF4J and, without a
binding, would log nothing at all; with it, broker logs reach ``.stack/kafka/kafka.log``.
A marker file is written only after a complete copy, so an interrupted download is redone.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from hub.stack.errors import StackError
from hub.stack.procs import run

KAFKA_VERSION = "4.4.0"
LOG4J_VERSION = "2.25.5"
_MARKER = ".complete"


def render_pom(kafka_version: str = KAFKA_VERSION, log4j_version: str = LOG4J_VERSION) -> str:
    dep = (
        "<dependency><groupId>{}</groupId><artifactId>{}</artifactId>"
        "<version>{}</version></dependency>"
    )
    return "\n".join(
        [
            '<project xmlns="http://maven.apache.org/POM/4.0.0">',
            "  <modelVersion>4.0.0</modelVersion>",
            "  <groupId>hub.local</groupId><artifactId>kafka-broker-jars</artifactId>"
            "<version>1</version>",
            "  <dependencies>",
            "    " + dep.format("org.apache.kafka", "kafka_2.13", kafka_version),
            "    " + dep.format("org.apache.logging.log4j", "log4j-slf4j-impl", log4j_version),
            "  </dependencies>",
            "</project>",
            "",
        ]
    )


def jars_complete(jar_dir: Path) -> bool:
    return (jar_dir / _MARKER).is_file()


def require_java() -> str:
    java = shutil.which("java")
    if java is None:
        raise StackError(
            "java not found; install JDK 17+ (Debian: apt-get install openjdk-17-jre-headless)"
        )
    return java


def ensure_kafka_jars(jars_root: Path, version: str = KAFKA_VERSION) -> tuple[Path, bool]:
    """The jar directory for version and whether Maven had to run to fill it."""
    jar_dir = jars_root / version
    if jars_complete(jar_dir):
        return jar_dir, False
    mvn = shutil.which("mvn")
    if mvn is None:
        raise StackError("mvn not found; install Maven (Debian: apt-get install maven)")
    pom_dir = jars_root / f"pom-{version}"
    partial = jars_root / f"{version}.partial"
    pom_dir.mkdir(parents=True, exist_ok=True)
    (pom_dir / "pom.xml").write_text(render_pom(version))
    shutil.rmtree(partial, ignore_errors=True)
    run(
        [
            *(mvn, "-q", "-B", "-f", str(pom_dir / "pom.xml")),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={partial}",
            "-DincludeScope=runtime",
        ],
        f"mvn resolving kafka_2.13:{version}",
        cwd=pom_dir,
        timeout=900,
    )
    jars = sorted(partial.glob("*.jar"))
    if not any(j.name.startswith("kafka_2.13-") for j in jars):
        raise StackError(f"mvn finished but {partial} holds no kafka_2.13 jar")
    shutil.rmtree(jar_dir, ignore_errors=True)
    os.replace(partial, jar_dir)
    (jar_dir / _MARKER).write_text(f"{len(jars)} jars\n")
    return jar_dir, True
