"""Getting the index ready for `labqa serve`: build it in the background when the store is empty (the page
shows the progress meanwhile), then warm the Assistant so the first question does not pay for loading."""

from __future__ import annotations

import logging
import sys
import threading
import time
from dataclasses import dataclass, field

from rag.errors import IndexMissingError, LabQAError, StoreError
from rag.settings import Settings

log = logging.getLogger("labqa.ui")


def needs_ingest(settings: Settings) -> bool:
    """True when there is no index for the current settings yet. A store that exists but fails to open is
    not "empty": rebuilding over it could hide the problem, so that error is shown to the user instead."""
    from rag import store

    try:
        client = store.open_client(settings)
    except IndexMissingError:
        return True
    except StoreError:
        return False
    chunk_name, paper_name = store.collection_names(settings)
    try:
        names = {c if isinstance(c, str) else c.name for c in client.list_collections()}
        if paper_name not in names or chunk_name not in names:
            return True
        return client.get_collection(paper_name, embedding_function=None).count() == 0
    except Exception:  # the store is unreadable: leave it alone, the first question reports it
        return False


@dataclass
class IndexBuild:
    """State of the background ingest, read by every page (one per server, not per session)."""

    state: str = "ready"  # "ready" | "building" | "failed"
    done: int = 0
    total: int = 0
    started: float = 0.0
    error: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def ready(self) -> bool:
        return self.state == "ready"

    def progress(self, done: int, total: int) -> None:
        with self._lock:
            self.done, self.total = done, total
        if total:
            print(f"\rlabqa: building the index: {done}/{total} papers indexed", end="", file=sys.stderr,
                  flush=True)

    def start(self, settings: Settings, on_ready=None) -> threading.Thread:  # type: ignore[no-untyped-def]
        self.state, self.started = "building", time.monotonic()
        thread = threading.Thread(target=self._run, args=(settings, on_ready), name="labqa-ingest", daemon=True)
        thread.start()
        return thread

    def _run(self, settings: Settings, on_ready) -> None:  # type: ignore[no-untyped-def]
        from ingest.pipeline import ingest

        try:
            report = ingest(settings, progress=self.progress)
            print(f"\nlabqa: index ready: {report.papers} papers, {report.chunks_added} passages added, "
                  f"{report.seconds:.1f} s", file=sys.stderr, flush=True)
            self.state = "ready"
            if on_ready:
                on_ready()
        except LabQAError as exc:
            self.error, self.state = str(exc), "failed"
            print(f"\nlabqa: error: building the index failed: {exc}", file=sys.stderr, flush=True)
        except Exception as exc:  # keep serving: the page shows the failure instead of a dead server
            log.exception("ingest failed")
            self.error, self.state = f"{type(exc).__name__}: {exc}", "failed"

    def message(self) -> str:
        """What a question gets while the index is not ready."""
        if self.state == "failed":
            return f"Building the index failed: {self.error} Fix the problem and restart `labqa serve`."
        pct = f" ({self.done} of {self.total} papers indexed)" if self.total else ""
        return f"The index is still being built{pct}. Ask again in a few seconds."

    def banner_html(self) -> str:
        if self.state == "ready":
            return ""
        if self.state == "failed":
            import html

            return f'<div class="lq-banner lq-banner-error">{html.escape(self.message())}</div>'
        pct = int(100 * self.done / self.total) if self.total else 0
        label = (f"{self.done} of {self.total} papers indexed" if self.done else
                 "loading the embedding model and reading the sources…")
        secs = time.monotonic() - self.started
        return ('<div class="lq-banner" role="status"><div class="lq-banner-text">'
                f'<b>Building the index of the papers</b> — {label} · {secs:.0f} s</div>'
                f'<div class="lq-progress"><div class="lq-progress-bar" style="width:{pct}%"></div></div></div>')


def warm_in_background(assistant) -> threading.Thread:  # type: ignore[no-untyped-def]
    """Load the index and the embedder now; a failure here is reported by the first question instead."""

    def run() -> None:
        try:
            assistant.warm()
        except Exception as exc:  # noqa: BLE001 - the chat shows the same error, readable, when asked
            log.warning("warming the assistant failed: %s", exc)

    thread = threading.Thread(target=run, name="labqa-warm", daemon=True)
    thread.start()
    return thread
