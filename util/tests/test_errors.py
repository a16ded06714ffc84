"""The error tree: locations, exit codes, structured forms."""

from __future__ import annotations

from occo.util import (
    ConfigError,
    InputError,
    InputErrors,
    Location,
    OccoError,
    PluginNotFoundError,
    TransportError,
)
from occo.util.errors import EXIT_BAD_INPUT, EXIT_FAILED


def test_every_error_is_an_occo_error():
    for cls in (InputError, InputErrors, ConfigError, PluginNotFoundError, TransportError):
        assert issubclass(cls, OccoError)


def test_message_starts_with_the_location():
    err = InputError("must be an integer >= 0, got 'two'",
                     location=Location("infra.yaml", 12, 5, "nodes[1].scaling.min"))
    assert str(err) == "infra.yaml:12:5: nodes[1].scaling.min: must be an integer >= 0, got 'two'"
    assert err.exit_code == EXIT_BAD_INPUT
    assert err.to_dict() == {"error": "InputError", "message": "must be an integer >= 0, got 'two'",
                             "file": "infra.yaml", "line": 12, "column": 5,
                             "path": "nodes[1].scaling.min"}


def test_location_without_file_shows_the_path_only():
    assert str(InputError("bad", location=Location(path="nodes[0]"))) == "nodes[0]: bad"
    assert str(OccoError("plain")) == "plain"
    assert OccoError("x").exit_code == EXIT_FAILED


def test_input_errors_reports_all_and_counts_the_rest():
    errs = InputErrors([InputError("a", location=Location("f", 1, 1)),
                        InputError("b", location=Location("f", 2, 1))], truncated=3)
    text = str(errs)
    assert text.splitlines() == ["5 errors:", "  f:1:1: a", "  f:2:1: b", "  ... and 3 more"]
    assert errs.exit_code == EXIT_BAD_INPUT
    assert [e["message"] for e in errs.to_dict()["errors"]] == ["a", "b"]


def test_plugin_not_found_lists_what_is_available():
    err = PluginNotFoundError("occo.cloudhandler", "ec3", ["ec2", "dummy"])
    assert str(err) == "no occo.cloudhandler plugin named 'ec3'; available: dummy, ec2"
    assert PluginNotFoundError("g", "x", []).message.endswith("available: none installed")
