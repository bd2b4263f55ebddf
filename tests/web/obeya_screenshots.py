"""Screenshots of the obeya's main pages for the docs (``docs/img/obeya-*.png``), taken with
the same Playwright and Chromium as the browser tests, against the same node.

Run: ``.venv/bin/python tests/web/obeya_screenshots.py`` (not collected by pytest)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _obeya import CHROMIUM, EXPERIMENT, SCENARIOS, prepare, ready, serve
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
    ("obeya-scenarios.png", "/obeya/scenarios", "#scenario-chart-1[data-rendered]"),
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
                # a comparison for the scenarios page, run through its form
                page.goto(node.url + "/obeya/scenarios")
                page.check(f"input[name=file][value='{SCENARIOS.name}']")
                for variant in ("share-sales", "retail-safety-25", "fast-truck"):
                    page.check(f"input[name=variant][value='{variant}']")
                page.fill("#replications", "512")
                page.click("#compare")
                page.wait_for_selector("#shown[data-status='done']")
                for name, path, selector in SHOTS:
                    ready(page, node.url + path)
                    page.wait_for_selector(selector)
                    page.wait_for_timeout(1500)  # the force layouts settle
                    page.screenshot(path=str(OUT / name), full_page=name != "obeya-vsm.png")
                    print(OUT / name)
                browser.close()
        finally:
            node.stop()


if __name__ == "__main__":
    main()
