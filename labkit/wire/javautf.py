"""Java's ``writeUTF`` / ``readUTF`` on a byte stream: modified UTF-8 (U+0000 as C0 80,
an emoji as two 3-byte surrogates) behind a 2-byte big-endian length.

``UtfDecoder`` never touches a socket; ``write_utf`` and ``read_utf`` do, and
``read_utf`` takes an overall ``timeout``, so a silent peer never hangs a cell.
"""

from __future__ import annotations

import re
import socket  # noqa: F401 - the examples below use it

from labkit.errors import FrameTooLargeError, FramingError
from labkit.wire.framing import FrameDecoder, _recv_prefixed

__all__ = ["encode_modified_utf8", "decode_modified_utf8", "encode_utf", "UtfDecoder",
           "write_utf", "read_utf"]

_UTF_MAX = 65535  # writeUTF's 2-byte length prefix

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
