"""Questions a browser session sends while one of its answers is still streaming wait their turn here.

Gradio runs each submit as its own event, and events of one session may run at the same time: two answers
streaming into one conversation would overwrite each other (and a second Enter used to find an empty box).
So every way of asking (Enter, Ask, an example, retry, "Ask about this paper") only puts a Pending item in
its session's queue; one drain per session at a time answers the items in order. Server-side and keyed by
Gradio's session hash, because gr.State values are copied per event and cannot be shared between two
running events."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

from rag.types import Filters


@dataclass(frozen=True)
class Pending:
    """One question waiting to be answered, with the filters set when it was sent."""

    question: str
    filters: Filters | None = None
    pinned: str | None = None  # paper_id for "Ask about this paper"
    retry: bool = False  # answer the conversation's last question again (replacing its answer)


class SessionQueues:
    """Per-session FIFO of Pending items plus a "someone is draining it" token; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, deque[Pending]] = {}
        self._drainer: dict[str, object] = {}

    def put(self, session: str, item: Pending) -> None:
        with self._lock:
            self._items.setdefault(session, deque()).append(item)

    def waiting(self, session: str) -> list[Pending]:
        with self._lock:
            return list(self._items.get(session, ()))

    def claim(self, session: str) -> object | None:
        """A token if this caller is now the session's only drainer; None if another one is running."""
        with self._lock:
            if session in self._drainer:
                return None
            token = self._drainer[session] = object()
            return token

    def next(self, session: str, token: object) -> Pending | None:
        """The next item, or None, which also gives up the claim: checking for "empty" and releasing in one
        step means an item put just now is never left without a drainer."""
        with self._lock:
            if self._drainer.get(session) is not token:
                return None  # the session was cleared meanwhile
            items = self._items.get(session)
            if items:
                return items.popleft()
            self._items.pop(session, None)
            del self._drainer[session]
            return None

    def release(self, session: str, token: object) -> None:
        """Give up the claim (a drain cancelled or failed half-way); leaves a newer drainer alone."""
        with self._lock:
            if self._drainer.get(session) is token:
                del self._drainer[session]

    def drop(self, session: str) -> None:
        """Forget the session's waiting items and claim ("Clear conversation", tab closed)."""
        with self._lock:
            self._items.pop(session, None)
            self._drainer.pop(session, None)
