"""The event log's rendering: stable, readable, one escape per undecodable byte."""

import pytest

from labkit.serving.events import EventLog, plural, preview

pytestmark = pytest.mark.timeout(10)


@pytest.mark.parametrize("data, shown", [
    ("你好".encode(), "'你好'"),
    ("你".encode()[:2], r"'\xe4\xbd'"),          # half a character: two escapes, not four
    (b"\xff\x00ok\r\n", r"'\xff\x00ok\r\n'"),
    (b"it's", r"'it\'s'"),
    (b"a" * 41, "'" + "a" * 40 + "'…"),
])
def test_preview(data, shown):
    assert preview(data) == shown


def test_plural():
    assert [plural(n) for n in (0, 1, 2)] == ["0 bytes", "1 byte", "2 bytes"]


def test_log_groups_by_connection_with_notes_first_and_stopped_last():
    log = EventLog()
    log.add(2, "connected")
    log.add(0, "stopped")
    log.add(1, "connected")
    log.add(0, "note", "listening on 0.0.0.0")
    log.add(1, "error", "ValueError: x")
    assert repr(log).splitlines() == [
        "[server] note: listening on 0.0.0.0",
        "[conn 1] connected",
        "[conn 1] error: ValueError: x",
        "[conn 2] connected",
        "[server] stopped",
    ]
    assert log.kinds(1) == ["connected", "error"] and len(log) == 5


def test_log_keeps_only_the_newest_events():
    log = EventLog(limit=3, unit="peer")
    for i in range(5):
        log.add(1, "received", str(i))
    assert repr(log).splitlines() == ["(2 older events dropped)", "[peer 1] received 2",
                                      "[peer 1] received 3", "[peer 1] received 4"]
