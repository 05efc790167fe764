"""Take the README's screenshot: the design-card question answered, its citation open.

    make screenshot          # or: .venv/bin/python docs/screenshot.py docs/chat.png

Starts `python app.py` over a copy of corpus/ with an empty index on a free loopback
port, asks in headless Chromium, clicks the first citation chip, saves a PNG.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.app_server import start_app  # noqa: E402
from tests.support import LIN_YUN_QUESTION  # noqa: E402
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, ask  # noqa: E402


def main(out: Path) -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder:
        server = start_app(Path(folder))
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
                )
                page = browser.new_page(viewport={"width": 1360, "height": 860})
                page.goto(server.url)
                bubble = ask(page, LIN_YUN_QUESTION)
                bubble.locator(".cite-chip").first.click()
                page.locator("#sources .src-card.active").wait_for(state="visible")
                page.wait_for_timeout(1500)  # let the highlight animation settle
                page.screenshot(path=str(out))
                browser.close()
        finally:
            server.stop()
    print(f"wrote {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "chat.png")
