"""Keys, database and data directory: created private, and a key others can read stops the start."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from roomserver.errors import UnsafePermissions
from roomserver.privatefiles import check_secrets, read_secret, write_secret
from signaling.cli.main import main
from signaling.gate.tokens import load_or_create_key


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_the_secrets_folder_and_the_token_key_are_created_private(tmp_path: Path) -> None:
    key = tmp_path / "secrets" / "token.key"
    load_or_create_key(key)
    assert mode(key.parent) == 0o700
    assert mode(key) == 0o600


def test_a_token_key_others_can_read_is_refused_with_the_chmod_to_run(tmp_path: Path) -> None:
    key = tmp_path / "secrets" / "token.key"
    first = load_or_create_key(key)
    key.chmod(0o644)
    with pytest.raises(UnsafePermissions) as refused:
        load_or_create_key(key)
    assert f"chmod 600 {key}" in refused.value.message
    key.chmod(0o600)
    assert load_or_create_key(key) == first


def test_a_secrets_folder_others_can_open_is_refused(tmp_path: Path) -> None:
    key = tmp_path / "secrets" / "token.key"
    load_or_create_key(key)
    key.parent.chmod(0o755)
    with pytest.raises(UnsafePermissions) as refused:
        load_or_create_key(key)
    assert f"chmod 700 {key.parent}" in refused.value.message


def test_any_other_file_in_the_secrets_folder_is_checked_before_the_start(tmp_path: Path) -> None:
    folder = tmp_path / "secrets"
    check_secrets(folder)  # creates it
    assert mode(folder) == 0o700
    other = folder / "ballot.key"
    fd = os.open(other, os.O_WRONLY | os.O_CREAT, 0o640)
    os.close(fd)
    with pytest.raises(UnsafePermissions, match=f"chmod 600 {other}"):
        check_secrets(folder)


def test_the_command_creates_a_private_data_directory_and_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "new-data"
    assert main(["token", "--admin", "--data-dir", str(data)]) == 0
    assert mode(data) == 0o700
    assert mode(data / "secrets") == 0o700
    assert mode(data / "secrets" / "token.key") == 0o600
    database = data / "roomserver.db"
    assert mode(database) == 0o600
    # SQLite makes the write-ahead log and its index with the database file's mode.
    with sqlite3.connect(database) as conn:
        conn.execute("CREATE TABLE probe (x)")
        for suffix in ("-wal", "-shm"):
            companion = database.with_name(database.name + suffix)
            assert companion.exists() and mode(companion) == 0o600, suffix


def test_an_old_database_readable_by_others_is_tightened(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert main(["token", "--admin", "--data-dir", str(data)]) == 0
    database = data / "roomserver.db"
    database.chmod(0o644)
    assert main(["token", "--admin", "--data-dir", str(data)]) == 0
    assert mode(database) == 0o600


def test_the_command_refuses_to_start_with_a_readable_key_and_says_how_to_fix_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    assert main(["token", "--admin", "--data-dir", str(data)]) == 0
    capsys.readouterr()
    key = data / "secrets" / "token.key"
    key.chmod(0o644)
    assert main(["serve", "--data-dir", str(data), "--bind", "127.0.0.1:0"]) == 1
    err = capsys.readouterr().err
    assert f"chmod 600 {key}" in err and err.startswith("错误：")
    assert "Traceback" not in err
    key.chmod(0o600)
    (data / "secrets").chmod(0o750)
    assert main(["token", "--admin", "--data-dir", str(data)]) == 1
    assert f"chmod 700 {data / 'secrets'}" in capsys.readouterr().err


def test_a_second_writer_keeps_the_first_key_and_leaves_nothing_behind(tmp_path: Path) -> None:
    key = tmp_path / "secrets" / "token.key"
    assert write_secret(key, b"first\n") is True
    assert write_secret(key, b"second\n") is False
    assert read_secret(key) == b"first\n"
    assert sorted(p.name for p in key.parent.iterdir()) == ["token.key"]
