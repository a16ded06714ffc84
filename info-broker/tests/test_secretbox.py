"""Secret values are stored encrypted (with a key kept outside the store), credentials
not at all; what is stored on disk or in Redis never holds them in clear text."""

from __future__ import annotations

import os
import stat

import pytest
from cryptography.fernet import Fernet

from occo.infobroker import InfraRecord, InstanceRecord, SecretBox, SecretKeyError, SQLiteStore
from occo.infobroker.secretbox import SECRET_MARK, default_key_path

PASSWORD = "pw-Kx81-never-in-clear"
DESCRIPTION = {"infra_name": "wp", "variables": {"mysql_root_password": PASSWORD,
                                                  "db_name": "wordpress",
                                                  "nested": {"api_token": ["t-1", "t-2"]}},
               "auth_data": {"type": "ec2", "accesskey": "AKIA-CLEAR"}}
IMPL = {"type": "db", "health_check": {"mysqldbs": [{"name": "wp", "user": "u",
                                                     "pass": PASSWORD}]},
        "resource": {"type": "dummy", "auth_data": {"password": "CRED-CLEAR"}}}


def raw_text(store) -> str:
    """Everything the backend keeps, as one string (what an attacker with the file sees)."""
    kind = type(store).__name__
    if kind == "MemoryStore":
        return repr(store.__dict__)
    if kind == "SQLiteStore":
        store.close()
        data = b"".join(p.read_bytes() for p in store.path.parent.iterdir() if p.is_file())
        return data.decode("latin-1")
    if kind == "PostgreSQLStore":          # every row of every table, as the server holds it
        with store._db.pool.connection() as conn:
            tables = [r[0] for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                (store.schema,)).fetchall()]
            assert "instances" in tables
            return "\n".join(str(row[0]) for table in tables for row in conn.execute(
                f'SELECT t::text FROM "{store.schema}"."{table}" t').fetchall())
    raw = store._redis
    parts = []
    for key in raw.scan_iter(match=f"{store.prefix}:*"):
        kind = raw.type(key)
        if kind == "hash":
            parts.append(repr(raw.hgetall(key)))
        elif kind == "list":
            parts.append(repr(raw.lrange(key, 0, -1)))
        elif kind == "string":
            parts.append(repr(raw.get(key)))
    return "\n".join(parts)


def test_secrets_round_trip_and_are_never_stored_in_clear(store):
    store.create_infrastructure(InfraRecord(infra_id="s", name="wp", description=DESCRIPTION))
    store.add_instances([InstanceRecord(instance_id="db-1", infra_id="s", node_name="db",
                                        implementation=IMPL,
                                        resource={"id": "r-1", "secret_key": PASSWORD})])
    store.put_node_definition("db", [IMPL])
    described = store.get_infrastructure("s").description
    assert described["variables"]["mysql_root_password"] == PASSWORD
    assert described["variables"]["nested"]["api_token"] == ["t-1", "t-2"]
    assert "auth_data" not in described                       # credentials: dropped
    got = store.get_instance("db-1")
    assert got.implementation["health_check"]["mysqldbs"][0]["pass"] == PASSWORD
    assert "auth_data" not in got.implementation["resource"]
    assert got.resource == {"id": "r-1", "secret_key": PASSWORD}
    assert store.get_node_definition("db")[0]["health_check"] == IMPL["health_check"]
    stored = raw_text(store)
    assert SECRET_MARK in stored
    for clear in (PASSWORD, "t-1", "AKIA-CLEAR", "CRED-CLEAR"):
        assert clear not in stored
    assert "wordpress" in stored                                # the rest stays readable


def test_the_key_file_is_created_when_first_needed_with_mode_0600(tmp_path):
    key = tmp_path / "conf" / "store.key"
    store = SQLiteStore(tmp_path / "state.sqlite", secrets=SecretBox(key))
    store.create_infrastructure(InfraRecord(infra_id="plain", name="x",
                                            description={"variables": {"a": 1}}))
    assert not key.exists()                       # no secret, no key file
    store.create_infrastructure(InfraRecord(infra_id="s", name="x", description=DESCRIPTION))
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    Fernet(key.read_bytes().strip())              # a valid Fernet key
    store.close()


def test_without_the_key_file_the_secrets_cannot_be_read(tmp_path):
    key = tmp_path / "store.key"
    with SQLiteStore(tmp_path / "state.sqlite", secrets=SecretBox(key)) as store:
        store.create_infrastructure(InfraRecord(infra_id="s", name="x", description=DESCRIPTION))
    key.unlink()
    with SQLiteStore(tmp_path / "state.sqlite", secrets=SecretBox(key)) as store:
        assert store.lease_holder("x") is None    # the store itself opens fine
        with pytest.raises(SecretKeyError) as err:
            store.get_infrastructure("s")
    assert str(err.value) == (f"the store holds encrypted secret values but their key file "
                              f"{key} is missing; copy it from the machine that wrote them")
    assert not key.exists()                       # reading never creates a key


def test_another_key_cannot_read_the_secrets(tmp_path):
    with SQLiteStore(tmp_path / "state.sqlite", secrets=SecretBox(tmp_path / "a.key")) as store:
        store.create_infrastructure(InfraRecord(infra_id="s", name="x", description=DESCRIPTION))
    other = tmp_path / "b.key"
    other.write_bytes(Fernet.generate_key())
    other.chmod(0o600)
    with SQLiteStore(tmp_path / "state.sqlite", secrets=SecretBox(other)) as store:
        with pytest.raises(SecretKeyError, match=f"encrypted with another key than the key file "
                                                 f"{other}; use the key file of the process "
                                                 f"that wrote them"):
            store.get_infrastructure("s")


def test_a_key_file_readable_by_others_is_refused(tmp_path):
    key = tmp_path / "store.key"
    key.write_bytes(Fernet.generate_key())
    key.chmod(0o644)
    with pytest.raises(SecretKeyError, match=r"readable by others \(mode 644\); run: chmod 600"):
        SecretBox(key).seal({"password": "x"})


def test_a_key_file_with_garbage_is_refused(tmp_path):
    key = tmp_path / "store.key"
    key.write_text("not a key")
    key.chmod(0o600)
    with pytest.raises(SecretKeyError, match="does not hold a valid key"):
        SecretBox(key).seal({"password": "x"})


def test_default_key_path_follows_xdg_config_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert default_key_path() == tmp_path / "occo" / "store.key"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    assert default_key_path() == __import__("pathlib").Path.home() / ".config/occo/store.key"


def test_several_boxes_share_one_key_file(tmp_path):
    key = tmp_path / "store.key"
    boxes = [SecretBox(key) for _ in range(5)]
    sealed = [box.seal({"password": f"p{n}"}) for n, box in enumerate(boxes)]
    for n, value in enumerate(sealed):            # every box reads every other's values
        for box in boxes:
            assert box.unseal(dict(value)) == {"password": f"p{n}"}
    assert [p.name for p in tmp_path.iterdir()] == ["store.key"]
    assert os.stat(key).st_nlink == 1


def test_derived_secrets_are_the_same_per_key_and_purpose_and_never_shown(tmp_path):
    from occo.util import scrub
    one, same = SecretBox(tmp_path / "a.key"), SecretBox(tmp_path / "a.key")
    other = SecretBox(tmp_path / "b.key")
    secret = one.derive("rest-scaling:infra-1")
    assert len(secret) >= 40 and secret == same.derive("rest-scaling:infra-1")
    assert secret != one.derive("rest-scaling:infra-2")
    assert secret != other.derive("rest-scaling:infra-1")
    assert secret not in scrub(f"the secret is {secret}")
    with pytest.raises(SecretKeyError):
        SecretBox(tmp_path / "missing.key").derive("x", create=False)
    assert not (tmp_path / "missing.key").exists()
