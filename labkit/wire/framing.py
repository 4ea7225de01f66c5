"""Message framing: turn a TCP byte stream back into the messages that were sent.

TCP carries bytes, not messages: one ``send(b"hello")`` may arrive as ``b"he"``
and ``b"llo"``, two sends may arrive in one ``recv``, and ``你`` (three bytes in
UTF-8) may be cut in half. So both sides agree on a framing - a newline after
each message, a length in front of it, or Java's ``writeUTF`` - and the
receiver keeps reading until a whole frame is there.

The decoders (``LineDecoder``, ``FrameDecoder``, ``TextDecoder``) never touch a
socket: feed them bytes in any pieces and they return the complete messages. The
socket helpers (``recv_exactly``, ``LineReader``, ``recv_frame``) take an overall
``timeout``, so a silent peer never hangs a cell. Java's ``writeUTF`` / ``readUTF``
(``UtfDecoder``, ``read_utf``) are in :mod:`labkit.wire.javautf`.
"""

from __future__ import annotations

import codecs
import collections
import contextlib
import dataclasses
import socket
import time

from labkit.errors import FrameTooLargeError, FramingError, LabTimeoutError, PeerClosedError

__all__ = [
    "recv_exactly", "encode_line", "TooLong", "LineDecoder", "LineReader",
    "encode_frame", "FrameDecoder", "send_frame", "recv_frame", "TextDecoder",
]  # fmt: skip

_CHUNK = 65536  # most bytes asked of one recv, or copied by a decoder at once


# --- reading from a socket against one deadline --------------------------------


@contextlib.contextmanager
def _receiving(sock, timeout):
    """Yield a recv function that honours one overall deadline; restore the timeout."""
    old = sock.gettimeout()
    deadline = None if timeout is None else time.monotonic() + timeout

    def recv(bufsize):
        # past the deadline, still take bytes that are already there
        left = None if deadline is None else max(deadline - time.monotonic(), 1e-6)
        sock.settimeout(left)
        return sock.recv(bufsize)

    try:
        yield recv
    finally:
        sock.settimeout(old)


def _fill(recv, buf, n):
    """Append to ``buf`` until it holds n bytes; False if the peer closed first."""
    while len(buf) < n:
        chunk = recv(min(n - len(buf), _CHUNK))
        if not chunk:
            return False
        buf += chunk
    return True


def recv_exactly(sock, n, *, timeout=10.0):
    """Read exactly n bytes from a socket, however the sender split them.

    >>> a, b = socket.socketpair()
    >>> with a, b:
    ...     b.sendall(b"hel"); b.sendall(b"lo world")
    ...     recv_exactly(a, 5)
    b'hello'

    ``timeout`` (seconds, or None) is a deadline for the whole call.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, not {n!r}")
    buf = bytearray()
    with _receiving(sock, timeout) as recv:
        try:
            complete = _fill(recv, buf, n)
        except socket.timeout as exc:
            msg = f"timed out after {timeout} s with {len(buf)} of {n} bytes received"
            raise LabTimeoutError(msg) from exc
    if not complete:
        raise PeerClosedError(f"peer closed the connection after {len(buf)} of {n} bytes")
    return bytes(buf)


# --- lines ---------------------------------------------------------------------


def encode_line(data, *, newline=b"\n"):
    """Return one line ready to send: the data (str as UTF-8) plus the newline.

    >>> encode_line("你好")
    b'\\xe4\\xbd\\xa0\\xe5\\xa5\\xbd\\n'
    """
    body = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    # searching body + newline also catches a newline begun by the end of body
    at = (body + newline).find(newline)
    if at != len(body):
        raise FramingError(f"line must not contain the newline {newline!r} (found at offset {at})")
    return body + newline


@dataclasses.dataclass(frozen=True)
class TooLong:
    """Stands in for a line longer than allowed; ``length`` bytes were dropped.

    >>> LineDecoder(max_length=4).feed(b"ok\\ntoo long\\n")
    [b'ok', TooLong(length=8)]
    """

    length: int


class LineDecoder:
    """Split bytes into lines, whatever pieces they arrive in.

    >>> d = LineDecoder()
    >>> d.feed(b"hel"), d.feed(b"lo\\nwor")
    ([], [b'hello'])

    Lines come back without the newline. A line over ``max_length`` bytes comes
    back as one ``TooLong(length)``; its bytes are dropped as they arrive, so an
    endless line uses bounded memory. With ``at_once=True`` (a chat server that
    answers a long line before it ends) the ``TooLong`` comes as soon as the line
    passes the limit, its length what had arrived by then, and nothing more for it:

    >>> d = LineDecoder(max_length=4, at_once=True)
    >>> d.feed(b"far too"), d.feed(b" long\\nok\\n")
    ([TooLong(length=7)], [b'ok'])
    """

    def __init__(self, max_length=4096, newline=b"\n", *, at_once=False):
        if not isinstance(newline, bytes) or not newline:
            raise ValueError(f"newline must be non-empty bytes, not {newline!r}")
        self.max_length = max_length
        self.newline = newline
        self.at_once = at_once
        self._buf = bytearray()
        self._dropped = 0  # bytes of the current too-long line already thrown away
        self._told = False  # at_once: the current line's TooLong has gone out already

    @property
    def pending(self):
        """Number of bytes buffered towards the next line."""
        return len(self._buf)

    def feed(self, data):
        """Add received bytes; return the lines (bytes or TooLong) they complete."""
        out = []
        for start in range(0, len(data), _CHUNK):
            self._buf += data[start : start + _CHUNK]
            self._split(out)
        return out

    def _split(self, out):
        buf, nl = self._buf, self.newline
        start = 0
        while (end := buf.find(nl, start)) >= 0:
            length = self._dropped + end - start
            if length <= self.max_length:
                out.append(bytes(buf[start:end]))
            elif not self._told:
                out.append(TooLong(length))
            self._dropped, self._told = 0, False
            start = end + len(nl)
        del buf[:start]
        # keep the last len(nl) - 1 bytes: they may begin a newline split across feeds
        excess = len(buf) - (len(nl) - 1)
        if excess > 0 and self._dropped + excess > self.max_length:
            self._dropped += excess
            del buf[:excess]
            if self.at_once and not self._told:
                out.append(TooLong(self._dropped))
                self._told = True


class LineReader:
    """Read lines from a socket, one at a time.

    >>> a, b = socket.socketpair()
    >>> with a, b:
    ...     b.sendall(b"hello\\nwor"); b.sendall(b"ld\\n"); b.close()
    ...     reader = LineReader(a)
    ...     reader.readline(), reader.readline(), reader.readline()
    (b'hello', b'world', None)

    ``readline()`` returns None once the peer has closed.

    A line over ``max_length`` raises FrameTooLargeError; the reader stays
    usable and the next call returns the line after it.
    """

    def __init__(self, sock, *, max_length=4096, newline=b"\n", bufsize=4096):
        self.sock = sock
        self.bufsize = bufsize
        self._decoder = LineDecoder(max_length, newline)
        self._ready = collections.deque()

    def readline(self, timeout=10.0):
        """Return the next line without its newline, or None at a clean EOF."""
        decoder = self._decoder
        with _receiving(self.sock, timeout) as recv:
            while not self._ready:
                try:
                    data = recv(self.bufsize)
                except socket.timeout as exc:
                    msg = f"no complete line within {timeout} s ({decoder.pending} bytes buffered)"
                    raise LabTimeoutError(msg) from exc
                if not data:
                    if got := decoder.pending + decoder._dropped:
                        msg = f"peer closed the connection mid-line after {got} bytes"
                        raise PeerClosedError(msg)
                    return None
                self._ready.extend(decoder.feed(data))
        line = self._ready.popleft()
        if isinstance(line, TooLong):
            msg = f"line too long: {line.length} bytes, the maximum is {decoder.max_length}"
            raise FrameTooLargeError(msg)
        return line


# --- length-prefixed frames ----------------------------------------------------


def _check_header(header):
    if header not in (1, 2, 4, 8):
        raise ValueError(f"header must be 1, 2, 4 or 8 bytes, not {header!r}")


def _check_size(size, max_size):
    if size > max_size:
        raise FrameTooLargeError(f"frame announces {size} bytes, the maximum is {max_size}")


def encode_frame(payload, *, header=4):
    """Return the payload behind a big-endian length prefix of ``header`` bytes.

    >>> encode_frame(b"hi")
    b'\\x00\\x00\\x00\\x02hi'
    >>> encode_frame(b"hi", header=1)
    b'\\x02hi'
    """
    _check_header(header)
    if isinstance(payload, str):
        raise TypeError("payload must be bytes, not str - encode it first")
    limit = (1 << (8 * header)) - 1
    if len(payload) > limit:
        raise FrameTooLargeError(
            f"payload of {len(payload)} bytes does not fit a {header}-byte length prefix"
            f" (at most {limit})"
        )
    return len(payload).to_bytes(header, "big") + bytes(payload)


class FrameDecoder:
    """Split bytes into length-prefixed frames, whatever pieces they arrive in.

    >>> d = FrameDecoder(header=1)
    >>> d.feed(b"\\x02h"), d.feed(b"i\\x00")
    ([], [b'hi', b''])

    A prefix announcing more than ``max_size`` raises FrameTooLargeError before
    anything is allocated; the stream cannot be trusted after that.
    """

    def __init__(self, *, header=4, max_size=1 << 20):
        _check_header(header)
        self.header = header
        self.max_size = max_size
        self._buf = bytearray()

    @property
    def pending(self):
        """Number of bytes buffered towards the next frame."""
        return len(self._buf)

    def feed(self, data):
        """Add received bytes; return the payloads of the frames they complete."""
        buf, header = self._buf, self.header
        buf += data
        out, start = [], 0
        try:
            while len(buf) - start >= header:
                size = int.from_bytes(buf[start : start + header], "big")
                _check_size(size, self.max_size)
                if len(buf) - start - header < size:
                    break
                out.append(bytes(buf[start + header : start + header + size]))
                start += header + size
        finally:
            del buf[:start]
        return out


def send_frame(sock, payload, *, header=4):
    """Send one length-prefixed frame with sendall.

    >>> a, b = socket.socketpair()
    >>> with a, b:
    ...     send_frame(b, "你好".encode())
    ...     a.recv(100)
    b'\\x00\\x00\\x00\\x06\\xe4\\xbd\\xa0\\xe5\\xa5\\xbd'
    """
    sock.sendall(encode_frame(payload, header=header))


def _recv_prefixed(sock, header, max_size, timeout, *, eof_ok):
    """Read one length-prefixed body; None at EOF before the header if eof_ok."""
    buf = bytearray()
    part, wanted = "header", header
    with _receiving(sock, timeout) as recv:
        try:
            if _fill(recv, buf, header):
                part, wanted = "payload", int.from_bytes(buf, "big")
                _check_size(wanted, max_size)
                buf.clear()
                if _fill(recv, buf, wanted):
                    return bytes(buf)
            elif not buf and eof_ok:
                return None
        except socket.timeout as exc:
            msg = f"timed out after {timeout} s with {len(buf)} of {wanted} {part} bytes received"
            raise LabTimeoutError(msg) from exc
    if part == "header" and not buf:
        raise PeerClosedError("peer closed the connection before the frame's length arrived")
    raise PeerClosedError(
        f"peer closed the connection mid-frame after {len(buf)} of {wanted} {part} bytes"
    )


def recv_frame(sock, *, header=4, max_size=1 << 20, timeout=10.0):
    """Receive one length-prefixed frame; None if the peer closed between frames.

    >>> a, b = socket.socketpair()
    >>> with a, b:
    ...     send_frame(b, b"hello"); b.close()
    ...     recv_frame(a), recv_frame(a)
    (b'hello', None)
    """
    _check_header(header)
    return _recv_prefixed(sock, header, max_size, timeout, eof_ok=True)


# --- text split across reads ---------------------------------------------------


class TextDecoder:
    """Decode text that arrives in pieces; a character cut in half waits for its rest.

    >>> d = TextDecoder()
    >>> d.feed(b"\\xe4\\xbd"), d.feed(b"\\xa0!")
    ('', '你!')
    """

    def __init__(self, encoding="utf-8", errors="replace"):
        self._decoder = codecs.getincrementaldecoder(encoding)(errors)

    @property
    def pending(self):
        """Number of bytes held back as the start of an incomplete character."""
        return len(self._decoder.getstate()[0])

    def feed(self, data):
        """Decode received bytes; return the complete characters."""
        return self._decoder.decode(data)

    def finish(self):
        """Flush at end of stream (an incomplete character becomes U+FFFD) and reset."""
        text = self._decoder.decode(b"", final=True)
        self._decoder.reset()
        return text
