"""One writer at a time. Two ingests that interleave each compute the paper set from what they read and
delete what the other wrote, so a second writer waits for the first (saying for whom) or fails at once.

- Embedded store: a file lock in LABQA_HOME (`filelock`, an OS lock the kernel drops when the holder dies,
  even on SIGKILL), with a note of who holds it beside it for the waiting message.
- Server mode: the store is shared across machines, so the lock lives in the server — a lease record in the
  `labqa_locks` collection with an expiry the holder renews. Chroma has no conditional write, but `add` of
  an id that exists leaves the existing record untouched, so "add, then read back who holds it" is an
  atomic take-if-free; an expired lease is removed with `delete(where=owner)`, which deletes nothing if
  someone else took it over first. A killed writer stops renewing and its lease lapses after
  `ingest_lease_seconds`.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from rag.errors import IngestLockedError, StoreError
from rag.settings import Settings

LOCKS = "labqa_locks"  # not prefixed like an index, so index listings and drops never see it
LEASE_ID = "ingest"
POLL = 1.0  # seconds between attempts while waiting

Waiting = Callable[[str], None]  # told once, with a description of the holder, when a writer has to wait


def holder_note(action: str) -> dict[str, Any]:
    return {"pid": os.getpid(), "host": socket.gethostname(), "action": action,
            "since": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")}


def describe(note: dict[str, Any] | None) -> str:
    if not note:
        return "another LabQA process"
    return f"`labqa {note.get('action', 'ingest')}` (pid {note.get('pid')} on {note.get('host')}, since {note.get('since')})"


@contextmanager
def writer(settings: Settings, action: str = "ingest", wait: float | None = None,
           on_wait: Waiting | None = None) -> Iterator[Callable[[], None]]:
    """Hold the store's writer lock for the block. `wait`: seconds to wait for another writer (None: the
    setting; 0: fail at once). Yields a check() the writer calls between batches: it raises if the lock was
    lost (a server lease that could not be renewed in time)."""
    wait = settings.ingest_wait if wait is None else wait
    if settings.chroma_url:
        with _lease(settings, action, wait, on_wait) as check:
            yield check
    else:
        with _file_lock(settings, action, wait, on_wait):
            yield lambda: None


@contextmanager
def _file_lock(settings: Settings, action: str, wait: float, on_wait: Waiting | None) -> Iterator[None]:
    from filelock import FileLock, Timeout

    from rag.store import unusable_home

    try:
        settings.home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(unusable_home(settings.home, exc)) from None
    path = settings.home / "ingest.lock"
    note_path = settings.home / "ingest.lock.json"
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        holder = _read_json(note_path)
        if wait <= 0:
            raise IngestLockedError(_busy(describe(holder), str(path), waited=0)) from None
        if on_wait:
            on_wait(f"waiting for {describe(holder)} to finish writing the index at {settings.home / 'chroma'}")
        t0 = time.monotonic()
        try:
            lock.acquire(timeout=wait, poll_interval=0.2)
        except Timeout:
            raise IngestLockedError(_busy(describe(_read_json(note_path)), str(path),
                                          waited=time.monotonic() - t0)) from None
    except OSError as exc:
        raise StoreError(f"Cannot create the lock file {path} ({exc.strerror}). Make LABQA_HOME writable.") from None
    try:
        try:
            note_path.write_text(json.dumps(holder_note(action)))
        except OSError:
            pass  # the note only improves the waiting message; the lock itself is held
        yield
    finally:
        try:
            note_path.unlink(missing_ok=True)
        except OSError:
            pass
        lock.release()


def _busy(holder: str, where: str, waited: float) -> str:
    after = f" after waiting {waited:.0f} s" if waited >= 0.5 else ""
    return (f"Another writer holds the index{after}: {holder} ({where}). Only one ingest (or index drop) runs at "
            "a time, so papers are never lost between two writers. Run it again when that one is done, or set "
            "LABQA_INGEST_WAIT (seconds) to wait longer.")


def _read_json(path: Any) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


class Lease:
    """A lease record in the Chroma server, renewed by a background thread while held."""

    def __init__(self, collection: Any, settings: Settings, action: str) -> None:
        self.col, self.ttl = collection, settings.ingest_lease_seconds
        self.owner = uuid.uuid4().hex
        self.note = holder_note(action)
        self.lost: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _meta(self) -> dict[str, Any]:
        return {"owner": self.owner, "expires": time.time() + self.ttl, "note": json.dumps(self.note)}

    def current(self) -> dict[str, Any] | None:
        got = self.col.get(ids=[LEASE_ID], include=["metadatas"])
        return got["metadatas"][0] if got["ids"] else None

    def try_take(self) -> dict[str, Any] | None:
        """Take the lease if it is free or expired; None when taken, else the holder's record."""
        held = self.current()
        if held is not None and float(held["expires"]) < time.time():
            self.col.delete(ids=[LEASE_ID], where={"owner": held["owner"]})  # only if still that stale owner
            held = None
        if held is None:
            self.col.add(ids=[LEASE_ID], metadatas=[self._meta()], embeddings=[[0.0]])  # a no-op if taken
            held = self.current()
        if held is not None and held["owner"] == self.owner:
            self._start_renewing()
            return None
        return held

    def _start_renewing(self) -> None:
        self._renewed = time.time()

        def renew() -> None:
            while not self._stop.wait(self.ttl / 4):
                try:
                    held = self.current()
                    if held is None or held["owner"] != self.owner:
                        self.lost = "another writer took the lease over (this process stalled past its expiry)"
                        return
                    self.col.update(ids=[LEASE_ID], metadatas=[self._meta()])
                    self._renewed = time.time()
                except Exception as exc:  # server briefly away: keep trying until the lease would have lapsed
                    if time.time() - self._renewed > self.ttl:
                        self.lost = f"it could not be renewed for {self.ttl:g} s ({type(exc).__name__})"
                        return

        self._thread = threading.Thread(target=renew, name="labqa-lease", daemon=True)
        self._thread.start()

    def release(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        try:
            self.col.delete(ids=[LEASE_ID], where={"owner": self.owner})
        except Exception:
            pass  # unreachable server: the lease lapses on its own


@contextmanager
def _lease(settings: Settings, action: str, wait: float, on_wait: Waiting | None) -> Iterator[Callable[[], None]]:
    from rag import store

    client = store.open_client(settings, create=True)
    try:
        lease = Lease(client.get_or_create_collection(LOCKS, embedding_function=None), settings, action)
        held = lease.try_take()
        t0 = time.monotonic()
        told = False
        while held is not None:
            holder = describe(_note(held))
            left = float(held["expires"]) - time.time()
            if wait <= 0 or time.monotonic() - t0 >= wait:
                raise IngestLockedError(
                    _busy(holder, f"lease in {settings.chroma_url}, expires in {left:.0f} s unless renewed",
                          waited=time.monotonic() - t0))
            if on_wait and not told:
                on_wait(f"waiting for {holder} to finish writing the index at {settings.chroma_url} "
                        f"(its lease expires in {left:.0f} s unless renewed)")
                told = True
            time.sleep(POLL)
            held = lease.try_take()
    except IngestLockedError:
        raise
    except Exception as exc:
        raise store.store_error(exc, settings) from exc

    def check() -> None:
        if lease.lost:
            raise IngestLockedError(f"This ingest lost its lease on {settings.chroma_url}: {lease.lost}. It stopped "
                                    "before writing more; run it again (it resumes where it stopped).")

    try:
        yield check
    finally:
        lease.release()


def _note(held: dict[str, Any]) -> dict[str, Any] | None:
    try:
        return json.loads(held.get("note", ""))
    except ValueError:
        return None


__all__ = ["LOCKS", "Lease", "writer"]
