"""Drives Debian's chromium (headless, through chromedriver and selenium) through the ferrota
dashboard as a fleet owner would: look at the list, open the editor on the broken config and
watch it check as they type, install one device, press Update all and close the browser while
it runs, then open the page again to see the job finish. Prints one JSON line with what it saw;
screenshots go to the folder given.

usage: dashboard.py URL SCREENSHOT_DIR
"""

import json
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def wait(what, check, seconds=120):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            result = check()
            if result:
                return result
        except Exception:  # the page re-renders under us: try again
            pass
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}")


def card(driver, file):
    return driver.find_element(By.CSS_SELECTOR, f'.card[data-file="{file}"]')


def run_state(driver, file):
    """The state of `file` in the newest job shown."""
    job = driver.find_elements(By.CSS_SELECTOR, ".job")[0]
    row = job.find_element(By.CSS_SELECTOR, f'.run[data-file="{file}"]')
    return row.find_element(By.CSS_SELECTOR, ".state").text, job.find_element(By.CSS_SELECTOR, ".head .state").text


def main():
    url, shots = sys.argv[1:3]
    seen = {}
    driver = browser()
    try:
        driver.get(url)
        seen["title"] = driver.title
        wait("three devices online", lambda: len(driver.find_elements(By.CSS_SELECTOR, ".dot.online")) == 3)
        seen["cards"] = {c.get_attribute("data-file"): [b.text for b in c.find_elements(By.CSS_SELECTOR, ".badge")]
                         for c in driver.find_elements(By.CSS_SELECTOR, ".card")}
        seen["problems"] = [p.text for p in card(driver, "broken.yaml").find_elements(By.CSS_SELECTOR, ".problems li")]
        seen["outdated"] = driver.find_element(By.ID, "count-outdated").text
        driver.save_screenshot(shots + "/list.png")

        # The editor checks as you type, and offers the fix.
        card(driver, "broken.yaml").find_element(By.CSS_SELECTOR, "button.edit").click()
        wait("the editor's first check", lambda: driver.find_element(By.ID, "editor-state").text)
        seen["editor_before"] = driver.find_element(By.ID, "editor-state").text
        driver.save_screenshot(shots + "/editor-invalid.png")
        # Its quick fix, from the same checks as the editor's language server.
        fix = wait("the quick fix", lambda: driver.find_element(By.CSS_SELECTOR, "#editor-problems button.fix"))
        seen["fix"] = fix.text
        fix.click()
        wait("the fixed text checked", lambda: driver.find_element(By.ID, "editor-state").text == "valid")
        seen["fixed_line"] = [l for l in driver.find_element(By.ID, "editor-text").get_attribute("value").split("\n") if "level" in l]
        seen["editor_after"] = driver.find_element(By.ID, "editor-state").text
        driver.save_screenshot(shots + "/editor-valid.png")
        driver.find_element(By.ID, "editor-close").click()

        # Install one.
        card(driver, "a.yaml").find_element(By.CSS_SELECTOR, "button.install").click()
        # The page re-renders as progress comes: read what was seen in the same try.
        seen["install"] = wait("a.yaml installed", lambda: (lambda s: s if s[0] == "succeeded" else None)(run_state(driver, "a.yaml")))
        driver.find_element(By.CSS_SELECTOR, '.job .run[data-file="a.yaml"]').click()
        wait("its log", lambda: "updated" in driver.find_element(By.CSS_SELECTOR, "pre.log").text)
        seen["log_has_update"] = True
        driver.save_screenshot(shots + "/installed.png")

        # Update all, one at a time, and close the browser while it runs: the first device
        # (its port takes connections and drops them) fails only after the client's retries.
        wait("a up to date", lambda: driver.find_element(By.ID, "count-outdated").text == "2")
        jobs = driver.find_element(By.ID, "parallel")
        jobs.clear()
        jobs.send_keys("1")
        driver.find_element(By.ID, "update-all").click()
        def rollout():
            title = driver.find_elements(By.CSS_SELECTOR, ".job")[0].find_element(By.CSS_SELECTOR, ".head .title").text
            slow, b = run_state(driver, "0-slow.yaml"), run_state(driver, "b.yaml")
            return [slow[1], b[0]] if title == "Job 2" and slow[1] == "running" else None
        seen["closed_while"] = wait("the rollout running", rollout)
        driver.save_screenshot(shots + "/update-all-running.png")
    finally:
        driver.quit()

    driver = browser()
    try:
        driver.get(url)
        def finished():
            slow, b = run_state(driver, "0-slow.yaml"), run_state(driver, "b.yaml")
            return [slow[0], b[0], b[1]] if b[1] in ("succeeded", "failed") else None
        seen["reopened"] = wait("the rollout finished, seen from a new browser", finished, 180)
        wait("only the unreachable one left", lambda: driver.find_element(By.ID, "count-outdated").text == "1")
        driver.save_screenshot(shots + "/after-update-all.png")
    finally:
        driver.quit()
    print(json.dumps(seen))


main()
