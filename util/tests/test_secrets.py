"""Secrets never reach logs, and redaction of structures."""

from __future__ import annotations

import io
import json
import logging

import pytest

from occo.util import forget_secrets, redact, register_secret, scrub, setup_logging


@pytest.fixture(autouse=True)
def clean_registry():
    forget_secrets()
    yield
    forget_secrets()


@pytest.fixture
def log_stream():
    stream = io.StringIO()
    handler = setup_logging("DEBUG", stream=stream)
    yield stream
    logging.getLogger("occo").removeHandler(handler)


def test_registered_secret_is_scrubbed_from_messages_and_arguments(log_stream):
    register_secret({"accesskey": "AKIAEXAMPLE", "secretkey": "wJalrXUtnFEMI/K7MDENG"})
    log = logging.getLogger("occo.test")
    log.info("using key wJalrXUtnFEMI/K7MDENG for %s", "AKIAEXAMPLE")
    out = log_stream.getvalue()
    assert "wJalrXUtnFEMI" not in out and "AKIAEXAMPLE" not in out
    assert "using key *** for ***" in out


def test_secret_in_a_traceback_is_scrubbed(log_stream):
    register_secret("hunter2-password")
    try:
        raise RuntimeError("login failed with hunter2-password")
    except RuntimeError:
        logging.getLogger("occo.test").exception("boom")
    assert "hunter2" not in log_stream.getvalue()
    assert "login failed with ***" in log_stream.getvalue()


def test_json_lines_carry_redacted_fields():
    stream = io.StringIO()
    handler = setup_logging("INFO", json_lines=True, stream=stream)
    try:
        logging.getLogger("occo.test").info("creating", extra={"occo": {"password": "x1y2z3",
                                                                         "node": "db"}})
    finally:
        logging.getLogger("occo").removeHandler(handler)
    record = json.loads(stream.getvalue())
    assert record["occo"] == {"password": "***", "node": "db"}
    assert record["message"] == "creating"


def test_redact_hides_secret_named_keys_recursively():
    data = {"auth_data": {"username": "u", "password": "p"}, "name": "web",
            "mysqldbs": [{"name": "wp", "pass": "pw"}], "tags": {"team": "a"}}
    assert redact(data) == {"auth_data": "***", "name": "web",
                            "mysqldbs": [{"name": "wp", "pass": "***"}], "tags": {"team": "a"}}


def test_short_values_are_not_treated_as_secrets():
    register_secret("ab")
    assert scrub("ab cd") == "ab cd"
