"""The secrets of an election that live only as long as they are needed (``secrets/ballots/``).

- **A ballot key per session and round.** A ballot's choice is sealed (AES-256-GCM, bound to
  session, round and voter) under the key of its round, made when the round opens. When the
  round's tally is published (a leader, a tie and the next round, or a draw by lot) the key is
  overwritten and deleted: from then on the sealed ballots prove who voted and the published
  tally what they added up to, but nobody, the server's operators included, can tell who chose
  whom. The state of a round still open is rebuilt after a restart by opening its ballots.
- **The seed of a draw by lot** (``roomserver.lots``), drawn when the election starts (only its
  commitment is logged), kept until the election is decided and revealed in the event of a
  draw; deleted once the election is decided.

The directory is 0700 and each file 0600. Files are small and read or written from a thread.
"""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from roomserver.workflow import Phase, WorkflowState

KEY_BYTES = 32
# Session ids are the server's own; anything else has no business in a file name.
SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
OWN_FILE = re.compile(r"^([0-9]+\.key|lot\.seed)$")


class BallotKeys:
    """Ballot keys per session and round, and election seeds, as files in one directory."""

    @classmethod
    def in_secrets(cls, secrets_dir: Path) -> BallotKeys:
        """The server's: ``secrets/ballots/``; ballots sealed before keys were per round open
        with the former single key while it is kept."""
        return cls(secrets_dir / "ballots", legacy_key=secrets_dir / "ballot.key")

    def __init__(self, directory: Path, *, legacy_key: Path | None = None) -> None:
        self.directory = directory
        # Ballots sealed before keys were per round open with the old single key, if it is kept.
        self._legacy = legacy_key

    def _path(self, session_id: str, name: str) -> Path:
        if not SESSION_ID.match(session_id):
            raise ValueError(f"not a session id: {session_id!r}")
        return self.directory / f"{session_id}-{name}"

    def key_path(self, session_id: str, round_no: int) -> Path:
        """Where the key of a round is kept."""
        return self._path(session_id, f"{round_no}.key")

    def seed_path(self, session_id: str) -> Path:
        """Where the seed of a session's draw by lot is kept."""
        return self._path(session_id, "lot.seed")

    def _write(self, path: Path, secret: bytes) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(secret)
            f.flush()
            os.fsync(f.fileno())

    @staticmethod
    def _read(path: Path) -> bytes | None:
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None

    @staticmethod
    def _destroy(path: Path) -> None:
        """Overwrite, then delete: a copy of the key should not stay in the file's blocks."""
        try:
            size = path.stat().st_size
            with open(path, "r+b") as f:
                f.write(bytes(size))
                f.flush()
                os.fsync(f.fileno())
            path.unlink()
        except FileNotFoundError:
            pass

    def create(self, session_id: str, round_no: int) -> None:
        """The key of a round that opens (kept if it exists)."""
        path = self.key_path(session_id, round_no)
        if not path.exists():
            self._write(path, os.urandom(KEY_BYTES))

    @staticmethod
    def _bound(session_id: str, round_no: int, voter: str) -> bytes:
        return f"ballot|{session_id}|{round_no}|{voter}".encode()

    def seal(self, session_id: str, round_no: int, voter: str, choice: str) -> str:
        """The choice sealed under the round's key (made now if the round has none yet)."""
        self.create(session_id, round_no)
        key = self._read(self.key_path(session_id, round_no))
        assert key is not None
        nonce = os.urandom(12)
        sealed = AESGCM(key).encrypt(
            nonce, choice.encode(), self._bound(session_id, round_no, voter)
        )
        return base64.b64encode(nonce + sealed).decode()

    def open(self, session_id: str, round_no: int, voter: str, sealed: str) -> str | None:
        """The choice, or None when the round's key is gone; InvalidTag if it does not fit."""
        key = self._read(self.key_path(session_id, round_no))
        if key is None and self._legacy is not None:
            key = self._legacy_key()
        if key is None:
            return None
        raw = base64.b64decode(sealed)
        plain = AESGCM(key[:KEY_BYTES]).decrypt(
            raw[:12], raw[12:], self._bound(session_id, round_no, voter)
        )
        return plain.decode()

    def _legacy_key(self) -> bytes | None:
        assert self._legacy is not None
        text = self._read(self._legacy)
        return bytes.fromhex(text.decode("ascii").strip()) if text else None

    def keep_seed(self, session_id: str, seed: bytes) -> None:
        """Keep the seed of the election that starts, until it is decided."""
        self._write(self.seed_path(session_id), seed)

    def seed(self, session_id: str) -> bytes | None:
        """The seed of the session's election in progress, if it is kept."""
        return self._read(self.seed_path(session_id))

    def settle(self, session_id: str, state: WorkflowState) -> None:
        """Keep what the state still needs, destroy the rest: the open round's key and the
        seed while the election goes on, nothing once it is decided."""
        electing = state.phase == Phase.ELECTION
        if electing:
            self.create(session_id, state.election_round)
        wanted = {self.key_path(session_id, state.election_round)} if electing else set()
        if electing:
            wanted.add(self.seed_path(session_id))
        if not self.directory.is_dir():
            return
        for path in self.directory.glob(f"{session_id}-*"):
            # Only this session's files: another session's id may start with this one.
            if OWN_FILE.match(path.name[len(session_id) + 1 :]) and path not in wanted:
                self._destroy(path)
