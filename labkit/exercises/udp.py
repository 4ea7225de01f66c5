"""Exercises of lesson 08-udp: a reliable request over a network that misbehaves.

The check calls the learner's ``ask`` three times, against a small UDP echo server
that plays the network's part from a fixed plan (the same on every run):

1. The first request is lost, the reply to the second is lost, the reply to the
   third comes 0.6 s late, and the reply to the fourth arrives twice. With waits
   of 0.05, 0.1, 0.2 s the 4th attempt is the first to get its answer in time;
   the late and the duplicate reply turn up after ``ask`` has returned. When each
   attempt arrived shows whether the waits grew (backoff).
2. A second question, answered at once. A socket kept from the first call still
   holds the late and duplicate replies, so it returns the old answer.
3. Every request is lost: ``ask`` must give up with TimeoutError, in time.

After each call every socket ``ask`` made must be closed (``left_open()``).
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time

from labkit.exercises.core import register
from labkit.exercises.watch import NotYet, call, learner_sockets, left_open
from labkit.wire.protocols import ECHO_PREFIX

__all__ = ["udp_echo"]

_SOLUTION = '''
def ask(address, text):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        timeout = 0.05
        for attempt in range(5):
            sock.sendto(text.encode("utf-8"), address)
            sock.settimeout(timeout)
            try:
                data, peer = sock.recvfrom(2048)
                return data.decode("utf-8")
            except TimeoutError:
                timeout *= 2          # back off: wait twice as long next time
    raise TimeoutError(f"no reply after 5 attempts")
'''

LATE = 0.6  # s: how late the reply to the third attempt comes
# what happens to the 1st, 2nd ... request of the first call; later ones are answered
FIRST_CALL = ["lose", "lose reply", "late", "twice"]
TEXTS = ["你好, UDP", "再见, UDP", "anyone there?"]


def udp_echo(data: bytes, peer) -> bytes:
    """The echo protocol for datagrams: one reply per datagram.

    >>> udp_echo("你好".encode(), ("127.0.0.1", 5000)).decode()
    '欢迎访问>>>>你好\\r\\n'
    """
    return ECHO_PREFIX.encode("utf-8") + data + b"\r\n"


class _Network:
    """A UDP echo server behind a network that follows a plan, one request at a time.

    ``expect(plan)`` starts a call: the n-th request is then lost ("lose"), answered
    with a reply that is lost ("lose reply"), answered LATE s late ("late"), answered
    twice ("twice"), or answered ("reply", also past the end of the plan; with
    ``lose_all`` every request is lost). It records when each request arrived.
    One daemon thread; never prints; ``close()`` joins it.
    """

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.address = self.sock.getsockname()
        self.arrivals: list[float] = []
        self._plan, self._lose_all = [], False
        self._late: list[tuple[float, bytes, tuple]] = []  # (when, reply, peer)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="labkit-udp-network",
                                        daemon=True)
        self._thread.start()

    def expect(self, plan=(), *, lose_all: bool = False) -> None:
        with self._lock:
            self._plan, self._lose_all, self.arrivals = list(plan), lose_all, []

    def _loop(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.sock], [], [], 0.01)  # short: stop() is quick
            self._send_due()
            if ready:
                self._serve_one()

    def _send_due(self) -> None:
        now = time.monotonic()
        with self._lock:
            due = [item for item in self._late if item[0] <= now]
            self._late = [item for item in self._late if item[0] > now]
        for _, reply, peer in due:
            self._sendto(reply, peer)

    def _serve_one(self) -> None:
        try:
            data, peer = self.sock.recvfrom(65535)
        except OSError:  # e.g. an ICMP error left by a reply to a closed port
            return
        with self._lock:
            self.arrivals.append(time.monotonic())
            n = len(self.arrivals)
            fate = ("lose" if self._lose_all else
                    self._plan[n - 1] if n <= len(self._plan) else "reply")
            if fate == "late":
                self._late.append((time.monotonic() + LATE, udp_echo(data, peer), peer))
        if fate in ("reply", "twice"):
            self._sendto(udp_echo(data, peer), peer)
        if fate == "twice":
            self._sendto(udp_echo(data, peer), peer)

    def _sendto(self, reply: bytes, peer) -> None:
        try:
            self.sock.sendto(reply, peer)
        except OSError:
            pass

    def wait_quiet(self, timeout: float = 2.0) -> None:
        """Wait until every late reply has gone out, and nothing new came for 0.05 s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                idle = not self._late and (not self.arrivals
                                           or time.monotonic() - self.arrivals[-1] > 0.05)
            if idle:
                return
            time.sleep(0.01)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def _recording(ask, box: dict):
    """*ask*, keeping the exception it raises (call() turns it into text)."""
    def ask_recorded(address, text):
        try:
            return ask(address, text)
        except BaseException as exc:  # noqa: BLE001 - reported to the learner
            box["error"] = exc
            raise
    return ask_recorded


def _raised(exc: BaseException) -> str:
    """'TimeoutError' or 'TimeoutError ("no reply")': never a stray colon for empty text."""
    return type(exc).__name__ + (f" ({str(exc)!r})" if str(exc) else "")


def _ordinal(n: int) -> str:
    return str(n) + {1: "st", 2: "nd", 3: "rd"}.get(n, "th")


_CUT = ("The reply was cut short: recvfrom(n) returns at most n bytes of a datagram and "
        "throws the rest away. Ask for enough: recvfrom(2048).")


def _ask(ask, net, text: str, box: dict):
    """Call the learner's ask(net.address, text); a TypeError about str gets its fix."""
    box.clear()
    try:
        return call(_recording(ask, box), net.address, text, timeout=4,
                    what=f"ask(address, {text!r})")
    except NotYet as exc:
        if "did not return" in str(exc):
            _wake()
        error = box.get("error")
        if isinstance(error, TypeError) and "bytes-like" in str(error):
            raise NotYet(f"{str(exc).rstrip('.')}. sendto() sends bytes: send "
                         "text.encode('utf-8').") from None
        if isinstance(error, UnicodeDecodeError) and "unexpected end" in str(error):
            raise NotYet(f"{str(exc).rstrip('.')}. {_CUT}") from None
        raise


def _wake() -> None:
    """Shut down the learner's sockets, so that a recvfrom waiting with no timeout returns
    (b'', None) and the thread stuck in it ends; closing alone would not wake it."""
    for sock in learner_sockets():
        with contextlib.suppress(OSError):  # ENOTCONN for a UDP socket, but it wakes
            sock.shutdown(socket.SHUT_RDWR)


def _closed(after: str) -> None:
    """ask() has returned or raised: every socket it made must be closed."""
    still = left_open(wait=0.2)
    if not still:
        return
    if len(still) == 1:
        what = "its UDP socket was still open"
    else:
        what = (f"{len(still)} UDP sockets were still open (a new socket for each attempt, "
                "never closed)")
    raise NotYet(f"{after}, but {what}. Make one socket, before the loop, in a `with "
                 "socket.socket(...) as sock:` block: it is closed whichever way ask() "
                 "ends, by return or by raise.")


def _first_call(ask, net, box: dict) -> list[float]:
    """The first call, over the network of FIRST_CALL; when each attempt arrived."""
    text = TEXTS[0]
    net.expect(FIRST_CALL)
    try:
        reply = _ask(ask, net, text, box)
    except NotYet as exc:
        sent, timed_out = len(net.arrivals), "did not return" in str(exc)
        if sent == 0 or not (timed_out or "error" in box):
            raise
        if sent == 1 and timed_out:
            raise NotYet(f"ask(address, {text!r}) did not return within 4 s: your first "
                         "datagram was lost, and you sent only one and went on waiting for its "
                         "reply. Wait 0.05 s (sock.settimeout(0.05)); when that runs out, send "
                         "it again.") from None
        if sent == 1:
            raise NotYet(f"{str(exc).rstrip('.')}. Your first datagram was lost and you sent "
                         "only one: when no reply comes in time, send it again.") from None
        if not timed_out and sent < len(FIRST_CALL):
            raise NotYet(f"ask(address, {text!r}) raised {_raised(box['error'])} after {sent} "
                         "attempts. Here the first request is lost, the reply to the second is "
                         "lost and the reply to the third comes late, so the 4th attempt is the "
                         "first to get an answer in time: make 5 attempts before you give "
                         "up.") from None
        if timed_out:
            raise NotYet(f"ask(address, {text!r}) did not return within 4 s, though the 4th "
                         "attempt gets an answer at once. Start with a short wait, 0.05 s, "
                         "and double it after each attempt: 0.05, 0.1, 0.2 ...") from None
        raise
    times = list(net.arrivals)
    _closed(f"ask(address, {text!r}) returned")
    _check_reply(reply, text)
    gaps = [b - a for a, b in zip(times, times[1:])]
    if gaps and min(gaps) < 0.01:  # the solution's shortest gap is its first wait, 0.05 s
        raise NotYet("You sent the next attempt without waiting for a reply: the attempts came "
                     "all at once. Wait 0.05 s for a reply (sock.settimeout(0.05), then "
                     "recvfrom), and send again only when it times out.")
    # load on the machine only lengthens gaps; doubling makes the last 2x or 4x the first
    if len(gaps) >= 2 and gaps[-1] < (1.5 if len(gaps) == 2 else 2.5) * min(gaps):
        raise NotYet("You waited as long before your last attempt as before your first: the "
                     "same wait every time. Back off: double the timeout after each attempt "
                     "(0.05, 0.1, 0.2 ... s).")
    return times


def _check_reply(reply, text: str, earlier: str | None = None) -> None:
    want = udp_echo(text.encode("utf-8"), None).decode("utf-8")
    what = f"ask(address, {text!r})"
    if isinstance(reply, (bytes, bytearray)):
        raise NotYet(f"{what} returned bytes {bytes(reply)!r}; return a str: decode the reply.")
    if reply is None:
        raise NotYet(f"{what} returned None: return the reply as a str, "
                     "data.decode('utf-8').")
    if isinstance(reply, tuple):  # its address holds a port that changes every run: not shown
        raise NotYet(f"{what} returned a tuple, as recvfrom() does: (data, address). Return "
                     "only the text: data.decode('utf-8').")
    if earlier is not None and reply == udp_echo(earlier.encode("utf-8"), None).decode("utf-8"):
        raise NotYet(f"{what} returned {reply!r}, the reply to the earlier ask(address, "
                     f"{earlier!r}): a late or duplicate copy of an old reply was still waiting "
                     "in your socket. Make a new socket in each call (`with socket.socket(...) "
                     "as sock:` inside ask), so that no old reply can reach it.")
    whole = want.encode("utf-8")
    if reply != want and any(reply == whole[:n].decode("utf-8", "replace")
                             for n in range(1, len(whole))):
        raise NotYet(f"{what} returned {reply!r}, the start of the reply {want!r}. {_CUT}")
    if reply != want:
        raise NotYet(f"{what} returned {reply!r}; expected {want!r}.")


def _gives_up(ask, net, box: dict) -> int:
    """The last call, with every request lost; how many attempts it made."""
    text = TEXTS[2]
    net.expect(lose_all=True)
    try:
        value = _ask(ask, net, text, box)
    except NotYet as exc:
        if "did not return" in str(exc):
            sent = len(net.arrivals)
            raise NotYet("When every datagram is lost, ask() had not given up after 4 s"
                         + (" (it sent one datagram and waited)" if sent <= 1 else "")
                         + ". Stop after 5 attempts and raise TimeoutError: with waits of "
                         "0.05, 0.1, 0.2, 0.4 and 0.8 s that is 1.55 s in all.") from None
        if "error" not in box:
            raise
    else:
        raise NotYet(f"Every datagram was lost, yet ask() returned {value!r}; raise "
                     "TimeoutError when no reply ever comes.")
    sent = len(net.arrivals)
    error = box["error"]
    _closed(f"ask(address, {text!r}) gave up with {type(error).__name__}")
    if not isinstance(error, TimeoutError):  # socket.timeout is TimeoutError too
        raise NotYet(f"With every datagram lost, ask() gave up after {sent} attempts but raised "
                     f"{_raised(error)}; raise TimeoutError, the exception the task asks for "
                     "(and the one recv's own timeout raises).")
    return sent


@register("08-retry", title="A reliable request over a lossy network", solution=_SOLUTION, hints=[
    "Without a timeout, recvfrom() waits for ever for a reply that was lost. "
    "sock.settimeout(0.05) makes it raise TimeoutError instead.",
    "When it times out, send the same datagram again and wait again: a loop of at most "
    "5 attempts, all from one socket, made in a `with` block inside ask.",
    "Back off: double the timeout after each attempt (0.05, 0.1, 0.2 ...), so a slow "
    "or busy server is not flooded with copies.",
    "After the last attempt, raise TimeoutError rather than return None.",
])
def _check_retry(ask) -> str:
    box: dict = {}
    with _Network() as net:
        times = _first_call(ask, net, box)
        net.wait_quiet()  # the late and the duplicate reply have gone out
        net.expect(["twice"])
        _check_reply(_ask(ask, net, TEXTS[1], box), TEXTS[1], earlier=TEXTS[0])
        _closed(f"ask(address, {TEXTS[1]!r}) returned")
        net.wait_quiet()
        sent = _gives_up(ask, net, box)
    return (f"your request got through on the {_ordinal(len(times))} attempt (a request lost, "
            "a reply lost, one late), old copies of replies did not fool the next question, "
            f"and with every datagram lost you gave up after {sent} attempts with TimeoutError.")
