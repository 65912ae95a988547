"""Renders a report.html in headless Chromium and prints what the browser drew, as JSON.

Usage: python3 render_report.py REPORT_HTML SCREENSHOT_PNG

For every <svg data-chart> it reports the rendered size and how many data marks (elements of
class `mark`) have a non-empty box on screen, plus any console errors and failed requests
(a self-contained page makes none). Uses Playwright's Python driver with Debian's Chromium
(/usr/bin/chromium, or $CHROMIUM); no browser download.
"""
import json
import os
import pathlib
import sys

from playwright.sync_api import sync_playwright

MEASURE = """
() => Array.from(document.querySelectorAll('svg[data-chart]')).map(svg => {
  const box = svg.getBoundingClientRect();
  const marks = Array.from(svg.querySelectorAll('.mark'));
  const drawn = marks.filter(m => { const b = m.getBoundingClientRect(); return (b.width > 0 && b.height > 0) || (m.tagName === 'path' && (b.width > 0 || b.height > 0)); });
  return {chart: svg.dataset.chart, width: box.width, height: box.height, marks: marks.length, drawn: drawn.length};
})
"""


def main() -> None:
    page_path = pathlib.Path(sys.argv[1]).resolve()
    shot = sys.argv[2]
    browser_path = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    errors, requests = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_path, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1024, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url) if not r.url.startswith("file://") else None)
        page.goto(page_path.as_uri())
        charts = page.evaluate(MEASURE)
        headline = page.eval_on_selector_all("ol.headline li", "els => els.map(e => e.innerText)")
        page.screenshot(path=shot, full_page=True)
        browser.close()
    print(json.dumps({"charts": charts, "headline": headline, "errors": errors, "external_requests": requests}))


if __name__ == "__main__":
    main()
