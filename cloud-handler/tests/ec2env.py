"""A real EC2 API endpoint on loopback for the tests: moto's server, with IAM checks on.

``moto_server`` runs as a subprocess on a free port of 127.0.0.1. With
``INITIAL_NO_AUTH_ACTION_COUNT=3`` its first three requests are not authenticated: they
create an IAM user with an access key and an allow-all policy; every request after
them must be signed with a key that exists, so wrong credentials really are refused.

:class:`FaultProxy` stands between a client and moto and answers some requests itself,
as a busy or broken EC2 endpoint would (throttling, server errors), counting what it saw.
"""

from __future__ import annotations

import http.client
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import boto3

from occo.util import testing

REGION = "us-east-1"
IMAGE = "ami-04681a1dbd79675a5"   # one of the images moto lists


@dataclass
class Moto(testing.MotoServer):
    """moto's server (occo.util.testing) with the admin user these tests act as."""

    access_key: str
    secret_key: str

    def iam(self, key: str | None = None, secret: str | None = None):
        return boto3.client("iam", endpoint_url=self.url, region_name=REGION,
                            aws_access_key_id=key or self.access_key,
                            aws_secret_access_key=secret or self.secret_key)

    def ec2(self):
        return boto3.client("ec2", endpoint_url=self.url, region_name=REGION,
                            aws_access_key_id=self.access_key,
                            aws_secret_access_key=self.secret_key)

def start_moto(timeout: float = 60.0) -> Moto:
    """Start moto_server on a free loopback port and make the admin user."""
    server = testing.start_moto(timeout=timeout, env={"INITIAL_NO_AUTH_ACTION_COUNT": "3"})
    proc, url = server.process, server.url
    iam = boto3.client("iam", endpoint_url=url, region_name=REGION,
                       aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
    iam.create_user(UserName="occo-admin")
    key = iam.create_access_key(UserName="occo-admin")["AccessKey"]
    iam.put_user_policy(UserName="occo-admin", PolicyName="all", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    return Moto(url, server.port, proc, key["AccessKeyId"], key["SecretAccessKey"])


THROTTLED = (503, b'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
                  b'<Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message>'
                  b'</Error></Errors><RequestID>occo-test</RequestID></Response>')
BROKEN = (500, b'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
               b'<Code>InternalError</Code><Message>An internal error has occurred.</Message>'
               b'</Error></Errors><RequestID>occo-test</RequestID></Response>')


class FaultProxy:
    """An HTTP proxy in front of moto that answers the first ``faults`` requests of the
    ``actions`` it is told about with ``answer`` (status, body) instead of forwarding."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.removeprefix("http://")
        self.faults = 0
        self.answer = THROTTLED
        self.actions: set[str] | None = None
        self.seen: list[str] = []
        self.faulted: list[str] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                action = parse_qs(body.decode()).get("Action", ["?"])[0]
                with proxy._lock:
                    proxy.seen.append(action)
                    fault = proxy.faults > 0 and (proxy.actions is None
                                                  or action in proxy.actions)
                    if fault:
                        proxy.faults -= 1
                        proxy.faulted.append(action)
                if fault:
                    status, payload = proxy.answer
                    self.send_response(status)
                    self.send_header("Content-Type", "text/xml")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                conn = http.client.HTTPConnection(proxy.upstream, timeout=30)
                # The Host header is kept: the request is signed with it (SigV4).
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() != "connection"}
                conn.request("POST", self.path, body=body, headers=headers)
                reply = conn.getresponse()
                data = reply.read()
                self.send_response(reply.status)
                for key, value in reply.getheaders():
                    if key.lower() not in ("content-length", "connection",
                                           "transfer-encoding", "server", "date"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def fail(self, count: int, answer: tuple[int, bytes] = THROTTLED,
             actions: set[str] | None = None) -> None:
        with self._lock:
            self.faults, self.answer, self.actions = count, answer, actions
            self.seen.clear()
            self.faulted.clear()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
