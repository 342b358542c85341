"""The conversation and the chat filters as JSON for gr.BrowserState (the browser's localStorage), so a
reload or a closed tab comes back to the same conversation. What comes back from the browser is treated
as untrusted input: anything malformed is dropped, never shown raw (rendering escapes it anyway)."""

from __future__ import annotations

from typing import Any

from rag.assistant import MAX_QUESTION_CHARS
from rag.types import Answer, Citation, SourceHit
from ui.chat import ANY, CODE_CHOICES, Exchange

VERSION = 1
KEEP_EXCHANGES = 30  # localStorage holds ~5 MB per site; 30 answers with their cards are well under 1 MB
MAX_TEXT = 50_000


def conversation_to_json(conv: list[Exchange]) -> dict[str, Any]:
    """Finished exchanges only (a half-streamed one is not worth restoring), the newest KEEP_EXCHANGES."""
    done = [ex for ex in conv if ex.answer is not None or ex.error is not None][-KEEP_EXCHANGES:]
    return {"version": VERSION, "exchanges": [
        {"question": ex.question, "error": ex.error, "pinned": ex.pinned,
         "answer": ex.answer.to_dict() if ex.answer is not None else None} for ex in done]}


def _text(v: Any, limit: int = MAX_TEXT) -> str:
    if not isinstance(v, str) or len(v) > limit:
        raise ValueError("not a short text")
    return v


def _answer(d: Any) -> Answer:
    if not isinstance(d, dict):
        raise ValueError("not an object")
    fields = dict(d)
    fields["citations"] = [Citation(**c) for c in fields.get("citations") or []]
    fields["sources"] = [SourceHit(**s) for s in fields.get("sources") or []]
    a = Answer(**fields)
    _text(a.answer), _text(a.answerer, 500), _text(a.filters, 2000)
    for c in a.citations:
        _text(c.title, 2000), _text(c.snippet)
    return a


def conversation_from_json(data: Any) -> list[Exchange]:
    if not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(data.get("exchanges"), list):
        return []
    conv: list[Exchange] = []
    for item in data["exchanges"][-KEEP_EXCHANGES:]:
        try:
            question = _text(item.get("question"), MAX_QUESTION_CHARS * 2)
            error = item.get("error")
            pinned = item.get("pinned")
            answer = _answer(item["answer"]) if item.get("answer") is not None else None
            if error is not None:
                error = _text(error, 5000)
            if pinned is not None:
                pinned = _text(pinned, 500)
            if (answer is None) == (error is None):
                continue
            conv.append(Exchange(question=question, answer=answer, error=error, pinned=pinned))
        except (AttributeError, KeyError, TypeError, ValueError):
            continue  # one damaged entry is skipped, the rest of the conversation comes back
    return conv


FILTER_DEFAULTS: dict[str, Any] = {"year_from": ANY, "year_to": ANY, "authors": [], "categories": [],
                                   "has_code": ANY}


def filters_to_json(year_from: Any, year_to: Any, authors: Any, categories: Any, has_code: Any) -> dict[str, Any]:
    return {"version": VERSION, "year_from": year_from, "year_to": year_to, "authors": authors or [],
            "categories": categories or [], "has_code": has_code}


def filters_from_json(data: Any, years: list[int], authors: list[str], categories: list[str]) -> dict[str, Any]:
    """The saved control values that are still valid choices (the catalog may have changed since)."""
    out = dict(FILTER_DEFAULTS)
    if not isinstance(data, dict) or data.get("version") != VERSION:
        return out
    for key in ("year_from", "year_to"):
        v = data.get(key)
        if v in years or (isinstance(v, str) and v.isdigit() and int(v) in years):
            out[key] = int(v)
    if data.get("has_code") in CODE_CHOICES:
        out["has_code"] = data["has_code"]
    for key, known in (("authors", set(authors)), ("categories", set(categories))):
        v = data.get(key)
        if isinstance(v, list):
            out[key] = [x for x in v if isinstance(x, str) and x in known][:50]
    return out
