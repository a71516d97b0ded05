"""Screenshots of the explorer's three pages into results/proxy/explore/ (README shows them), taken with
headless Debian chromium through selenium. Usage: python results/explore_screenshots.py SITE TASK QID"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from bright_eval.explore import browser

site, task, qid = Path(sys.argv[1]).resolve(), sys.argv[2], sys.argv[3]
why = browser.missing()
if why:
    sys.exit(f"no screenshots: {why}")
driver = browser.start()
try:
    for name, route, ready in (("overview", "#/", "#board"), ("task", f"#/task/{task}", "#qtable"),
                               ("query", f"#/query/{task}/{qid}", "#rankings")):
        driver.get((site / "index.html").as_uri() + route)
        browser.wait_for(driver, ready)
        time.sleep(0.5)  # the per-task plots draw after the table
        browser.full_page_png(driver, site / f"{name}.png", max_height=1500 if name != "query" else 2600)
        print(f"{site / name}.png")
finally:
    driver.quit()
