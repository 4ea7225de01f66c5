"""The command line: ``python -m labkit serve | client | doctor``.

    python -m labkit serve echo --port 9998        # prints "listening on 127.0.0.1:9998"
    python -m labkit client echo --port 9998 你好   # prints the server's reply
    python -m labkit client chat --port 7000 --nick alice   # chat: type lines, Ctrl-D leaves
    python -m labkit doctor                         # pre-flight checklist

Exit status: 0 success, 1 a failed connection or check, 2 bad usage.
"""

from __future__ import annotations

import argparse
import codecs
import os
import queue
import select
import signal
import socket
import sys
import threading

from labkit.serving import clients
from labkit.classroom import handlers
from labkit.programs.preflight import doctor
from labkit.errors import LabkitError
from labkit.classroom.addresses import join_lines, network_warning
from labkit.serving.servers import TCPServer


def _port(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be in 0..65535, not {port}")
    return port


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m labkit", description="Socket Lab helpers.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve a lesson protocol until Ctrl-C",
                           description="Serve a lesson protocol until SIGINT or SIGTERM.")
    serve.add_argument("protocol", choices=handlers.PROTOCOLS)
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to bind (default 127.0.0.1; 0.0.0.0 serves the whole network)")
    serve.add_argument("--port", type=_port, default=0, help="port (default 0: any free port)")
    serve.add_argument("--timeout", type=float, default=300.0,
                       help="seconds a silent client may stay connected (default 300)")
    serve.add_argument("-v", "--verbose", action="store_true", help="print the event log as it grows")

    client = sub.add_parser("client", help="talk to a server once and print its reply",
                            description="Connect, speak the protocol once, print the reply. "
                                        "chat is interactive: each line typed is sent, lines "
                                        "that arrive are printed, end of input (Ctrl-D) leaves.")
    client.add_argument("protocol", choices=("echo", "greeting", "clock", "chat"))
    client.add_argument("--nick", help="chat: the name to take (sends /nick NAME first)")
    client.add_argument("--host", default="127.0.0.1")
    client.add_argument("--port", type=_port, required=True)
    client.add_argument("--timeout", type=float, default=5.0)
    client.add_argument("message", nargs="?", default=None,
                        help="text to send (echo, greeting; default 你好); - reads it from "
                             "stdin as UTF-8, exactly, so it may hold any character, U+0000 too")

    doc = sub.add_parser("doctor", help="check that this machine is ready for the course",
                         description="Check Python, packages, kernel, loopback sockets, Java "
                                     "and PHP.")
    doc.add_argument("--need", action="append", choices=["java", "php"], default=[],
                     help="check only this runtime (Java 11+, PHP with sockets), and fail "
                          "without it; may be given twice")
    return parser


def cmd_serve(args) -> int:
    stop = threading.Event()
    # SIGBREAK: Ctrl-Break in a Windows console (it has no other name there)
    for sig in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGBREAK", None)):
        if sig is not None:
            signal.signal(sig, lambda *_: stop.set())
    handler = handlers.handler_for(args.protocol)
    try:
        server = TCPServer(handler, host=args.host, port=args.port,
                           timeout=args.timeout, name=args.protocol)
    except (LabkitError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    warning = network_warning(args.host)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    print(f"listening on {server.host}:{server.port}", flush=True)  # first line: a contract
    if warning:  # where the room joins: the same lines as a notebook's serve_room shows
        print("\n".join(join_lines(server.port, args.host)), flush=True)
    seen = 0
    try:
        while not stop.wait(0.1):
            if args.verbose:
                for event in server.events.since(seen):
                    print(event, flush=True)
                    seen = event.seq
    finally:
        server.stop()
    return 0


def _stdin_selectable() -> bool:
    """Whether select() takes stdin here: on POSIX yes; on Windows it takes only sockets."""
    return sys.platform != "win32"


class _Stdin:
    """What the user types, in chunks, with a short wait: ``read(0.1)`` returns bytes,
    b"" at end of input, or None when nothing came in time.

    Where select() takes stdin (POSIX) the chunks are read when select says so. Elsewhere
    (Windows) a daemon thread reads them and hands them over through a queue; it may stay
    blocked in a read when the chat ends, which a daemon thread may. It reads the raw
    stream (on a Windows console that is the UTF-8 one, not the console's code page), so
    that no buffer lock is held while it waits.
    """

    def __init__(self):
        self.fd = sys.stdin.fileno()
        self.chunks: queue.Queue[bytes] | None = None
        if not _stdin_selectable():
            self.chunks = queue.Queue()
            threading.Thread(target=self._pump, name="labkit-chat-stdin", daemon=True).start()

    def _raw_read(self) -> bytes:
        raw = getattr(getattr(sys.stdin, "buffer", None), "raw", None)
        if raw is not None:
            data = raw.read(65536)
            return b"" if data is None else data
        return os.read(self.fd, 65536)

    def _pump(self) -> None:
        while True:
            try:
                data = self._raw_read()
            except (OSError, ValueError):  # stdin closed or broken: that is the end of it
                data = b""
            self.chunks.put(data)
            if not data:
                return

    def read(self, timeout: float) -> bytes | None:
        if self.chunks is None:
            if not select.select([self.fd], [], [], timeout)[0]:
                return None
            return os.read(self.fd, 65536)
        try:
            return self.chunks.get(timeout=timeout)
        except queue.Empty:
            return None


def cmd_chat(args) -> int:
    """Interactive chat: stdin lines go to the server, a reader thread prints what arrives."""
    try:
        sock = clients.connect((args.host, args.port), timeout=args.timeout)
    except (LabkitError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    closed = threading.Event()

    def reader():  # a terminal program: printing from this thread is fine here
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        sock.settimeout(0.2)
        try:
            while not closed.is_set():
                try:
                    data = sock.recv(65536)
                except socket.timeout:
                    continue
                if not data:
                    break
                sys.stdout.write(decoder.decode(data))
                sys.stdout.flush()
        except OSError:
            pass
        finally:
            closed.set()

    thread = threading.Thread(target=reader, name="labkit-chat-reader", daemon=True)
    thread.start()
    stdin = _Stdin()
    try:
        if args.nick:
            sock.sendall(f"/nick {args.nick}\n".encode())
        while not closed.is_set():
            data = stdin.read(0.1)
            if data is None:
                continue
            if not data:  # end of input: leave the room politely
                sock.sendall(b"/quit\n")
                break
            sock.sendall(data)
    except KeyboardInterrupt:
        try:
            sock.sendall(b"/quit\n")
        except OSError:
            pass
    except OSError:
        pass  # the server went away: the reader sees it too
    thread.join(2.0)  # what the server still sends, until it closes
    closed.set()
    thread.join(1.0)
    sock.close()
    return 0


def cmd_client(args) -> int:
    if args.protocol == "chat":
        return cmd_chat(args)
    target = (args.host, args.port)
    if args.message == "-":  # argv cannot carry U+0000; stdin can
        args.message = sys.stdin.buffer.read().decode("utf-8", errors="surrogateescape")
    try:
        if args.protocol == "echo":
            reply = clients.echo_client(target, args.message, timeout=args.timeout)
        elif args.protocol == "greeting":
            reply = clients.greeting_client(target, args.message, timeout=args.timeout)
        else:
            reply = clients.clock_client(target, timeout=args.timeout)
    except (LabkitError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(reply.rstrip("\r\n"))
    return 0


def cmd_doctor(args) -> int:
    if args.need:  # the rule lesson 09 and the tests use, for scripts such as .ci/run
        from labkit.programs.preflight import runtime_check

        checks = [runtime_check(name) for name in args.need]
        print("\n".join(map(str, checks)))
        return 0 if all(c.ok for c in checks) else 1
    report = doctor()
    print(report)
    return 0 if report.ok else 1


def main(argv=None) -> int:
    parser = build_parser()
    # argparse gives a subcommand's optional positional its default as soon as it sees
    # the protocol, so "client echo --port 9998 你好" leaves 你好 over; take it here.
    args, extra = parser.parse_known_args(argv)
    if args.command == "client" and args.message is None and len(extra) == 1 \
            and (extra[0] == "-" or not extra[0].startswith("-")):
        args.message, extra = extra[0], []
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "client" and args.protocol == "chat" and args.message is not None:
        parser.error("client chat reads what to send from stdin, not from the command line")
    if args.command == "client" and args.message is None:
        args.message = "你好"
    return {"serve": cmd_serve, "client": cmd_client, "doctor": cmd_doctor}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
