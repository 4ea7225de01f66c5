"""labkit: the helper package of Socket Lab.

It runs servers in background threads so that one notebook can play both
sides of a connection, frames messages on byte streams, checks exercises
against real sockets, and runs the command line (``python -m labkit``).

    import labkit
    server = labkit.serve(labkit.echo)             # 127.0.0.1, a free port
    labkit.echo_client(server.address, "你好")      # '欢迎访问>>>>你好\\r\\n'
    server.log()                                    # what the server saw
    labkit.stop_all()

The names here are the ones the lessons use. Everything else is importable
from its subpackage (see the package map in CONTRIBUTING.md):

- :mod:`labkit.wire`: framing, the lesson protocols, adversarial peers;
- :mod:`labkit.serving`: servers, clients, relay, event log, load tests;
- :mod:`labkit.seeing`: traces, the kernel's socket table, widgets;
- :mod:`labkit.programs`: running Java, PHP and Python programs, ``doctor``;
- :mod:`labkit.chat`, :mod:`labkit.classroom`: lesson 10's room, the instructor's room;
- :mod:`labkit.exercises`: the checks; :mod:`labkit.course`: the lessons' helpers.

Nothing is imported until it is first used: ``import labkit`` is quick, and a name
is looked up in its module at each use.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# name -> the module that defines it
_WHERE = {
    # serving: servers in threads, and clients
    "serve": "serving.servers", "running": "serving.servers", "stop_all": "serving.servers",
    "TCPServer": "serving.servers", "serve_udp": "serving.udp", "serve_select": "serving.selectserver",
    "SelectServer": "serving.selectserver", "serve_relay": "serving.relay",
    "connect": "serving.clients", "recv_until_eof": "serving.clients",
    "echo_client": "serving.clients", "greeting_client": "serving.clients",
    "clock_client": "serving.clients",
    "measure_echo": "serving.loadgen", "sweep_echo": "serving.loadgen",
    "load_table": "serving.loadgen", "queue_table": "serving.loadgen", "plot_load": "serving.loadgen",
    # wire: protocols and framing
    "echo": "wire.protocols", "greeting": "wire.protocols", "clock": "wire.protocols",
    "recv_exactly": "wire.framing", "encode_line": "wire.framing", "LineDecoder": "wire.framing",
    "TooLong": "wire.framing", "TextDecoder": "wire.framing", "encode_frame": "wire.framing",
    "recv_frame": "wire.framing", "encode_utf": "wire.javautf",
    "write_utf": "wire.javautf", "read_utf": "wire.javautf", "UtfDecoder": "wire.javautf",
    "encode_modified_utf8": "wire.javautf", "decode_modified_utf8": "wire.javautf",
    "AdversarialPeer": "wire.peers",
    # seeing
    "trace": "seeing.tracing", "net_connections": "seeing.sockettable",
    "socket_snapshot": "seeing.kernelview", "Timeline": "seeing.kernelview",
    "RecvSizeExplorer": "seeing.widgets", "Console": "seeing.console",
    # programs
    "start_program": "programs.runner", "program_path": "programs.runner", "doctor": "programs.preflight",
    # chat and the room
    "ChatRoom": "chat.room", "check_chat_server": "chat.conformance", "chat_panel": "chat.panel",
    "serve_room": "classroom.room",
    # exercises
    "exercise": "exercises",
    # HTTP (lesson 11)
    "serve_http": "serving.httpserve", "split_head": "serving.httpserve",
    "decode_chunked": "serving.httpserve", "IncompleteMessage": "serving.httpserve",
    "ipv6_loopback_missing": "serving.httpserve",
    # TLS (lesson 12)
    "serve_tls": "serving.tls", "tls_echo_client": "serving.tls", "tls_error": "serving.tls",
    "lab_certificates": "serving.tls", "serve_wiretap": "seeing.wiretap",
    # the error a lesson catches (the others are in labkit.errors)
    "NotListeningError": "errors",
}
_SUBPACKAGES = ("wire", "serving", "seeing", "programs", "chat", "classroom", "exercises", "course",
                "errors")

__all__ = list(_WHERE)


def __getattr__(name: str):
    """A name of the face, looked up in its module each time (so a check that watches a
    function in its module sees calls made as ``labkit.name`` too); or a subpackage."""
    if name in _WHERE:
        return getattr(importlib.import_module(f"labkit.{_WHERE[name]}"), name)
    if name in _SUBPACKAGES:
        return importlib.import_module(f"labkit.{name}")
    raise AttributeError(f"module 'labkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*__all__, *_SUBPACKAGES, "__version__"])
