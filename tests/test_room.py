"""labkit.classroom.room: serving a lesson protocol to the class from a notebook, and grading a
classmate's server at an address that is not loopback (tests/test_room_netns.py does the
same across network namespaces)."""

from __future__ import annotations

import datetime
import errno
import socket
import time
from types import SimpleNamespace

import psutil
import pytest

import labkit
from labkit.classroom import addresses
from labkit.classroom import room as roommod
from labkit.classroom.addresses import JoinAddress, join_addresses

pytestmark = pytest.mark.timeout(30)

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def wait_for(predicate, timeout=3.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


# -- join addresses ------------------------------------------------------------------------


def _nic(family, address):
    return SimpleNamespace(family=family, address=address)


@pytest.fixture
def machine(monkeypatch):
    """A machine with loopback, a wired and a docker interface up, and Wi-Fi down."""
    v4, v6 = socket.AF_INET, socket.AF_INET6
    addrs = {
        "lo": [_nic(v4, "127.0.0.1"), _nic(v6, "::1")],
        "eth0": [_nic(v4, "192.168.1.20"), _nic(v6, "fe80::1%eth0"), _nic(v6, "2001:db8::5"),
                 _nic(psutil.AF_LINK, "02:00:00:00:00:01")],
        "wlan0": [_nic(v4, "10.0.0.5")],
        "docker0": [_nic(v4, "172.17.0.1"), _nic(v4, "169.254.3.3")],
    }
    stats = {name: SimpleNamespace(isup=name != "wlan0") for name in addrs}
    monkeypatch.setattr(psutil, "net_if_addrs", lambda: addrs)
    monkeypatch.setattr(psutil, "net_if_stats", lambda: stats)


def test_the_any_address_lists_every_ipv4_network_address_of_an_interface_that_is_up(machine):
    assert [str(a) for a in join_addresses(41234)] == [  # real interfaces first
        "join at 192.168.1.20:41234 (eth0)", "join at 172.17.0.1:41234 (docker0)"]
    assert join_addresses(41234, "") == join_addresses(41234, "0.0.0.0")


def test_the_ipv6_any_address_lists_global_ipv6_addresses_in_brackets(machine):
    assert [str(a) for a in join_addresses(41234, "::")] == ["join at [2001:db8::5]:41234 (eth0)"]


def test_a_specific_address_is_itself_with_its_interface(machine):
    assert join_addresses(7000, "192.168.1.20") == [JoinAddress("192.168.1.20", 7000, "eth0")]
    assert str(join_addresses(7000, "203.0.113.9")[0]) == "join at 203.0.113.9:7000"


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
def test_loopback_is_this_machine_only(machine, host):
    assert join_addresses(7000, host) == [JoinAddress(host, 7000, "this machine only")]


def test_no_network_address_is_said(monkeypatch):
    monkeypatch.setattr(psutil, "net_if_addrs", lambda: {"lo": [_nic(socket.AF_INET, "127.0.0.1")]})
    monkeypatch.setattr(psutil, "net_if_stats", lambda: {})
    assert join_addresses(7000) == []
    assert addresses.join_lines(7000, "0.0.0.0") == [
        "join at: no network address found on this machine - is it connected to the network?"]


def test_this_machine_lists_its_real_addresses():
    for address in join_addresses(7000):
        assert address.port == 7000 and address.interface
        assert not ipaddress_of(address).is_loopback


def ipaddress_of(address):
    import ipaddress

    return ipaddress.ip_address(address.host)


# -- the room ------------------------------------------------------------------------------


def test_a_chat_room_on_loopback_shows_who_is_in_it(baseline):
    before = datetime.datetime.now().replace(microsecond=0)
    room = labkit.serve_room("chat")
    assert room.host == "127.0.0.1" and room.warning is None
    assert repr(room) == (
        f'chat room on 127.0.0.1:{room.port} (loopback: pass host="0.0.0.0" to serve the room)\n'
        f"join at 127.0.0.1:{room.port} (this machine only)\n"
        "nobody connected yet")
    bundle = room._repr_mimebundle_()
    assert bundle["text/plain"] == repr(room) and WIDGET_VIEW in bundle
    with labkit.connect(room) as alice, labkit.connect(room) as bob:
        alice.sendall(b"/nick alice\n")
        bob.sendall(b"/nick bob\n")
        roster = room.roster()
        assert roster.names() == ["alice", "bob"]
        assert [(e.host, e.port) for e in roster] == [alice.getsockname(), bob.getsockname()]
        assert all(before <= e.since <= datetime.datetime.now() for e in roster)
        lines = repr(roster).splitlines()
        assert lines[0] == "2 connected"
        assert lines[1] == (f"alice  127.0.0.1:{alice.getsockname()[1]}  "
                            f"since {roster[0].since:%Y-%m-%d %H:%M:%S}")
        assert lines[2].startswith("bob    127.0.0.1:")
        assert repr(room).splitlines()[2:] == lines
        wait_for(lambda: "<td>bob</td>" in room._table.value)  # the live roster caught up
        alice.sendall(b"/quit\n")
        assert bob.recv(100) == b"* alice left\n"
        assert room.roster().names() == ["bob"]
        wait_for(lambda: "<td>alice</td>" not in room._table.value)
    room.stop()
    room.stop()
    assert not room.running and not room._thread.is_alive()
    assert repr(room) == f"chat room on 127.0.0.1:{room.port}: stopped"
    assert room._button.disabled and room._state.value == "stopped"


def test_other_protocols_name_each_connection(baseline):
    room = labkit.serve_room("echo")
    with labkit.connect(room) as one, labkit.connect(room) as two:
        roster = room.roster()
        assert roster.names() == ["conn 1", "conn 2"]
        assert [e.port for e in roster] == [one.getsockname()[1], two.getsockname()[1]]
        one.sendall("你好".encode())
        assert one.recv(100).decode() == "欢迎访问>>>>你好\r\n"
    room.stop()


def test_a_room_stands_for_its_server_in_consoles_and_panels(baseline):
    room = labkit.serve_room("chat")
    panel = labkit.chat_panel(room, ["ann", "ben"])
    panel.say("ann", "你好")
    assert panel.transcript("ben") == "→ /nick ben\n← ann: 你好"
    assert room.roster().names() == ["ann", "ben"]
    console = labkit.Console(room)  # a chat room: lines end in a newline
    assert console.newline == "\n" and repr(console) == "<Console connected to chat room (open)>"
    console.close()
    panel.close()
    assert room.roster().names() == []
    room.stop()


def test_the_panel_tells_learners_how_to_join(baseline, machine):
    room = labkit.serve_room("chat", host="0.0.0.0")
    head = room._head.value
    assert "join at 192.168.1.20:" in head and "join at 172.17.0.1:" in head
    assert (f"labkit.chat_panel((&quot;192.168.1.20&quot;, {room.port}), [&quot;your name&quot;])"
            in head)
    assert f"python -m labkit client chat --host 192.168.1.20 --port {room.port} --nick NAME" in head
    room.stop()
    room = labkit.serve_room("echo")
    assert f"python -m labkit client echo --host 127.0.0.1 --port {room.port}" in room._head.value
    room.stop()


def test_the_stop_button_stops_the_room(baseline):
    room = labkit.serve_room("chat")
    member = labkit.connect(room)
    assert room.roster().names() == ["guest1"]  # accepted, and in the room
    room._button.click()  # what the instructor's click does
    assert not room.running and member.recv(100) == b""
    member.close()
    assert labkit.running() == []


def test_rerunning_the_cell_replaces_the_room_and_stop_all_ends_it(baseline):
    first = labkit.serve_room("chat")
    second = labkit.serve_room("chat")
    assert not first.running and second.running
    other = labkit.serve_room("echo")  # a room per protocol
    assert sorted(s.name for s in labkit.running()) == ["chat room", "echo room"]
    assert labkit.stop_all() == 2
    wait_for(lambda: not second._thread.is_alive() and not other._thread.is_alive())
    first.stop()


def test_close_widgets_closes_a_room(baseline):
    room = labkit.serve_room("clock")
    assert labkit.seeing.close_widgets() >= 1
    assert not room.running


def test_serving_the_room_says_so_with_the_cli_wording(baseline):
    room = labkit.serve_room("chat", host="0.0.0.0")
    assert room.warning == ("warning: listening on 0.0.0.0: reachable from other machines on "
                            "the network; press stop (or run room.stop()) when the demo is over")
    assert addresses.network_warning("0.0.0.0") == room.warning.replace(
        roommod.ROOM_STOP, "stop with Ctrl-C when the demo is over")
    lines = repr(room).splitlines()
    assert lines[:2] == [room.warning, f"chat room on 0.0.0.0:{room.port}"]
    assert lines[2:-1] == addresses.join_lines(room.port, "0.0.0.0")
    assert room.join == join_addresses(room.port, "0.0.0.0")
    assert "reachable from other machines" in room._head.value
    with labkit.connect(("127.0.0.1", room.port)) as member:  # 0.0.0.0 takes loopback too
        member.sendall(b"/nick ann\n")
        assert room.roster().names() == ["ann"]
    room.stop()


def test_a_bad_protocol_or_a_taken_port_leaks_nothing(baseline):
    with pytest.raises(ValueError, match="unknown protocol 'http'"):
        labkit.serve_room("http")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        with pytest.raises(labkit.errors.LabkitError, match="already in use"):
            labkit.serve_room("chat", port=s.getsockname()[1])


# -- grading a classmate's server --------------------------------------------------------------


def a_network_address():
    found = join_addresses(0)
    if not found:
        pytest.skip("this machine has no network address to grade a server at")
    return found[0].host


def test_grading_a_server_at_a_network_address(baseline):
    host = a_network_address()
    classmate = labkit.serve(labkit.ChatRoom(), name="classmate", host="0.0.0.0")
    report = labkit.check_chat_server((host, classmate.port))
    assert report.status == "correct", report
    assert report.address == (host, classmate.port)
    classmate.stop()


def test_a_classmate_server_on_loopback_is_not_reachable_at_the_network_address(baseline):
    host = a_network_address()
    classmate = labkit.serve(labkit.ChatRoom(), name="classmate")  # 127.0.0.1: lesson 02
    report = labkit.check_chat_server((host, classmate.port))
    assert report.status == "not attempted"
    assert report.steps[0] == ("join", False, (
        f"nothing is listening on {host}:{classmate.port}: is the server running, and bound "
        "to 0.0.0.0 (a server on 127.0.0.1 is for its own machine only)?"))
    classmate.stop()


def windows_error(code, text):
    """An OSError as Windows raises it: errno and winerror are the WSA code."""
    exc = OSError(code, text)
    exc.winerror = code
    return exc


@pytest.mark.parametrize("error, says", [
    (TimeoutError("timed out"),
     "nothing answered at 198.18.0.9:7000 within 2 s: is the address right, and is a firewall "
     "in the way (macOS and Windows ask whether to allow a server on 0.0.0.0)?"),
    (OSError(errno.EHOSTUNREACH, "No route to host"),
     "cannot reach 198.18.0.9:7000 (No route to host): are both machines on the same network, "
     "and is the address right?"),
    (OSError(errno.ENETUNREACH, "Network is unreachable"),
     "cannot reach 198.18.0.9:7000 (Network is unreachable): are both machines on the same "
     "network, and is the address right?"),
    (windows_error(10065, "A socket operation was attempted to an unreachable host"),
     "cannot reach 198.18.0.9:7000 (A socket operation was attempted to an unreachable host): "
     "are both machines on the same network, and is the address right?"),
    (socket.gaierror(-2, "Name or service not known"),
     "cannot find the host '198.18.0.9': check how the address is spelt"),
])
def test_an_unreachable_classmate_is_not_attempted_and_says_what_to_check(monkeypatch, error, says):
    def connect(sock, address):
        raise error

    monkeypatch.setattr(socket.socket, "connect", connect)
    report = labkit.check_chat_server(("198.18.0.9", 7000))
    assert report.status == "not attempted"
    assert report.steps[0] == ("join", False, says)
    assert [p for _, p, _ in report.steps[1:]] == [None] * 6


def test_another_connect_error_is_not_yet_and_named(monkeypatch):
    def connect(sock, address):
        raise OSError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(socket.socket, "connect", connect)
    report = labkit.check_chat_server(("198.18.0.9", 7000))
    assert report.status == "not yet"
    assert report.steps[0][2] == "alice could not connect: PermissionError: [Errno 13] Permission denied"
