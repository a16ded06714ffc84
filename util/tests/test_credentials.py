"""The credentials file: loading, validation, secret registration and entry matching."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

from occo.util import (
    Credentials,
    InputError,
    InputErrors,
    credentials_from_text,
    forget_secrets,
    load_credentials,
    load_yaml_file,
    scrub,
    setup_logging,
)
from occo.util.testing import corpus, tutorials, tutorials_missing

TUTORIALS = tutorials()


@pytest.fixture(autouse=True)
def clean_registry():
    forget_secrets()
    yield
    forget_secrets()


def write(tmp_path: Path, text: str, name: str = "auth_data.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


TWO_CLOUDS = """\
resource:
  - type: ec2
    endpoint: https://ec2.a.example
    auth_data: {accesskey: AKIA-A-KEY, secretkey: secret-for-a}
  - type: ec2
    endpoint: https://ec2.b.example
    auth_data: {accesskey: AKIA-B-KEY, secretkey: secret-for-b}
  - type: nova
    auth_data: {username: u, password: nova-password}
config_management:
  - type: chef
    auth_data: {client_name: me, client_key: chef-key-text}
"""


def test_matching_picks_the_one_entry_whose_filters_all_equal(tmp_path):
    creds = load_credentials(write(tmp_path, TWO_CLOUDS))
    entry = creds.match("resource", {"type": "ec2", "endpoint": "https://ec2.b.example",
                                     "image_id": "ami-1"}, node="web")
    assert entry.auth_data == {"accesskey": "AKIA-B-KEY", "secretkey": "secret-for-b"}
    assert entry.index == 1 and entry.filters == {"type": "ec2",
                                                  "endpoint": "https://ec2.b.example"}
    nova = creds.match("resource", {"type": "nova", "endpoint": "https://x", "flavor_name": "m"})
    assert nova.auth_data["username"] == "u"
    chef = creds.match("config_management", {"type": "chef", "endpoint": "https://chef"})
    assert chef.auth_data["client_key"] == "chef-key-text"


def test_every_secret_is_registered_on_load_and_scrubbed(tmp_path):
    load_credentials(write(tmp_path, TWO_CLOUDS))
    text = "keys AKIA-A-KEY secret-for-b nova-password chef-key-text"
    assert scrub(text) == "keys *** *** *** ***"


def test_entries_never_print_their_secrets(tmp_path):
    creds = load_credentials(write(tmp_path, TWO_CLOUDS))
    entry = creds.entries("resource")[0]
    for shown in (repr(entry), str(entry), entry.label, entry.describe(), repr(creds)):
        assert "secret-for-a" not in shown and "AKIA-A-KEY" not in shown
    assert entry.label == "resource[0] (type=ec2, endpoint=https://ec2.a.example)"
    assert entry.describe().endswith("auth_data.yaml:2")


def test_no_match_names_node_section_and_candidates_without_secrets(tmp_path):
    path = write(tmp_path, TWO_CLOUDS)
    creds = load_credentials(path)
    with pytest.raises(InputError) as info:
        creds.match("resource", {"type": "ec2", "endpoint": "https://ec2.c.example"},
                    node="web")
    err = info.value
    text = str(err)
    assert err.node == "web" and err.exit_code == 2
    assert text.startswith(f"{path}: resource: node 'web': no credential entry matches its "
                           "resource section (type 'ec2'); candidates: ")
    assert (f"resource[0] (type=ec2, endpoint=https://ec2.a.example) at {path}:2: differs in "
            "endpoint (the node has endpoint=https://ec2.c.example)") in text
    assert "resource[2] (type=nova)" in text and "differs in type" in text
    for secret in ("secret-for-a", "secret-for-b", "nova-password", "AKIA"):
        assert secret not in text


def test_several_matches_is_an_error_listing_them(tmp_path):
    path = write(tmp_path, """\
resource:
  - type: ec2
    auth_data: {accesskey: general-key, secretkey: general-secret}
  - type: ec2
    name: my_ec2_cloud
    auth_data: {accesskey: special-key, secretkey: special-secret}
""")
    creds = load_credentials(path)
    # A resource without the name matches only the first entry.
    assert creds.match("resource", {"type": "ec2"}).index == 0
    with pytest.raises(InputError) as info:
        creds.match("resource", {"type": "ec2", "name": "my_ec2_cloud"}, node="db")
    text = str(info.value)
    assert "node 'db': 2 credential entries match its resource section (type 'ec2'), exactly " \
           "one must: " in text
    assert f"resource[0] (type=ec2) at {path}:2" in text
    assert f"resource[1] (type=ec2, name=my_ec2_cloud) at {path}:4" in text
    assert "general-secret" not in text and "special-secret" not in text


def test_no_file_and_empty_section_errors():
    with pytest.raises(InputError, match=r"node 'web': its resource section \(type 'ec2'\) "
                                         r"needs credentials, but no credentials file was given"):
        Credentials.empty().match("resource", {"type": "ec2"}, node="web")
    creds = credentials_from_text("config_management: []\n", source="auth.yaml")
    with pytest.raises(InputError, match=r"auth.yaml: resource: node 'n': its resource section "
                                         r"\(type 'nova'\) needs credentials, but auth.yaml has "
                                         r"no 'resource' entries"):
        creds.match("resource", {"type": "nova"}, node="n")


def test_text_import_reads_a_key_file_relative_to_the_credentials(tmp_path):
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "me.pem").write_text("-----BEGIN KEY-----\nabcdefgh\n")
    path = write(tmp_path, """\
config_management:
  - type: chef
    auth_data: {client_name: me, client_key: !text_import {url: file://keys/me.pem}}
""")
    entry = load_credentials(path).match("config_management", {"type": "chef"})
    assert entry.auth_data["client_key"] == "-----BEGIN KEY-----\nabcdefgh\n"
    assert "abcdefgh" not in scrub("key: -----BEGIN KEY-----\nabcdefgh\n")


@pytest.mark.parametrize("text, message", [
    ("- type: ec2\n", "auth_data.yaml:1:1: the credentials file must be a mapping with "
                      "resource and/or config_management lists, got a list"),
    ("resources: []\n", "auth_data.yaml:1:1: resources: unknown section 'resources' in the "
                        "credentials file; did you mean 'resource'?"),
    ("resource: {type: ec2}\n", "auth_data.yaml:1:11: resource: must be a list of entries, "
                                "got a mapping"),
    ("resource:\n  - type: ec2\n", "auth_data.yaml:2:5: resource[0]: missing required key "
                                   "'auth_data' (the secrets of this entry)"),
    ("resource:\n  - type: ec2\n    auth_data: s3cr3t-value\n",
     "auth_data.yaml:3:16: resource[0].auth_data: auth_data must be a non-empty mapping, "
     "got 's3cr3t-value'"),
    ("resource:\n  - just-a-string\n", "auth_data.yaml:2:5: resource[0]: an entry must be a "
                                       "mapping with 'auth_data', got 'just-a-string'"),
])
def test_bad_credentials_files_give_located_errors(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(InputError) as info:
        load_credentials(path)
    assert str(info.value) == f"{tmp_path}/{message}"


def test_several_problems_are_reported_together(tmp_path):
    path = write(tmp_path, "resource:\n  - type: ec2\n  - 7\nmanagement: []\n")
    with pytest.raises(InputErrors) as info:
        load_credentials(path)
    assert len(info.value.errors) == 3
    assert "did you mean" not in str(info.value.errors[0])


def test_an_empty_file_means_no_credentials(tmp_path):
    creds = load_credentials(write(tmp_path, "# nothing yet\n"))
    assert creds.entries("resource") == () and creds.entries("config_management") == ()


def test_secrets_loaded_from_the_file_never_reach_the_log(tmp_path):
    stream = io.StringIO()
    handler = setup_logging("DEBUG", stream=stream)
    try:
        creds = load_credentials(write(tmp_path, TWO_CLOUDS))
        entry = creds.match("resource", {"type": "ec2", "endpoint": "https://ec2.a.example"})
        logging.getLogger("occo.test").info("using %s with %s", entry, entry.auth_data)
    finally:
        logging.getLogger("occo").removeHandler(handler)
    out = stream.getvalue()
    assert "resource[0]" in out
    assert "secret-for-a" not in out and "AKIA-A-KEY" not in out


def test_the_corpus_credentials_file_loads_and_every_entry_matches():
    path = corpus("_occopus", "auth_data.yaml")
    creds = load_credentials(path)
    assert [e.filters["type"] for e in creds.entries("resource")] == [
        "ec2", "ec2", "nova", "azure_aci", "azure_vm", "cloudbroker", "cloudsigma"]
    # the two ec2 entries are told apart by endpoint: each board implementation finds its own
    defs = load_yaml_file(corpus("bulletin-board", "nodes", "node_definitions.yaml"))
    found = [(impl["resource"]["name"], creds.match("resource", impl["resource"], node="board"))
             for impl in defs["node_def:board_frontend"] if impl["resource"]["type"] == "ec2"]
    assert [(name, entry.index) for name, entry in found] == [
        ("north-small", 0), ("north-medium", 0), ("south-small", 1)]
    assert found[2][1].auth_data == {"accesskey": "CORPUS-SOUTH-ACCESS-KEY",
                                     "secretkey": "corpus-south-secret-key"}
    nova = creds.match("resource", defs["node_def:kv_store"][1]["resource"], node="store")
    assert nova.auth_data == {"type": "application_credential",
                              "id": "corpus-application-credential",
                              "secret": "corpus-application-secret"}
    for kind, key, value in (("azure_aci", "client_id", "corpus-aci-client"),
                             ("azure_vm", "client_id", "corpus-vm-client"),
                             ("cloudbroker", "email", "broker-user@corpus.example"),
                             ("cloudsigma", "password", "corpus-sigma-password")):
        assert creds.match("resource", {"type": kind, "endpoint": "x"}).auth_data[key] == value
    chef = creds.match("config_management", {"type": "chef", "endpoint":
                                             "https://chef.corpus.example/organizations/docs",
                                             "run_list": ["role[mediawiki]"]})
    assert chef.describe().endswith(f"{path}:47")
    assert chef.auth_data == {"client_name": "corpus-docs-client",   # via !text_import
                              "client_key": "corpus chef client key: a stand-in, not a key\n"}
    assert scrub("corpus-north-secret-key corpus-vm-secret corpus-sigma-password") == \
        "*** *** ***"


def test_the_corpus_credentials_file_refuses_an_endpoint_it_does_not_list():
    creds = load_credentials(corpus("_occopus", "auth_data.yaml"))
    with pytest.raises(InputError) as info:
        creds.match("resource", {"type": "ec2", "endpoint": "https://ec2.docs.corpus.example"},
                    node="wiki-db")
    text = str(info.value)
    assert "node 'wiki-db': no credential entry matches its resource section (type 'ec2')" \
        in text
    assert "resource[0] (type=ec2, endpoint=https://ec2.eu-north-1.corpus.example)" in text
    assert "resource[1] (type=ec2, endpoint=https://ec2.eu-south-1.corpus.example)" in text
    assert "corpus-north-secret-key" not in text and "CORPUS-SOUTH" not in text


@pytest.mark.skipif(TUTORIALS is None, reason=str(tutorials_missing()))
def test_the_occopus_tutorial_credentials_file_loads():
    creds = load_credentials(TUTORIALS / "_occopus" / "auth_data.yaml")
    assert [e.filters["type"] for e in creds.entries("resource")] == [
        "ec2", "nova", "azure_aci", "azure_vm", "cloudbroker", "cloudsigma"]
    assert creds.match("resource", {"type": "cloudsigma", "endpoint": "x"}).auth_data == {
        "email": "your@email.com", "password": "your_password"}
