"""Occopus's occopus_config.yaml: its rest and redis uds settings are picked up by composing
the file (no tag is ever constructed); its !python_import list is ignored with a warning."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from occo.api.occopus_config import is_occopus_config, load_cfg, load_occopus_config
from occo.util import ConfigError, YAMLSyntaxError
from occo.util.testing import corpus, tutorials, tutorials_missing

TUTORIALS = tutorials()


def copy_config(source: Path, tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    copy = tmp_path / "occopus_config.yaml"
    shutil.copyfile(source, copy)
    return copy


@pytest.fixture
def corpus_config(tmp_path, monkeypatch) -> Path:
    """OCCO's own Occopus-style configuration (occo.util.testing's corpus)."""
    return copy_config(corpus("_occopus", "occopus_config.yaml"), tmp_path, monkeypatch)


@pytest.fixture
def occopus_config(tmp_path, monkeypatch) -> Path:
    """The Occopus tutorials' configuration (optional: OCCO_TUTORIALS)."""
    if TUTORIALS is None:
        pytest.skip(str(tutorials_missing()))
    return copy_config(TUTORIALS / "_occopus" / "occopus_config.yaml", tmp_path, monkeypatch)


def test_the_corpus_config_gives_rest_and_redis_settings(corpus_config):
    assert is_occopus_config(corpus_config)
    config, warnings = load_cfg(corpus_config)
    assert config.rest["host"] == "127.0.0.1" and config.rest["port"] == 5080
    assert config.store == {**config.store, "backend": "redis",
                            "url": "redis://redis.corpus.example:6390/3"}
    assert config.source == str(corpus_config)
    assert warnings == [
        f"{corpus_config}:3:1: plugins: ignoring the !python_import list (12 module(s)): OCCO "
        "finds its plugins through entry points and never imports what a configuration names",
        f"{corpus_config}: ignoring the components configmanager, dry_run, eventlog, "
        "infobroker, resourcehandler (OCCO configures its parts in occo.yaml)"]


def test_the_corpus_config_values_alone(corpus_config):
    values, warnings = load_occopus_config(corpus_config)
    assert values == {"rest": {"host": "127.0.0.1", "port": 5080},
                      "store": {"backend": "redis", "url": "redis://redis.corpus.example:6390/3"}}
    assert len(warnings) == 2


def test_the_tutorials_config_gives_rest_and_redis_settings(occopus_config):
    assert is_occopus_config(occopus_config)
    config, warnings = load_cfg(occopus_config)
    assert config.rest["host"] == "127.0.0.1" and config.rest["port"] == 5000
    assert config.store == {**config.store, "backend": "redis", "url": "redis://localhost:6379/0"}
    assert config.source == str(occopus_config)
    assert warnings[0] == (f"{occopus_config}:1:1: plugins: ignoring the !python_import list "
                           "(19 module(s)): OCCO finds its plugins through entry points and "
                           "never imports what a configuration names")
    assert warnings[1] == (f"{occopus_config}: ignoring the components configmanager, "
                           "dry_run, eventlog, infobroker, resourcehandler (OCCO configures "
                           "its parts in occo.yaml)")


def test_no_tag_is_ever_constructed(tmp_path):
    marker = tmp_path / "constructed"
    config = tmp_path / "occopus_config.yaml"
    config.write_text(f"""\
plugins: !python_import
    - os
boom: !!python/object/apply:os.system ["touch {marker}"]
components:
    rest: {{host: 127.0.0.2, port: 5111}}
    resourcehandler: !ResourceHandler &rh
        protocol: !!python/object/apply:os.system ["touch {marker}"]
    infobroker: !InfoRouter {{sub_providers: [*rh]}}
""")
    values, warnings = load_occopus_config(config)
    assert values == {"rest": {"host": "127.0.0.2", "port": 5111}}
    assert not marker.exists()
    assert "ignoring the components infobroker, resourcehandler" in warnings[-1]


def test_an_occo_yaml_given_to_cfg_is_read_as_occo_yaml(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    config = tmp_path / "occo.yaml"
    config.write_text("rest: {port: 5999}\n")
    assert not is_occopus_config(config)
    loaded, warnings = load_cfg(config)
    assert loaded.rest["port"] == 5999 and warnings == []


@pytest.mark.parametrize("rest, message, where", [
    ("{port: high}", "must be an integer, got 'high'", ":3:18: components.rest.port"),
    ("{port: 70000}", "must be a port number (0-65535), got 70000",
     ":3:18: components.rest.port"),
    ("{host: [a, b]}", "must be a plain string", ":3:18: components.rest.host"),
    ("{host: !Tagged x}", "must be a plain string", ":3:18: components.rest.host"),
])
def test_bad_values_are_located(tmp_path, rest, message, where):
    config = tmp_path / "occopus_config.yaml"
    config.write_text(f"plugins: !python_import [os]\ncomponents:\n    rest: {rest}\n")
    with pytest.raises(ConfigError) as exc:
        load_occopus_config(config)
    assert str(exc.value) == f"{config}{where}: {message}"


def test_a_config_that_is_not_yaml(tmp_path):
    config = tmp_path / "occopus_config.yaml"
    config.write_text("components:\n  rest: {host: [\n")
    with pytest.raises(YAMLSyntaxError) as exc:
        load_cfg(config)
    assert str(exc.value).startswith(f"{config}:3:1: invalid YAML")


def test_a_missing_config_file(tmp_path):
    with pytest.raises(ConfigError) as exc:
        load_cfg(tmp_path / "nope.yaml")
    assert str(exc.value) == (f"{tmp_path / 'nope.yaml'}: cannot read the configuration file: "
                              "No such file or directory")
