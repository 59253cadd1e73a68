#!/usr/bin/python3
"""A page as a browser loads it (issue 28): headless Chromium, driven by Debian's chromedriver
through Selenium (python3-selenium), opens BASE + PATH with the session cookie, and reads the
navigation timing: from the start of the navigation to the end of the `load` event, the page's
assets included. Cold: the browser's cache emptied first. Warm: the same page again (another
query string, so the HTML is asked for again and the assets come from the cache). Prints one
line: the medians of RUNS runs, `cold_ms warm_ms cold_requests warm_requests`, where requests
counts the assets fetched over the network (a cached one transfers nothing).

    bench/page_load.py BASE COOKIE_NAME COOKIE_VALUE PATH RUNS
"""

import statistics
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

TIMING = """
const n = performance.getEntriesByType('navigation')[0];
const fetched = performance.getEntriesByType('resource').filter(r => r.transferSize > 0);
return n && n.loadEventEnd > 0 ? [n.loadEventEnd - n.startTime, fetched.length] : null;
"""


def measure(driver, url):
    driver.get(url)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        got = driver.execute_script(TIMING)
        if got:
            return got
        time.sleep(0.01)
    raise SystemExit(f"{url} never finished loading")


def main():
    base, name, value, path, runs = sys.argv[1:6]
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.get(base + "/healthz")  # a page of the origin, to set the cookie on
        driver.add_cookie({"name": name, "value": value, "path": "/"})
        cold, warm, cold_n, warm_n = [], [], [], []
        for i in range(int(runs)):
            driver.execute_cdp_cmd("Network.enable", {})
            driver.execute_cdp_cmd("Network.clearBrowserCache", {})
            ms, n = measure(driver, f"{base}{path}?cold={i}")
            cold.append(ms)
            cold_n.append(n)
            ms, n = measure(driver, f"{base}{path}?warm={i}")
            warm.append(ms)
            warm_n.append(n)
        print(
            f"{statistics.median(cold):.1f} {statistics.median(warm):.1f} "
            f"{statistics.median(cold_n):.0f} {statistics.median(warm_n):.0f}"
        )
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
