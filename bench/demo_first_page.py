"""From ``make demo`` on a fresh clone to the first obeya page served (install included), and
to the first kaizen adopted.

Clones this repository into a temporary directory (``git clone --local``: the committed tree,
as a user's clone has it) and runs what ``make demo`` runs there, stage by stage, each timed:
the venv (``make .venv/bin/python``: ``python -m venv`` and uv into it), keiretsu's install
with its run dependencies (``make install``: ``uv pip install -e .``, pip as the fallback),
then ``make demo DEMO_FLAGS="--headless --stop-after first-page"`` (the five nodes up, every
obeya answering). Their sum is the fresh clone's time to the first page. Then, with the venv
in place, ``make demo DEMO_FLAGS="--headless --stop-after first-kaizen"``: to the first
kaizen adopted. The installers' caches (``~/.cache/uv``, ``~/.cache/pip``) are used as on a
user's machine after a first install; ``--no-cache`` installs with ``UV_NO_CACHE=1`` and
``PIP_NO_CACHE_DIR=1`` (every wheel downloaded again).
``--runs N`` repeats the whole measure and prints the medians.

    .venv/bin/python bench/demo_first_page.py [--runs 3] [--no-cache]
"""

from __future__ import annotations

import argparse
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    began = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False, env=env)
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return seconds, done.stdout


def once(no_cache: bool) -> dict[str, float]:
    env = dict(os.environ)
    env.pop("VIRTUAL_ENV", None)
    if no_cache:
        env["PIP_NO_CACHE_DIR"] = "1"
        env["UV_NO_CACHE"] = "1"  # make installs with uv (pip only as its fallback)
    with tempfile.TemporaryDirectory(prefix="keiretsu-clone-") as tmp:
        clone = Path(tmp) / "keiretsu"
        began = time.perf_counter()
        subprocess.run(["git", "clone", "--quiet", "--local", str(ROOT), str(clone)], check=True)
        out: dict[str, float] = {"clone": time.perf_counter() - began}
        out["venv"], _ = timed(["make", ".venv/bin/python"], clone, env)
        out["install"], _ = timed(["make", "install"], clone, env)
        out["demo to first page"], text = timed(
            ["make", "demo", "DEMO_FLAGS=--headless --stop-after first-page"], clone, env
        )
        served = re.search(r"every obeya answers \(([\d.]+) s after the start\)", text)
        out["of which nodes up"] = float(served.group(1)) if served else math.nan
        out["first page (fresh clone)"] = (
            out["clone"] + out["venv"] + out["install"] + out["demo to first page"]
        )
        out["first kaizen (installed)"], text = timed(
            ["make", "demo", "DEMO_FLAGS=--headless --stop-after first-kaizen --cycles 3"],
            clone,
            env,
        )
        adopted = re.search(r"first kaizen adopted ([\d.]+) s after the start", text)
        out["of which story"] = float(adopted.group(1)) if adopted else math.nan
        for line in text.splitlines():
            if "cycle" in line and ("adopted" in line or "abandoned" in line or "nothing" in line):
                print("   ", line.strip())
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--no-cache", action="store_true", help="pip downloads every wheel")
    args = parser.parse_args()
    runs = []
    for i in range(args.runs):
        got = once(args.no_cache)
        runs.append(got)
        print(f"run {i + 1}: " + ", ".join(f"{k} {v:.0f} s" for k, v in got.items()), flush=True)
    print(f"medians of {len(runs)} run(s) (s); nan: the milestone was not reached:")
    for key in runs[0]:
        print(f"  {key:<28} {statistics.median(r[key] for r in runs):7.0f}")


if __name__ == "__main__":
    main()
