"""What the loader is given where a file is expected, and text that is not UTF-8: each
is an InputError naming the path (and for bad bytes the line and byte), never a hang on
a FIFO or a raw UnicodeDecodeError."""

from __future__ import annotations

import os
import socket

import pytest

from occo.util import InputError, load_yaml_file
from occo.util.yamlload import IncludeError


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "infra.yaml"
    os.mkfifo(path)
    return path


@pytest.mark.timeout(10)
def test_a_fifo_is_not_a_regular_file_and_is_never_opened(fifo):
    with pytest.raises(InputError, match=r"not a regular file: it is a FIFO \(named pipe\): "):
        load_yaml_file(fifo)


def test_a_directory_is_said_to_be_one(tmp_path):
    (tmp_path / "infra.yaml").mkdir()
    with pytest.raises(InputError, match="not a regular file: it is a directory: "):
        load_yaml_file(tmp_path / "infra.yaml")


def test_a_socket_and_a_device(tmp_path):
    path = tmp_path / "sock.yaml"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    try:
        with pytest.raises(InputError, match="it is a socket"):
            load_yaml_file(path)
    finally:
        server.close()
    with pytest.raises(InputError, match="it is a character device"):
        load_yaml_file("/dev/null")


@pytest.mark.timeout(10)
def test_an_include_of_a_fifo_names_the_tag_and_the_path(tmp_path):
    os.mkfifo(tmp_path / "part.yaml")
    (tmp_path / "infra.yaml").write_text("a: !yaml_import {url: 'file://part.yaml'}\n")
    with pytest.raises(IncludeError) as err:
        load_yaml_file(tmp_path / "infra.yaml")
    assert str(err.value).endswith(f"!yaml_import: not a regular file: it is a FIFO (named "
                                   f"pipe): {tmp_path / 'part.yaml'}")
    assert err.value.location.line == 1


@pytest.mark.parametrize("data, line, column, byte", [
    (b"name: caf\xe9\n", 1, 10, 0xE9),                    # Latin-1
    (b"a: 1\nb: 2\nc: \xff\xfe\n", 3, 4, 0xFF),            # a stray BOM-like pair
    (b"a: ok\n  # \xc3\n", 2, 5, 0xC3),                    # a cut multi-byte sequence
])
def test_text_that_is_not_utf8_names_the_line_and_byte(tmp_path, data, line, column, byte):
    path = tmp_path / "infra.yaml"
    path.write_bytes(data)
    with pytest.raises(InputError) as err:
        load_yaml_file(path)
    assert err.value.location.line == line and err.value.location.column == column
    assert f"(line {line}, byte {column} of the line) is 0x{byte:02x}; save the file as " \
           "UTF-8" in str(err.value)
