"""Message framing: turn a TCP byte stream back into the messages that were sent.

TCP carries bytes, not messages: one ``send(b"hello")`` may arrive as ``b"he"``
and ``b"llo"``, two sends may arrive in one ``recv``, and ``你`` (three bytes in
UTF-8) may be cut in half. So both sides agree on a framing - a newline after
each message, a length in front of it, or Java's ``writeUTF`` - and the
receiver keeps reading until a whole frame is there.

The decoders (``LineDecoder``, ``FrameDecoder``, ``UtfDecoder``, ``TextDecoder``)
never touch a socket: feed them bytes in any pieces and they return the complete
messages. The socket helpers (``recv_exactly``, ``LineReader``, ``recv_frame``,
``read_utf``) take an overall ``timeout``, so a silent peer never hangs a cell.
"""

from __future__ import annotations

import codecs
import collections
import contextlib
import dataclasses
import re
import socket
import time

from labkit.errors import FrameTooLargeError, FramingError, LabTimeoutError, PeerClosedError

__all__ = [
    "recv_exactly", "encode_line", "TooLong", "LineDecoder", "LineReader",
    "encode_frame", "FrameDecoder", "send_frame", "recv_frame",
    "encode_modified_utf8", "decode_modified_utf8", "encode_utf", "UtfDecoder",
    "write_utf", "read_utf", "TextDecoder",
]  # fmt: skip

_CHUNK = 65536  # most bytes asked of one recv, or copied by a decoder at once
_UTF_MAX = 65535  # writeUTF's 2-byte length prefix


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
    endless line uses bounded memory.
    """

    def __init__(self, max_length=4096, newline=b"\n"):
        if not isinstance(newline, bytes) or not newline:
            raise ValueError(f"newline must be non-empty bytes, not {newline!r}")
        self.max_length = max_length
        self.newline = newline
        self._buf = bytearray()
        self._dropped = 0  # bytes of the current too-long line already thrown away

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
            out.append(TooLong(length) if length > self.max_length else bytes(buf[start:end]))
            self._dropped = 0
            start = end + len(nl)
        del buf[:start]
        # keep the last len(nl) - 1 bytes: they may begin a newline split across feeds
        excess = len(buf) - (len(nl) - 1)
        if excess > 0 and self._dropped + excess > self.max_length:
            self._dropped += excess
            del buf[:excess]


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


# --- Java's writeUTF / readUTF -------------------------------------------------

_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_NOT_IN_MUTF8 = re.compile(b"[\x00\xf0-\xff]")


def _surrogate_pair(match):
    code = ord(match.group()) - 0x10000
    return chr(0xD800 + (code >> 10)) + chr(0xDC00 + (code & 0x3FF))


def encode_modified_utf8(text):
    """Encode text as Java's modified UTF-8 (U+0000 as C0 80, astral as 2 surrogates).

    >>> encode_modified_utf8("\\x00")
    b'\\xc0\\x80'
    >>> encode_modified_utf8("😀")
    b'\\xed\\xa0\\xbd\\xed\\xb8\\x80'
    """
    units = _ASTRAL.sub(_surrogate_pair, text)
    return units.encode("utf-8", "surrogatepass").replace(b"\x00", b"\xc0\x80")


def decode_modified_utf8(data):
    """Decode Java's modified UTF-8; FramingError names the offset of a bad byte.

    >>> decode_modified_utf8(b"\\xc0\\x80")
    '\\x00'
    >>> decode_modified_utf8(b"\\xed\\xa0\\xbd\\xed\\xb8\\x80")
    '😀'

    Surrogate pairs become one character; lone surrogates are kept, as in Java.
    """
    data = bytes(data)
    bad = _NOT_IN_MUTF8.search(data)
    end = bad.start() if bad else len(data)
    pieces, offset = [], 0
    for piece in data[:end].split(b"\xc0\x80"):
        try:
            pieces.append(piece.decode("utf-8", "surrogatepass"))
        except UnicodeDecodeError as exc:
            at = offset + exc.start
            raise FramingError(f"malformed modified UTF-8 at offset {at}: {exc.reason}") from exc
        offset += len(piece) + 2
    if bad:
        reason = (
            "a 00 byte (Java writes U+0000 as C0 80)"
            if data[end] == 0
            else f"byte 0x{data[end]:02x} (Java writes U+10000 and up as two 3-byte surrogates)"
        )
        raise FramingError(f"malformed modified UTF-8 at offset {end}: {reason}")
    # a UTF-16 round trip joins surrogate pairs and keeps lone surrogates
    units = "\x00".join(pieces).encode("utf-16-be", "surrogatepass")
    return units.decode("utf-16-be", "surrogatepass")


def encode_utf(text):
    """Return what Java's DataOutputStream.writeUTF(text) writes.

    >>> encode_utf("hi")
    b'\\x00\\x02hi'
    """
    body = encode_modified_utf8(text)
    if len(body) > _UTF_MAX:
        msg = f"encoded string too long: {len(body)} bytes, writeUTF allows at most {_UTF_MAX}"
        raise FrameTooLargeError(msg)
    return len(body).to_bytes(2, "big") + body


class UtfDecoder:
    """Split bytes into writeUTF strings, whatever pieces they arrive in.

    >>> d = UtfDecoder()
    >>> d.feed(b"\\x00\\x02h"), d.feed(b"i")
    ([], ['hi'])
    """

    def __init__(self):
        self._frames = FrameDecoder(header=2, max_size=_UTF_MAX)

    @property
    def pending(self):
        """Number of bytes buffered towards the next string."""
        return self._frames.pending

    def feed(self, data):
        """Add received bytes; return the strings they complete."""
        return [decode_modified_utf8(body) for body in self._frames.feed(data)]


def write_utf(sock, text):
    """Send text as Java's DataOutputStream.writeUTF does.

    >>> a, b = socket.socketpair()
    >>> with a, b:
    ...     write_utf(b, "hi")
    ...     a.recv(100)
    b'\\x00\\x02hi'
    """
    sock.sendall(encode_utf(text))


def read_utf(sock, *, timeout=10.0):
    """Receive one string as Java's DataInputStream.readUTF does.

    >>> a, b = socket.socketpair()
    >>> with a, b:
    ...     write_utf(b, "谢谢连接我")
    ...     read_utf(a)
    '谢谢连接我'

    EOF anywhere, even before the length, raises PeerClosedError (Java: EOFException).
    """
    return decode_modified_utf8(_recv_prefixed(sock, 2, _UTF_MAX, timeout, eof_ok=False))


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
