"""Drives Debian's chromium (headless, through chromedriver and selenium) through the device
page's firmware upload, as a person recovering a device would: open the page, pick the file,
press Upload, wait for the device to come back. Prints one JSON line with what it saw;
screenshots go to the folder given.

usage: recover.py URL IMAGE SCREENSHOT_DIR [USERNAME PASSWORD]
"""

import base64
import json
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By


def main():
    url, image, shots = sys.argv[1:4]
    credentials = sys.argv[4:6]
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=900,1000"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        if credentials:
            # HTTP Basic for every request of the page (the page itself, the upload, the polls),
            # as a browser does once the user typed them into its login prompt.
            token = base64.b64encode(":".join(credentials).encode()).decode()
            driver.execute_cdp_cmd("Network.enable", {})
            driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"Authorization": "Basic " + token}})
        driver.get(url)
        before = driver.find_element(By.ID, "md5").text
        title = driver.title
        driver.save_screenshot(shots + "/before.png")
        driver.find_element(By.ID, "file").send_keys(image)
        driver.find_element(By.ID, "submit").click()
        status = driver.find_element(By.ID, "status")
        deadline = time.time() + 90
        while time.time() < deadline:
            kind = status.get_attribute("class")
            if kind in ("ok", "bad"):
                break
            time.sleep(0.25)
        after = driver.find_element(By.ID, "md5").text
        driver.save_screenshot(shots + "/after.png")
        print(json.dumps({"title": title, "before": before, "after": after, "status": status.text, "ok": status.get_attribute("class") == "ok"}))
    finally:
        driver.quit()


main()
