"""From ``make demo`` on a fresh clone to the first obeya page served (install included), and
to the first kaizen adopted.

Clones this repository into a temporary directory (``git clone --local``: the committed tree,
as a user's clone has it), then runs ``make demo DEMO_FLAGS="--headless --stop-after ..."``
there twice: once stopping at the first page served (the venv is created and keiretsu
installed by this run: the install is in the figure), once, with the venv now in place,
stopping at the first kaizen adopted (``--stop-after first-kaizen``). Prints both wall times.

    .venv/bin/python bench/demo_first_page.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(cmd: list[str], cwd: Path) -> tuple[float, str]:
    began = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return seconds, done.stdout


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="keiretsu-clone-") as tmp:
        clone = Path(tmp) / "keiretsu"
        subprocess.run(["git", "clone", "--quiet", "--local", str(ROOT), str(clone)], check=True)
        first_page, out = timed(
            ["make", "demo", "DEMO_FLAGS=--headless --stop-after first-page"], clone
        )
        served = [line for line in out.splitlines() if "every obeya answers" in line]
        print(
            f"make demo on a fresh clone → first page served: {first_page:.0f} s "
            f"(install included; {served[0].strip() if served else '?'})"
        )
        kaizen, out = timed(
            ["make", "demo", "DEMO_FLAGS=--headless --stop-after first-kaizen --cycles 3"], clone
        )
        adopted = [line for line in out.splitlines() if "first kaizen adopted" in line]
        print(
            f"make demo (installed) → first kaizen adopted: {kaizen:.0f} s "
            f"({adopted[0].strip() if adopted else 'none adopted in 3 cycles'})"
        )


if __name__ == "__main__":
    main()
