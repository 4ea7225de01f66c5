"""Lesson 11's server in a real browser: headless Chromium loads the page that the shown
solution of 11-server serves, run as the exercise's check runs a learner's handler (a
labkit TCPServer, a thread per connection), and the page's text renders: its Chinese
heading as 你好, since the reply says it is HTML in UTF-8.

Chromium is Debian's, driven through Playwright's sync API as in test_lab.py; without it
the test skips (under CI it fails: CI installs it, see tools/testpolicy.py).
"""

from __future__ import annotations

import socket

import pytest

import labkit
from labkit.serving.servers import TCPServer
from test_lab import CHROMIUM, CHROMIUM_ARGS, _missing_reason
from testpolicy import skip_or_fail

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


def _solution_handler():
    """handle(conn) as the learner's cell defines it: the exercise's shown solution."""
    space = {"socket": socket, "labkit": labkit}
    exec(labkit.exercise("11-server").solution().text, space)  # noqa: S102 - the lesson's code
    return space["handle"]


def test_chromium_renders_the_page_of_the_learners_server(baseline):
    if reason := _missing_reason():
        skip_or_fail(reason)
    from playwright.sync_api import sync_playwright

    with TCPServer(_solution_handler(), name="http-page", timeout=3) as server:
        url = f"http://127.0.0.1:{server.port}/"
        with sync_playwright() as pw:
            chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                          headless=True)
            try:
                page = chromium.new_page()
                response = page.goto(url, wait_until="load", timeout=20_000)
                assert response is not None and response.status == 200
                assert response.headers["content-length"] == str(len(response.body()))
                # told HTML in UTF-8 (11-server's check requires it), 你好 renders as 你好,
                # not as the UTF-8 bytes read in another encoding ('ä½ å¥½')
                kind = response.headers["content-type"].replace(" ", "").lower()
                assert kind == "text/html;charset=utf-8", kind
                assert page.title() == "Socket Lab"
                assert page.locator("h1").inner_text() == "你好, HTTP!"
                missing = page.goto(url + "nothing-here", timeout=20_000)
                assert missing is not None and missing.status == 404
                assert "not found" in page.content()
            finally:
                chromium.close()
        assert server.accepted >= 1
        assert not server.errors, server.errors
