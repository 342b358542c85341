"""The one typed API used by the CLI, the UI and eval: Assistant.ask / chat / stream → Answer."""

from __future__ import annotations

import logging
import re
import threading
import time
import unicodedata
import weakref
from collections.abc import Iterator
from functools import cached_property

from rag.answer_offline import Cited, compose
from rag.catalog import Catalog
from rag.citations import check
from rag.conversation import Conversation
from rag.errors import LLMError, QuestionError
from rag.planning import Plan, Planner
from rag.planning import PlanKind as K
from rag.prompts import ABSTAIN_PREFIX
from rag.query_parser import ParsedQuery, parse
from rag.safety import INSTRUCTION, redact_instructions
from rag.settings import Settings
from rag.types import Answer, Citation, Filters, SourceHit, Turn

MAX_QUESTION_CHARS = 2000
OFFLINE = "offline"
WARM_WORDS = 500  # papers up to which warm() embeds the whole vocabulary (≈ 3 s per 30 papers, once per machine)


def clean_question(question: str) -> str:
    """Control characters out, whitespace folded; empty or oversized questions are errors."""
    if not isinstance(question, str):
        raise QuestionError("The question must be text.")
    text = "".join(" " if unicodedata.category(c).startswith("C") else c for c in question)
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        raise QuestionError("The question is empty. Ask something about the group's papers, e.g. "
                            "“What has the group done on recommendation unlearning?”")
    if len(text) > MAX_QUESTION_CHARS:
        raise QuestionError(f"The question is {len(text):,} characters long; the limit is {MAX_QUESTION_CHARS:,}. "
                            "Ask a shorter question.")
    return text


def _mostly_non_latin(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and sum(1 for c in letters if ord(c) > 0x24F) / len(letters) > 0.3


class Assistant:
    """Shared by every session of the UI: loading is guarded by a lock, answering keeps no state of its own
    (the conversation is passed in), so concurrent calls from several threads are safe."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._load_lock = threading.Lock()
        self._follow_lock = threading.Lock()  # one check/refresh at a time; others answer from the current index
        self._checked_at = time.monotonic()

    @cached_property
    def index(self):  # type: ignore[no-untyped-def]
        from rag.embedding import Embedder
        from rag.retrieval import Index

        with self._load_lock:
            if "index" in self.__dict__:  # another thread loaded it while this one waited
                return self.__dict__["index"]
            embedder = Embedder.for_settings(self.settings)
            index = Index(self.settings, embedder)
            embedder.warm()
            self._start_following()
            return index

    def _start_following(self) -> None:
        """A daemon thread that checks the store's version every `follow_seconds` and loads a new one in the
        background (see follow): an idle server is current before its next question arrives, and questions
        never wait for the check. It ends with the Assistant (it holds only a weak reference)."""
        interval = self.settings.follow_seconds
        if interval <= 0:
            return
        ref = weakref.ref(self)

        def run() -> None:
            while True:
                time.sleep(interval)
                me = ref()
                if me is None:
                    return
                try:
                    me.follow(wait=True)
                except Exception as exc:  # noqa: BLE001 - keep following; the next check tries again
                    logging.getLogger(__name__).debug("follow failed: %s", exc)
                del me

        threading.Thread(target=run, daemon=True, name="labqa-follow").start()

    @cached_property
    def planner(self) -> Planner:
        index = self.index
        with self._load_lock:
            return self.__dict__.get("planner") or Planner(index)

    @property
    def catalog(self) -> Catalog:
        """Every committed paper, in source order (the UI's paper browser, eval's title lookup)."""
        return self.index.catalog

    def follow(self, wait: bool = False) -> bool:
        """See papers other processes ingested: compare the store's version with the loaded one (one small
        read); when it moved, build the next index from the change log (only the changed papers) and its
        planner, then swap them in. Questions keep being answered from the current index meanwhile. Called
        by the follower thread (_start_following) with `wait`: check now and refresh in the calling thread;
        without it, at most every `follow_seconds`, refreshing in a new thread. Returns whether a newer index
        was swapped in."""
        interval = self.settings.follow_seconds
        if "index" not in self.__dict__ or (not wait and (interval <= 0
                                                          or time.monotonic() - self._checked_at < interval)):
            return False
        if not self._follow_lock.acquire(blocking=wait):
            return False
        self._checked_at = time.monotonic()
        try:
            index = self.__dict__["index"]
            head = index.store_head()
        except Exception as exc:  # the store is down: the question itself will say so
            self._follow_lock.release()
            logging.getLogger(__name__).debug("version check failed: %s", exc)
            return False
        if head == index.version:
            self._follow_lock.release()
            return False
        if wait:
            return self._refresh(index, head)
        threading.Thread(target=self._refresh, args=(index, head), daemon=True, name="labqa-follow").start()
        return False

    def _refresh(self, index, head) -> bool:  # type: ignore[no-untyped-def]
        """Runs holding _follow_lock (released here)."""
        try:
            new = index.refreshed(head)
            planner = Planner(new)
            if len(new.catalog) <= WARM_WORDS:
                planner.relevance.warm(WARM_WORDS)
            new.search("warm up", mode="dense")  # a reopened store loads its vectors now, not on a question
            with self._load_lock:
                self.__dict__["index"], self.__dict__["planner"] = new, planner
            new.local.save_derived()  # for processes that start later; after the switch, so it delays nothing
            from rag.local_index import release_frozen

            release_frozen()  # the previous version's objects can go now
            return True
        except Exception as exc:  # keep answering from the current index; the next check tries again
            logging.getLogger(__name__).warning("could not load the store's new version: %s", exc)
            return False
        finally:
            self._follow_lock.release()

    def warm(self) -> None:
        """Load the index, retrievers and embedder now instead of on the first question; for a collection of
        up to WARM_WORDS papers also every word vector the relevance judgement may need (once per machine)."""
        self.planner.relevance.warm(WARM_WORDS)

    @cached_property
    def llm(self):  # type: ignore[no-untyped-def]
        if not self.settings.llm_configured:
            return None
        from rag.answer_llm import LLMAnswerer

        return LLMAnswerer(self.settings)

    @property
    def answerer_label(self) -> str:
        return self.llm.label if self.llm else OFFLINE

    def read(self, question: str, planner: Planner | None = None) -> ParsedQuery:
        """The question as a structured query (rag.query_parser), read against the catalog of the planner's
        index version (the current one by default)."""
        planner = planner or self.planner
        return parse(question, planner.catalog, self.settings.listing_year, planner.index.embedder.embed_cached,
                     self.settings.relevance.noise_salience)

    def _alone(self, history: list[Turn], planner: Planner) -> ParsedQuery | None:
        """The conversation's latest question as if asked on its own (its own continuations resolved)."""
        users = [i for i, t in enumerate(history) if t.role == "user"]
        if not users:
            return None
        latest = self.read(clean_question(history[users[-1]].content), planner)
        return Conversation.alone(latest, self._alone(history[:users[-1]], planner) if latest.continues else None)

    def ask(self, question: str, filters: Filters | None = None, history: list[Turn] | None = None,
            mode: str = "hybrid", use_metadata: bool = True, offline: bool = False) -> Answer:
        answer = None
        for item in self.stream(question, filters, history, mode, use_metadata, offline):
            if isinstance(item, Answer):
                answer = item
        assert answer is not None
        return answer

    def chat(self, history: list[Turn], question: str, filters: Filters | None = None) -> Answer:
        return self.ask(question, filters=filters, history=history)

    def stream(self, question: str, filters: Filters | None = None, history: list[Turn] | None = None,
               mode: str = "hybrid", use_metadata: bool = True, offline: bool = False) -> Iterator[str | Answer]:
        """Yields pieces of the answer text as they are produced, then the final Answer."""
        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        text_q = clean_question(question)
        history = history or []
        planner = self.planner  # one version for the whole answer, even if a newer one is swapped in meanwhile
        parsed = self.read(text_q, planner)
        if Conversation.builds_on_previous(parsed):  # "what about 2024?", "anything else?", "any newer ones?"
            parsed = Conversation.resolve(parsed, self._alone(history, planner))
        timings["parse_ms"] = (time.perf_counter() - t0) * 1000
        t = time.perf_counter()
        plan = planner.plan(parsed, history, filters, mode=mode, use_metadata=use_metadata)
        timings["retrieve_ms"] = (time.perf_counter() - t) * 1000
        notes: list[str] = []
        if plan.note:
            notes.append(plan.note)
        if _mostly_non_latin(text_q):
            notes.append("LabQA's embedding model reads English; questions in other languages may find less.")

        t = time.perf_counter()
        answerer = OFFLINE
        text = None
        if self.llm and not offline and plan.kind in (K.TOPIC, K.DETAIL, K.COMPARE) and plan.papers:
            try:
                parts: list[str] = []
                for delta in self.llm.stream(plan, history, text_q, notes):
                    if not parts:
                        timings["first_text_ms"] = (time.perf_counter() - t0) * 1000
                    parts.append(delta)
                    yield delta
                text = "".join(parts)
                answerer = self.llm.label
            except LLMError as exc:
                if not self.settings.llm_fallback:
                    raise
                notes.append(f"{exc} Showing the offline answer instead.")
                answerer = f"{OFFLINE} (fallback: {self.llm.label} failed)"
                yield f"\n\n⚠ {exc} Showing the offline answer instead.\n\n"
        elif self.llm and not offline:
            answerer = f"{OFFLINE} (exact catalog answer; the LLM is used for topic questions)" \
                if plan.kind != K.ABSTAIN else f"{OFFLINE} (nothing relevant retrieved; the LLM was not called)"
        if text is None:
            text, cited = compose(plan, planner.stats, planner.relevance.sentence_scores)
            timings.setdefault("first_text_ms", (time.perf_counter() - t0) * 1000)
            yield from re.split(r"(?<=\n)", text)
            citations = self._citations(cited)
        else:
            text, citations = self._llm_citations(text, plan, notes)
        timings["answer_ms"] = (time.perf_counter() - t) * 1000
        timings["total_ms"] = (time.perf_counter() - t0) * 1000
        # Nothing cited means the collection has no answer: no paper on the topic, none matching the filters,
        # an unknown author, an impossible year, no earlier answer to refer to.
        abstained = not plan.papers or text.startswith(ABSTAIN_PREFIX)
        yield Answer(
            question=text_q, answer=text, answerer=answerer, abstained=abstained,
            citations=[] if abstained else citations,
            sources=[SourceHit(e.paper.paper_id, e.paper.title, round(e.score, 6)) for e in plan.ranked[:20]],
            timings_ms={k: round(v, 2) for k, v in timings.items()},
            filters=plan.filters.describe(), notes=notes,
        )

    def _citations(self, cited: list[Cited]) -> list[Citation]:
        return [_citation(i, c.evidence.paper, c.snippet, c.highlights, _page_of(c.snippet, c.evidence.passages))
                for i, c in enumerate(cited, start=1)]

    def _llm_citations(self, text: str, plan: Plan, notes: list[str]) -> tuple[str, list[Citation]]:
        clean, order, invalid = check(text, len(plan.papers))
        if invalid:
            notes.append(f"Removed citation number(s) {', '.join(map(str, invalid))}: the model cited sources "
                         f"it was not given (it had {len(plan.papers)}).")
        out = []
        for n in order:
            ev = plan.papers[n - 1]
            out.append(_citation(n, ev.paper, ev.passages[0].text if ev.passages else ev.paper.abstract[:600], [],
                                 ev.passages[0].page if ev.passages else None))
        return clean, out


def _citation(n: int, paper, snippet: str, highlights: list[str], page: int | None = None) -> Citation:  # type: ignore[no-untyped-def]
    return Citation(n=n, paper_id=paper.paper_id, title=paper.title, authors=paper.authors,
                    authors_truncated=paper.authors_truncated, year=paper.year, date=paper.date,
                    category=paper.category, url=paper.url, has_code=paper.has_code,
                    snippet=redact_instructions(snippet),  # shown word for word: no planted orders in it
                    highlights=[h for h in highlights if not INSTRUCTION.search(h)], page=page, doi=paper.doi,
                    arxiv_id=paper.arxiv_id)


def _page_of(snippet: str, passages) -> int | None:  # type: ignore[no-untyped-def]
    """The PDF page of the passage the snippet was taken from (None: from an abstract)."""
    probe = snippet.strip()[:120]
    for p in passages:
        if probe and (probe in p.text or p.text in snippet):
            return p.page
    return None
