"""Screenshots of the obeya's main pages for the docs (``docs/img/obeya-*.png``), taken with
the same Playwright and Chromium as the browser tests, against the same node.

Run: ``.venv/bin/python tests/web/obeya_screenshots.py`` (not collected by pytest)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _obeya import CHROMIUM, EXPERIMENT, prepare, serve
from playwright.sync_api import sync_playwright

OUT = Path(__file__).resolve().parents[2] / "docs" / "img"
SHOTS = [
    ("obeya-network.png", "/obeya/", "#network-map[data-rendered]"),
    ("obeya-vsm.png", "/obeya/vsm", "#vsm-figure svg"),
    ("obeya-process.png", "/obeya/process", "#process-map[data-rendered]"),
    ("obeya-waste.png", "/obeya/waste", "#pareto-chart[data-rendered]"),
    ("obeya-inventory.png", "/obeya/inventory", "#stock-chart[data-rendered]"),
    ("obeya-kaizen.png", "/obeya/kaizen", ".board"),
    ("obeya-a3.png", f"/obeya/kaizen/{EXPERIMENT}", "#a3-title"),
    ("obeya-partners.png", "/obeya/partners", ".partner"),
]


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        store, token, partner = prepare(root)
        node = serve(store, token, partner, root / "serve.log")
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM)
                page = browser.new_page(viewport={"width": 1366, "height": 860})
                page.set_default_timeout(120_000)
                page.goto(node.url + "/obeya/login")
                page.fill("#token", token)
                page.keyboard.press("Enter")
                page.wait_for_selector("#network-map")
                for name, path, ready in SHOTS:
                    page.goto(node.url + path)
                    page.wait_for_selector(ready)
                    page.wait_for_timeout(1500)  # the force layouts settle
                    page.screenshot(path=str(OUT / name), full_page=name != "obeya-vsm.png")
                    print(OUT / name)
                browser.close()
        finally:
            node.stop()


if __name__ == "__main__":
    main()
