"""The ping example's nodes: Occopus's ping sender and receiver, as local processes.

``python -m occo.demo.ping receiver``
    Writes ``MESSAGE`` to ``message.txt`` in its working directory (as the Occopus
    tutorial's cloud-init did) and answers on ``OCCO_NODE_IP:PING_PORT`` (default 7007):
    a UDP datagram gets ``pong <message>`` back; a TCP connection gets the message.
``python -m occo.demo.ping sender``
    Pings ``TARGET`` (``{{ getip('ping-receiver') }}``) ``PING_COUNT`` times (default 5)
    with ICMP echo where this machine allows it (an unprivileged ICMP socket when
    ``net.ipv4.ping_group_range`` admits the user, else a raw socket as root) and with
    UDP datagrams to the receiver's port, which work everywhere. It writes what it
    reached to ``ping-result.txt`` (the tutorial's file) and serves the same report on
    ``http://OCCO_NODE_IP:REPORT_PORT/`` (default 8000): 200 once the receiver's program
    answered, 503 until then (an ICMP answer alone does not count: on loopback every
    address answers it). The node definition's health check fetches that URL, so the
    sender is ready only when it has reached the receiver. Rounds repeat every
    ``PING_INTERVAL`` seconds (default 5).
"""

from __future__ import annotations

import argparse
import logging
import os
import select
import signal
import socket
import socketserver
import struct
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._node import JsonHandler, env, node_ip, serve, setup_node_logging

__all__ = ["ProbeResult", "icmp_ping", "udp_ping", "PingReport", "run_round", "main"]

log = logging.getLogger(__name__)

ICMP_ECHO_REQUEST = 8
ICMP_ECHO_REPLY = 0


@dataclass(slots=True)
class ProbeResult:
    """One kind of probe: how many were sent and answered, round trips in ms, and why it
    could not run, if it could not."""

    method: str
    sent: int = 0
    received: int = 0
    rtts: list[float] = field(default_factory=list)
    unavailable: str | None = None
    answer: str | None = None

    def summary(self) -> str:
        if self.unavailable:
            return f"{self.method}: not available here ({self.unavailable})"
        text = f"{self.method}: {self.sent} sent, {self.received} received"
        if self.rtts:
            text += (f", round trip min/avg/max {min(self.rtts):.3f}/"
                     f"{sum(self.rtts) / len(self.rtts):.3f}/{max(self.rtts):.3f} ms")
        return text


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def _icmp_socket() -> tuple[socket.socket, str]:
    try:
        return (socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP),
                "ICMP echo (datagram socket)")
    except OSError as dgram_error:
        try:
            return (socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP),
                    "ICMP echo (raw socket)")
        except OSError:
            raise OSError(f"no ICMP socket: {dgram_error.strerror or dgram_error}; allow it "
                          "with sysctl net.ipv4.ping_group_range, or run as root") from None


def icmp_ping(address: str, count: int, timeout: float = 1.0) -> ProbeResult:
    """ICMP echo requests to ``address``, one at a time."""
    try:
        sock, method = _icmp_socket()
    except OSError as exc:
        return ProbeResult("ICMP echo", unavailable=str(exc))
    result = ProbeResult(method)
    raw = sock.type == socket.SOCK_RAW
    ident = os.getpid() & 0xFFFF
    payload = b"occo-demo-ping"
    with sock:
        for seq in range(1, count + 1):
            header = struct.pack("!BBHHH", ICMP_ECHO_REQUEST, 0, 0, ident, seq)
            packet = struct.pack("!BBHHH", ICMP_ECHO_REQUEST, 0,
                                 _checksum(header + payload), ident, seq) + payload
            started = time.monotonic()
            try:
                sock.sendto(packet, (address, 0))
            except OSError as exc:
                result.unavailable = f"cannot send: {exc.strerror or exc}"
                return result
            result.sent += 1
            deadline = started + timeout
            while (left := deadline - time.monotonic()) > 0:
                ready, _, _ = select.select([sock], [], [], left)
                if not ready:
                    break
                data, _peer = sock.recvfrom(2048)
                if raw:
                    data = data[(data[0] & 0x0F) * 4:]
                if len(data) < 8:
                    continue
                kind, _code, _sum, rid, rseq = struct.unpack("!BBHHH", data[:8])
                # a datagram socket's kernel sets its own id; a raw one sees every reply
                if kind == ICMP_ECHO_REPLY and rseq == seq and (not raw or rid == ident):
                    result.received += 1
                    result.rtts.append((time.monotonic() - started) * 1000)
                    break
    return result


def udp_ping(address: str, port: int, count: int, timeout: float = 1.0) -> ProbeResult:
    """Datagrams to the receiver's port; each answer is ``pong <message>``."""
    result = ProbeResult(f"UDP echo to port {port}")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        for seq in range(1, count + 1):
            started = time.monotonic()
            try:
                sock.sendto(f"ping {seq}".encode(), (address, port))
                result.sent += 1
                data, _ = sock.recvfrom(2048)
            except OSError:  # timeout, or refused (ICMP port unreachable)
                continue
            if data.startswith(b"pong "):
                result.received += 1
                result.rtts.append((time.monotonic() - started) * 1000)
                result.answer = data[5:].decode("utf-8", errors="replace").strip()
    return result


@dataclass(slots=True)
class PingReport:
    """The sender's latest round, as text."""

    source: str
    target: str
    probes: list[ProbeResult] = field(default_factory=list)
    rounds: int = 0

    @property
    def reached(self) -> bool:
        """The receiver's program answered (ICMP alone only shows that the address is up:
        on loopback every address answers it)."""
        return any(p.answer is not None for p in self.probes)

    def text(self) -> str:
        lines = [f"ping sender at {self.source} -> ping receiver at {self.target} "
                 f"(round {self.rounds})"]
        lines += [p.summary() for p in self.probes]
        answers = [p.answer for p in self.probes if p.answer]
        if answers:
            lines.append(f"the receiver says: {answers[-1]}")
        lines.append("reached: " + ("yes" if self.reached else "no"))
        return "\n".join(lines) + "\n"


def run_round(report: PingReport, count: int, port: int) -> None:
    report.probes = [icmp_ping(report.target, count), udp_ping(report.target, port, count)]
    report.rounds += 1


class _ReportHandler(JsonHandler):
    def do_GET(self) -> None:
        report: PingReport = self.server.report  # type: ignore[attr-defined]
        lock: threading.Lock = self.server.lock  # type: ignore[attr-defined]
        with lock:
            text, reached = report.text(), report.reached
        self.send_text(200 if reached else 503, text)

    do_HEAD = do_GET


class _UdpEcho(socketserver.BaseRequestHandler):
    server: _ThreadingUDP

    def handle(self) -> None:
        data, sock = self.request
        if data.startswith(b"ping"):
            sock.sendto(b"pong " + self.server.message.encode(), self.client_address)


class _TcpHello(socketserver.BaseRequestHandler):
    server: _ThreadingTCP

    def handle(self) -> None:
        self.request.sendall(self.server.message.encode() + b"\n")


class _ThreadingUDP(socketserver.ThreadingUDPServer):
    daemon_threads = True
    allow_reuse_address = True
    message: str  # what the receiver answers (set before serving)


class _ThreadingTCP(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    message: str  # what the receiver answers (set before serving)


def receiver(host: str, port: int, message: str) -> int:
    Path("message.txt").write_text(message + "\n", encoding="utf-8")
    try:
        udp = _ThreadingUDP((host, port), _UdpEcho)
        tcp = _ThreadingTCP((host, port), _TcpHello)
    except OSError as exc:
        log.error("cannot listen on %s:%s: %s", host, port, exc.strerror or exc)
        return 1
    udp.message = tcp.message = message
    threading.Thread(target=udp.serve_forever, kwargs={"poll_interval": 0.2},
                     daemon=True).start()
    log.info("ping receiver answering on %s:%s (udp and tcp)", host, port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    threading.Thread(target=tcp.serve_forever, kwargs={"poll_interval": 0.2},
                     daemon=True).start()
    stop.wait()
    udp.shutdown()
    tcp.shutdown()
    return 0


def sender(host: str, target: str, port: int, report_port: int, count: int,
           interval: float, message: str) -> int:
    Path("message.txt").write_text(message + "\n", encoding="utf-8")
    report = PingReport(source=host, target=target)
    lock = threading.Lock()
    stop = threading.Event()

    def rounds() -> None:
        while not stop.is_set():
            fresh = PingReport(source=host, target=target, rounds=report.rounds)
            run_round(fresh, count, port)
            with lock:
                report.probes, report.rounds = fresh.probes, fresh.rounds
                text = report.text()
            Path("ping-result.txt").write_text(text, encoding="utf-8")
            log.info("round %d: %s", report.rounds, " / ".join(p.summary()
                                                                for p in report.probes))
            stop.wait(interval)

    context: dict[str, Any] = {"report": report, "lock": lock}
    worker = threading.Thread(target=rounds, name="rounds", daemon=True)
    return serve(_ReportHandler, host, report_port, name="ping sender", context=context,
                 on_start=worker.start, on_stop=stop.set)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m occo.demo.ping",
                                     description="the ping example's sender and receiver")
    parser.add_argument("role", choices=["sender", "receiver"])
    args = parser.parse_args(argv)
    setup_node_logging(f"ping {args.role}")
    port = int(env("PING_PORT", "7007"))
    message = env("MESSAGE", "Hello World!")
    if args.role == "receiver":
        return receiver(node_ip(), port, message)
    return sender(node_ip(), env("TARGET"), port, int(env("REPORT_PORT", "8000")),
                  int(env("PING_COUNT", "5")), float(env("PING_INTERVAL", "5")), message)


if __name__ == "__main__":
    raise SystemExit(main())
