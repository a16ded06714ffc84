"""The ping example's sender and receiver, as real processes on loopback addresses."""

from __future__ import annotations

import os
import socket

from conftest import wait_http

from occo.demo.ping import PingReport, ProbeResult, icmp_ping, udp_ping
from occo.util.testing import free_port, wait_until


def test_icmp_ping_of_loopback_is_answered_or_says_why_not():
    result = icmp_ping("127.0.0.1", count=2, timeout=2)
    low, high = (int(x) for x in open("/proc/sys/net/ipv4/ping_group_range").read().split())
    allowed = os.geteuid() == 0 or low <= os.getegid() <= high
    if allowed:
        assert (result.sent, result.received, result.unavailable) == (2, 2, None)
        assert len(result.rtts) == 2
    else:
        assert result.unavailable.startswith("no ICMP socket")
        assert "net.ipv4.ping_group_range" in result.unavailable


def test_udp_ping_of_nothing_reaches_nothing():
    result = udp_ping("127.0.0.1", free_port(), count=2, timeout=0.3)
    assert (result.sent, result.received, result.answer) == (2, 0, None)
    assert result.summary().endswith("2 sent, 0 received")


def test_report_text_names_both_ends_and_the_outcome():
    report = PingReport(source="127.1.0.2", target="127.1.0.1", rounds=1, probes=[
        ProbeResult("ICMP echo", unavailable="no ICMP socket: denied"),
        ProbeResult("UDP echo to port 7007", sent=2, received=2, rtts=[0.1, 0.3],
                    answer="hello")])
    assert report.text() == (
        "ping sender at 127.1.0.2 -> ping receiver at 127.1.0.1 (round 1)\n"
        "ICMP echo: not available here (no ICMP socket: denied)\n"
        "UDP echo to port 7007: 2 sent, 2 received, round trip min/avg/max "
        "0.100/0.200/0.300 ms\n"
        "the receiver says: hello\n"
        "reached: yes\n")


def test_sender_reaches_the_receiver_and_reports_it(node_processes):
    port, report_port = free_port(), free_port()
    receiver = node_processes("ping", "receiver", name="receiver", env={
        "OCCO_NODE_IP": "127.0.0.1", "PING_PORT": str(port), "MESSAGE": "I am the receiver"})
    def listening():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False
    wait_until(listening, timeout=15)
    sender = node_processes("ping", "sender", name="sender", env={
        "OCCO_NODE_IP": "127.0.0.1", "TARGET": "127.0.0.1", "PING_PORT": str(port),
        "REPORT_PORT": str(report_port), "PING_COUNT": "2", "MESSAGE": "I am the sender"})
    answer = wait_http(f"http://127.0.0.1:{report_port}/", 200)
    assert "UDP echo to port" in answer.text and "2 sent, 2 received" in answer.text
    assert "the receiver says: I am the receiver" in answer.text
    assert answer.text.endswith("reached: yes\n")
    result_file = sender.log.parent / "ping-result.txt"
    assert wait_until(lambda: result_file.is_file() and result_file.read_text())
    assert (receiver.log.parent / "message.txt").read_text() == "I am the receiver\n"
    assert sender.stop() == 0
    assert receiver.stop() == 0


def test_sender_that_reaches_nothing_is_unhealthy(node_processes):
    report_port = free_port()
    node_processes("ping", "sender", env={
        "OCCO_NODE_IP": "127.0.0.1", "TARGET": "127.0.0.1", "PING_PORT": str(free_port()),
        "REPORT_PORT": str(report_port), "PING_COUNT": "1", "PING_INTERVAL": "60"})
    def first_round():
        answer = wait_http(f"http://127.0.0.1:{report_port}/", 503)
        return answer if "(round 1)" in answer.text else None
    answer = wait_until(first_round, timeout=15)
    assert "UDP echo to port" in answer.text and "1 sent, 0 received" in answer.text
    assert answer.text.endswith("reached: no\n")


def test_sender_needs_a_target(node_processes):
    node = node_processes("ping", "sender", env={"OCCO_NODE_IP": "127.0.0.1"})
    assert node.proc.wait(timeout=20) == 2
    assert "the environment variable TARGET is not set" in node.output()
