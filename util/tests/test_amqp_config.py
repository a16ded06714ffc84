"""Choosing and configuring a transport: open_transport, the amqp settings, their errors."""

from __future__ import annotations

import pytest

from occo.util import ConfigError, InputErrors, load_yaml_text
from occo.util.comm import AmqpTransport, InProcessTransport, open_transport
from occo.util.comm._amqp_config import safe_url

CONFIG = """\
transport:
  backend: amqp
  url: amqp://occo:s3cret-pw@rabbit.example:5673/occo
  prefix: prod
  rpc_timeout: 120
  prefetch: 4
  max_redeliveries: 5
"""


def test_the_default_is_the_in_process_transport():
    assert isinstance(open_transport(), InProcessTransport)
    # occo-api passes its whole section; the amqp keys mean nothing in-process
    t = open_transport({"backend": "inprocess", "url": "amqp://x", "prefetch": 2})
    assert isinstance(t, InProcessTransport)


def test_amqp_settings_come_from_the_configuration():
    section = load_yaml_text(CONFIG, source="occo.yaml")["transport"]
    t = open_transport(section)
    assert isinstance(t, AmqpTransport)
    s = t.settings
    assert (s.prefix, s.rpc_timeout, s.prefetch, s.max_redeliveries) == ("prod", 120, 4, 5)
    assert s.queue("cloudhandler") == "prod.cloudhandler"
    assert s.dead_queue("cloudhandler") == "prod.cloudhandler.dead"
    assert t.url == "amqp://occo@rabbit.example:5673/occo"
    assert "s3cret-pw" not in repr(t) and "s3cret-pw" not in repr(s)
    t.close()  # nothing was connected: opening is lazy


@pytest.mark.parametrize("line, text, message", [
    ("backend: amqp", "backend: zeromq",
     "occo.yaml:2:12: transport.backend: unknown transport backend 'zeromq'; choose one of "
     "inprocess, amqp"),
    ("rpc_timeout: 120", "rpc_timout: 120",
     "occo.yaml:5:3: transport.rpc_timout: unknown key 'rpc_timout' in transport; "
     "did you mean 'rpc_timeout'?"),
    ("rpc_timeout: 120", "rpc_timeout: -1",
     "occo.yaml:5:16: transport.rpc_timeout: must be a number >= 0, got -1"),
    ("rpc_timeout: 120", "rpc_timeout: 0",
     "occo.yaml:5:16: transport.rpc_timeout: must be a number > 0, got 0"),
    ("prefetch: 4", "prefetch: many",
     "occo.yaml:6:13: transport.prefetch: must be an integer >= 1, got 'many'"),
    ("prefetch: 4", "prefetch: '{{ n }}'",
     "occo.yaml:6:13: transport.prefetch: must be an integer, got '{{ n }}'"),
    ("max_redeliveries: 5", "max_redeliveries: 1.5",
     "occo.yaml:7:21: transport.max_redeliveries: must be an integer >= 0, got 1.5"),
    ("prefix: prod", "prefix: amq.occo",
     "occo.yaml:4:11: transport.prefix: must be a queue name prefix of letters, digits and "
     "_ . : - (not starting with 'amq.'), got 'amq.occo'"),
    ("url: amqp://occo:s3cret-pw@rabbit.example:5673/occo",
     "url: http://occo:s3cret-pw@rabbit.example/",
     "occo.yaml:3:8: transport.url: must be amqp://user:password@host:port/vhost (or "
     "amqps://), got 'http://occo@rabbit.example/'"),
    ("url: amqp://occo:s3cret-pw@rabbit.example:5673/occo",
     "url: amqp://occo:s3cret-pw@rabbit.example:99999/occo",
     "occo.yaml:3:8: transport.url: not an AMQP URL (Port out of range 0-65535): "
     "<an unparsable AMQP URL>"),
])
def test_bad_settings_name_file_line_and_key(line, text, message):
    section = load_yaml_text(CONFIG.replace(line, text), source="occo.yaml")["transport"]
    with pytest.raises(ConfigError) as err:
        open_transport(section)
    assert str(err.value) == message
    assert "s3cret-pw" not in str(err.value)


def test_several_bad_settings_are_reported_together():
    section = load_yaml_text(CONFIG.replace("prefetch: 4", "prefetch: 0")
                             .replace("prefix: prod", "prefix: ''"), source="occo.yaml")
    with pytest.raises(InputErrors) as err:
        open_transport(section["transport"])
    assert str(err.value).splitlines() == [
        "2 errors:",
        "  occo.yaml:6:13: transport.prefetch: must be an integer >= 1, got 0",
        "  occo.yaml:4:11: transport.prefix: must be a queue name prefix of letters, digits "
        "and _ . : - (not starting with 'amq.'), got ''"]


def test_settings_given_in_code_are_checked_too():
    with pytest.raises(ConfigError, match=r"^transport.rpc_timeout: must be a number >= 0"):
        AmqpTransport(rpc_timeout=-5)
    with pytest.raises(ConfigError, match=r"^transport: must be a mapping, got list$"):
        open_transport(["amqp"])  # type: ignore[arg-type]


@pytest.mark.parametrize("url, shown", [
    ("amqp://guest:guest@127.0.0.1:5672/%2F", "amqp://guest@127.0.0.1:5672/%2F"),
    ("amqps://u:p%40ss@host/vh?heartbeat=5", "amqps://u@host/vh"),
    ("amqp://host", "amqp://host"),
    ("amqp://u:pw@[::1]:5672/", "amqp://u@[::1]:5672/"),
])
def test_the_url_is_shown_without_its_password(url, shown):
    assert safe_url(url) == shown
