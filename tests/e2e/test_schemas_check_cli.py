"""`hub schemas check` as CI runs it: compatible on the real tree (exit 0, one summary line);
exit 2 with one line naming the change, never a traceback, on a doctored released directory;
`hub schemas release` freezes what is not released yet and refuses while the check fails."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from schemas.release import RELEASED_DIR
from tests.support.procs import run_hub

COMPLETED = "profiler.session.completed.v1.json"


def hub(*args: str):
    return run_hub(["schemas", *args], dict(os.environ), timeout=60)


def doctored_copy(tmp_path: Path) -> Path:
    released = tmp_path / "released"
    shutil.copytree(RELEASED_DIR, released)
    return released


def test_the_real_tree_is_compatible() -> None:
    done = hub("check")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("schemas compatible, 4 event types: "), lines
    assert sorted(path.name for path in RELEASED_DIR.iterdir()) == [
        "learner.erased.v1.json",
        "mentorship.assignment.changed.v1.json",
        COMPLETED,
        "profiler.session.invalidated.v1.json",
    ]


def test_a_changed_released_version_exits_2_naming_the_change(tmp_path) -> None:
    released = doctored_copy(tmp_path)
    schema = json.loads((released / COMPLETED).read_text())
    schema["$defs"]["SessionCompletedV1"]["properties"]["track"]["maxLength"] = 200
    (released / COMPLETED).write_text(json.dumps(schema))
    done = hub("check", "--released", str(released))
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "profiler.session.completed v1 $.data.track: released version changed: "
        "maxLength lowered from 200 to 64"
    ]
    assert "Traceback" not in done.stderr and done.stdout == ""
    # learner.erased v1 is not released here: release must still write nothing.
    (released / "learner.erased.v1.json").unlink()
    refused = hub("release", "--released", str(released))
    assert refused.returncode == 2
    assert refused.stderr.splitlines()[-1] == "nothing released: fix the breaking changes first"
    assert not (released / "learner.erased.v1.json").exists()


def test_an_unreadable_released_file_is_one_line_and_exit_2(tmp_path) -> None:
    released = doctored_copy(tmp_path)
    (released / COMPLETED).write_text("{not json")
    done = hub("check", "--released", str(released))
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"hub schemas: {released / COMPLETED}: not JSON")
    assert "Traceback" not in done.stderr


def test_release_freezes_the_versions_not_released_yet_and_only_those(tmp_path) -> None:
    released = doctored_copy(tmp_path)
    (released / COMPLETED).unlink()
    done = hub("release", "--released", str(released))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"released: {COMPLETED}"]
    assert (released / COMPLETED).read_bytes() == (RELEASED_DIR / COMPLETED).read_bytes()
    again = hub("release", "--released", str(released))
    assert again.stdout.splitlines() == ["nothing new to release"]
