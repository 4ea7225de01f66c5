"""Exercises of lesson 08-udp: a reliable request over a lossy relay.

The check puts labkit's relay in front of a UDP echo server and tells it to
lose the first two requests and the first reply, so only the fourth attempt
gets through: an ``ask`` that sends once, or waits without a timeout, never
gets its answer. The relay's record of when each attempt arrived shows
whether the waits grew (backoff). Finally the relay loses everything, and
``ask`` must give up with an exception rather than wait for ever.
"""

from __future__ import annotations

from ..exercises import NotYet, call, register
from ..protocols import ECHO_PREFIX
from ..relay import Relay
from ..udp import UDPServer

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


def udp_echo(data: bytes, peer) -> bytes:
    """The echo protocol for datagrams: one reply per datagram."""
    return ECHO_PREFIX.encode("utf-8") + data + b"\r\n"


def _attempts(relay: Relay) -> list[float]:
    relay.wait_quiet(0.5)
    return relay.arrival_times("requests")


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


@register("08-retry", title="A reliable request over a lossy network", solution=_SOLUTION, hints=[
    "Without a timeout, recvfrom() waits for ever for a reply that was lost. "
    "sock.settimeout(0.05) makes it raise TimeoutError instead.",
    "When it times out, send the same datagram again and wait again: a loop of at most "
    "5 attempts.",
    "Back off: double the timeout after each attempt (0.05, 0.1, 0.2 ...), so a slow "
    "or busy server is not flooded with copies.",
    "After the last attempt, raise TimeoutError rather than return None.",
])
def _check_retry(ask) -> str:
    text = "你好, UDP"
    want = f"{ECHO_PREFIX}{text}\r\n"
    what = f"ask(address, {text!r})"
    box: dict = {}
    with UDPServer(udp_echo, name="exercise-udp", timeout=5) as server, \
            Relay(server.address, drop=(1, 2), drop_replies=(1,), name="exercise-relay") as relay:
        try:
            reply = call(_recording(ask, box), relay.address, text, timeout=4, what=what)
        except NotYet as exc:
            sent = len(_attempts(relay))
            if sent <= 1:
                raise NotYet(f"{str(exc).rstrip('.')}. The relay lost your first datagram "
                             "and you sent only one: "
                             "when no reply comes in time, send it again.") from None
            if "error" in box:
                raise NotYet(f"{what} raised {_raised(box['error'])} after {sent} attempts. "
                             "This relay loses the first two requests and the first reply, "
                             "so the 4th attempt is the first to get an answer: make 5 "
                             "attempts before you give up.") from None
            raise
        times = _attempts(relay)
    if isinstance(reply, bytes):
        raise NotYet(f"ask() returned bytes {reply!r}; return a str: decode the reply.")
    if reply != want:
        raise NotYet(f"ask() returned {reply!r}; expected {want!r}.")
    gaps = [b - a for a, b in zip(times, times[1:])]
    if len(gaps) >= 3 and gaps[-1] < 1.5 * gaps[0]:
        waits = ", ".join(f"{g:.2f}" for g in gaps)
        raise NotYet(f"your attempts came {waits} s apart: the same wait every time. Back off: "
                     "double the timeout after each attempt.")
    box.clear()
    with UDPServer(udp_echo, name="exercise-udp", timeout=5) as server, \
            Relay(server.address, loss=1.0, name="exercise-relay") as relay:
        try:
            value = call(_recording(ask, box), relay.address, text, timeout=4, what=what)
        except NotYet as exc:
            if "did not return" in str(exc):
                raise NotYet("when every datagram is lost, ask() never gives up: stop after a "
                             "few attempts (5 is plenty) and raise TimeoutError.") from None
        else:
            raise NotYet(f"every datagram was lost, yet ask() returned {value!r}; raise "
                         "TimeoutError when no reply ever comes.")
        sent = len(_attempts(relay))
    error = box.get("error")
    if not isinstance(error, TimeoutError):  # socket.timeout is TimeoutError too
        raise NotYet(f"with every datagram lost, ask() gave up after {sent} attempts but raised "
                     f"{_raised(error) if error else 'nothing we could see'}; raise "
                     "TimeoutError, the exception the task asks for (and the one recv's own "
                     "timeout raises).")
    return (f"your request got through after {len(times)} attempts (the relay lost two "
            f"requests and a reply), and with every datagram lost you gave up after {sent} "
            "attempts with TimeoutError.")
