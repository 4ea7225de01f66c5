"""Audit: every address a lesson binds is loopback, unless its cell says otherwise.

The course binds 127.0.0.1 by default; a cell that deliberately binds all interfaces
(0.0.0.0, "", ::) or a real network address must carry the cell tag `binds-network`.
The addresses come from the run-twice execution (tests/test_run_twice.py), where
socket.socket.bind is wrapped inside the kernel: one execution, two checks. The check on
every lesson lives there too (test_every_bind_is_loopback_unless_the_cell_says_so), so
that a parallel run keeps it in the worker that holds the execution; this file has the
audit's rule and the tests of the audit itself.

Not seen by this audit: binds in other processes (the Java and PHP programs of lesson 09,
`python -m labkit serve` in a subprocess), and the implicit bind of an unbound UDP
socket's first sendto (to 0.0.0.0 and an ephemeral port, by the kernel, not by bind()).
"""

from __future__ import annotations

import ast
import ipaddress
import socket

import nbformat
import pytest

from test_run_twice import BINDS_NETWORK, run_twice

pytestmark = [pytest.mark.timeout(600), pytest.mark.no_leak_check(reason="jupyter_client keeps its event-loop runner threads")]


def is_loopback(family: int, address: str) -> bool:
    """True for a loopback address (or a Unix socket path, which never reaches a network)."""
    if family == socket.AF_UNIX:
        return True
    try:
        host = ast.literal_eval(address)[0]
    except (ValueError, SyntaxError, IndexError, TypeError):
        return False
    if host == "localhost":
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:  # "", a host name
        return False
    # ::ffff:127.0.0.1, IPv4's loopback on an IPv6 socket (lesson 11's sidebar); Python
    # before 3.13 does not count an IPv4-mapped address as loopback by itself
    mapped = getattr(ip, "ipv4_mapped", None)
    return ip.is_loopback or (mapped is not None and mapped.is_loopback)


def test_is_loopback():
    assert is_loopback(socket.AF_INET, "('127.0.0.1', 0)")
    assert is_loopback(socket.AF_INET, "('127.0.0.2', 9998)")
    assert is_loopback(socket.AF_INET6, "('::1', 0, 0, 0)")
    assert is_loopback(socket.AF_INET6, "('::ffff:127.0.0.1', 0, 0, 0)")
    assert not is_loopback(socket.AF_INET6, "('::ffff:10.0.0.1', 0, 0, 0)")
    assert not is_loopback(socket.AF_INET6, "('::', 0, 0, 0)")
    assert is_loopback(socket.AF_INET, "('localhost', 0)")
    assert not is_loopback(socket.AF_INET, "('0.0.0.0', 0)")
    assert not is_loopback(socket.AF_INET, "('', 9998)")
    assert not is_loopback(socket.AF_INET6, "('::', 0, 0, 0)")
    assert not is_loopback(socket.AF_INET, "('192.168.1.5', 80)")


def unexpected_binds(run) -> list[str]:
    """The audit itself: binds beyond loopback from cells not tagged binds-network."""
    wrong = []
    for number, index, address, family in run.binds:
        if is_loopback(family, address):
            continue
        cell = run.cells[index] if index is not None else None
        if cell is not None and BINDS_NETWORK in cell.metadata.get("tags", []):
            continue
        where = f"cell {index}" if index is not None else "outside any cell"
        wrong.append(f"pass {number}, {where}: bind{address} (tag the cell {BINDS_NETWORK!r} "
                     "if it binds beyond loopback on purpose)")
    return wrong


def test_the_checks_catch_what_they_should(tmp_path):
    # one small notebook with every fault, run as the lessons are (two passes, in each of
    # two learners' kernels at once)
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import socket\nleft = socket.create_server(('127.0.0.1', 0))"),
        nbformat.v4.new_code_cell("s = socket.socket(); s.bind(('0.0.0.0', 0)); s.close()"),
        nbformat.v4.new_code_cell("t = socket.socket(); t.bind(('', 0)); t.close()",
                                  metadata={"tags": [BINDS_NETWORK]}),
        nbformat.v4.new_code_cell("1 / 0", metadata={"tags": ["raises-exception"]}),
        nbformat.v4.new_code_cell("{}['missing']"),
    ])
    path = tmp_path / "99-faults.ipynb"
    nbformat.write(nb, path)
    run = run_twice(path)
    assert sorted(e.split(":")[0] for e in run.errors) == [
        f"learner {n}, pass {p}, cell 4 ({{}}['missing'])" for n in (1, 2) for p in (1, 2)]
    assert sorted(o.split(": ")[0] for o in run.left_open) == [
        f"learner {n}, after pass {p}" for n in (1, 2) for p in (1, 2)]
    assert all(": TCP 127.0.0.1:" in o for o in run.left_open)
    assert len(run.binds) == 12  # create_server binds too; two learners
    assert sorted(w.split(" (")[0] for w in unexpected_binds(run)) == [
        "pass 1, cell 1: bind('0.0.0.0', 0)"] * 2 + ["pass 2, cell 1: bind('0.0.0.0', 0)"] * 2
