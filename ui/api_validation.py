"""Checks on what a client sends to the `ask` endpoint, before any of it reaches the Assistant: types and
sizes of the question, the history and the filters. Each problem is an APIInputError that names the field
(`history[3].content`, `filters.year_from`), so a script learns what to fix instead of "TypeError"."""

from __future__ import annotations

from typing import Any

from rag.assistant import MAX_QUESTION_CHARS
from rag.catalog import Catalog
from rag.errors import QuestionError
from rag.types import Filters, Turn

MAX_HISTORY_TURNS = 50  # a follow-up reads the last answers only; 50 turns is far more than any chat needs
MAX_TURN_CHARS = 20_000  # an LLM answer is a few thousand characters; this leaves room without allowing 50 MB
MAX_FILTER_ITEMS = 50  # authors or categories in one filter
MAX_FILTER_TEXT = 200  # one author name or category code
YEARS = range(1900, 2100)
FILTER_KEYS = ("year_from", "year_to", "authors", "categories", "has_code", "paper_ids")


class APIInputError(QuestionError):
    """A request to the `ask` endpoint has a field of the wrong type or size."""


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def question(value: Any) -> str:
    if not isinstance(value, str):
        raise APIInputError(f"`question` must be text, not {_kind(value)}.")
    if len(value) > MAX_QUESTION_CHARS * 2:  # clean_question counts after folding whitespace; refuse huge input now
        raise APIInputError(f"`question` is {len(value):,} characters long; the limit is {MAX_QUESTION_CHARS:,}.")
    return value


def history(value: Any) -> list[Turn]:
    """OpenAI-style [{"role": "user"|"assistant", "content": "..."}] → Turns."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise APIInputError(f'`history` must be a list of {{"role", "content"}} objects, not {_kind(value)}.')
    if len(value) > MAX_HISTORY_TURNS:
        raise APIInputError(f"`history` has {len(value)} turns; the limit is {MAX_HISTORY_TURNS} "
                            "(send the most recent ones: follow-ups refer to the last answers).")
    turns = []
    for i, m in enumerate(value):
        where = f"history[{i}]"
        if not isinstance(m, dict):
            raise APIInputError(f'`{where}` must be an object {{"role": "user" or "assistant", "content": "text"}}, '
                                f"not {_kind(m)}.")
        extra = set(m) - {"role", "content"}
        if extra:
            raise APIInputError(f"`{where}` has unknown key(s) {', '.join(sorted(map(str, extra)))}; "
                                "a turn has only role and content.")
        role, content = m.get("role"), m.get("content")
        if role not in ("user", "assistant"):
            raise APIInputError(f'`{where}.role` must be "user" or "assistant", not {role!r}.'[:300])
        if not isinstance(content, str):
            raise APIInputError(f"`{where}.content` must be text, not {_kind(content)}.")
        if len(content) > MAX_TURN_CHARS:
            raise APIInputError(f"`{where}.content` is {len(content):,} characters long; the limit is "
                                f"{MAX_TURN_CHARS:,} per turn.")
        turns.append(Turn(role, content))
    return turns


def _year(name: str, v: Any) -> int | None:
    if v is None:
        return None
    if isinstance(v, str) and v.strip().isdigit():
        v = int(v.strip())
    if isinstance(v, bool) or not isinstance(v, int):
        raise APIInputError(f"`filters.{name}` must be a year such as 2023, not {v!r}."[:300])
    if v not in YEARS:
        raise APIInputError(f"`filters.{name}` is {v}; years from {YEARS.start} to {YEARS.stop - 1} are accepted.")
    return v


def _texts(name: str, v: Any) -> list[str]:
    if v is None:
        return []
    items = [v] if isinstance(v, str) else v
    if not isinstance(items, list):
        raise APIInputError(f"`filters.{name}` must be a list of text, not {_kind(v)}.")
    if len(items) > MAX_FILTER_ITEMS:
        raise APIInputError(f"`filters.{name}` has {len(items)} items; the limit is {MAX_FILTER_ITEMS}.")
    out = []
    for i, x in enumerate(items):
        if not isinstance(x, str):
            raise APIInputError(f"`filters.{name}[{i}]` must be text, not {_kind(x)}.")
        if len(x) > MAX_FILTER_TEXT:
            raise APIInputError(f"`filters.{name}[{i}]` is {len(x):,} characters long; the limit is "
                                f"{MAX_FILTER_TEXT}.")
        if x.strip():
            out.append(x.strip())
    return out


def filters(value: Any, catalog: Catalog | None = None) -> Filters | None:
    """{"year_from", "year_to", "authors", "categories", "has_code", "paper_ids"} (all optional) → Filters.
    `paper_ids` asks about those papers only (what the UI's "Ask about this paper" sends); with a catalog,
    unknown ids are an error rather than an empty answer."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise APIInputError(f"`filters` must be an object with keys {', '.join(FILTER_KEYS)}, not {_kind(value)}.")
    unknown = set(value) - set(FILTER_KEYS)
    if unknown:
        raise APIInputError(f"Unknown filter(s) {', '.join(sorted(map(str, unknown)))}; known: "
                            f"{', '.join(FILTER_KEYS)}."[:400])
    y0, y1 = _year("year_from", value.get("year_from")), _year("year_to", value.get("year_to"))
    if y0 and y1 and y0 > y1:  # "from 2025 to 2023" means the same range
        y0, y1 = y1, y0
    code = value.get("has_code")
    if code is not None and not isinstance(code, bool):
        raise APIInputError(f"`filters.has_code` must be true, false or null, not {code!r}."[:300])
    ids = _texts("paper_ids", value.get("paper_ids"))
    if catalog is not None:
        missing = [x for x in ids if catalog.get(x) is None]
        if missing:
            raise APIInputError(f"`filters.paper_ids`: no paper with id {missing[0]!r} (`labqa papers --json` "
                                "lists the ids).")
    if ids and (y0 or y1 or value.get("authors") or value.get("categories") or code is not None):
        raise APIInputError("`filters.paper_ids` asks about those papers only; it cannot be combined with other "
                            "filters (a year or author filter could exclude the very paper asked about).")
    f = Filters(year_from=y0, year_to=y1, authors=_texts("authors", value.get("authors")),
                categories=_texts("categories", value.get("categories")), has_code=code, paper_ids=ids)
    return None if f.is_empty() else f
