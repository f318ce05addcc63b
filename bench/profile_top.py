"""Top entries of py-spy raw (collapsed-stack) profiles: self and inclusive shares.

    .venv/bin/python bench/profile_top.py DIR/missions.txt [...] [--top 25] [--json]

Each file is one process's samples (`py-spy record --format raw`, as `bench/e2e_latency.py
--py-spy DIR` writes them). A frame is shown as `function (file)`, line numbers dropped, so a
function's samples add up whatever line they were on. With `--json`, one JSON line per file.
"""

from __future__ import annotations

import argparse
import collections
import json
import re

FRAME = re.compile(r"(?P<function>.*) \((?P<path>.*?)(?::\d+)?\)$")


def frame_name(frame: str) -> str:
    match = FRAME.match(frame)
    if match is None:
        return frame
    path = re.sub(r".*site-packages/", "", match["path"])
    path = re.sub(r".*/(hub|consumers|schemas|bench)/", r"\1/", path)
    return f"{match['function']} ({path})"


def summarize(path: str, top: int) -> dict:
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    with open(path) as lines:
        for line in lines:
            line = line.rstrip()
            if not line:
                continue
            stack, _, count = line.rpartition(" ")
            n = int(count)
            frames = [frame_name(f) for f in stack.split(";")]
            total += n
            own[frames[-1]] += n
            for frame in set(frames):
                inclusive[frame] += n

    def shares(counter: collections.Counter[str]) -> list[tuple[float, str]]:
        return [(round(100 * n / total, 1), f) for f, n in counter.most_common(top)]

    return {"file": path, "samples": total, "self": shares(own),
            "inclusive": shares(inclusive)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    for path in args.files:
        summary = summarize(path, args.top)
        if args.json:
            print(json.dumps(summary))
            continue
        print(f"== {path}: {summary['samples']} samples")
        for kind in ("self", "inclusive"):
            print(f"-- {kind}")
            for share, frame in summary[kind]:
                print(f"{share:5.1f}% {frame}")


if __name__ == "__main__":
    main()
