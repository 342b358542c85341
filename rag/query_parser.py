"""A deterministic reading of the question: catalog filters (year, author, category, code), what kind of
answer is wanted (topic, list, count, authors, detail, order) and the topic words left over. Works offline;
an LLM is never needed to answer metadata questions exactly."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.catalog import CATEGORY_NAMES, Catalog, fold
from rag.types import Filters

ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4,
            "fifth": 5, "5th": 5, "sixth": 6, "last": -1}
REFERS_BACK = re.compile(
    r"\b(those|these|them|they|it|its|this one|that one|this paper|that paper|the above|either|both|"
    r"the (?:first|second|third|fourth|fifth|sixth|last|1st|2nd|3rd|4th|5th) (?:one|paper|of them|of those))\b",
    re.I)
PAPER_NOUN = re.compile(r"\b(papers?|works?|publications?|articles?|studies|collection|group|lab|team|all)\b", re.I)
ORDINAL_RE = re.compile(r"\bthe (first|second|third|fourth|fifth|sixth|last|1st|2nd|3rd|4th|5th)"
                        r"(?: (?:one|paper|of them|of those|of these))?\b", re.I)
ORDER_ASC = re.compile(r"\b(oldest|earliest|came out (?:first|earlier)|published first|was first|earlier|"
                       r"first published)\b", re.I)
ORDER_DESC = re.compile(r"\b(newest|latest|most recent|came out last|published last|most recently)\b", re.I)
COUNT_RE = re.compile(r"\bhow many (?:[\w.'-]+ ){0,4}?(?:papers|works|publications|articles)\b|"
                      r"\b(?:number|count) of (?:[\w.'-]+ ){0,3}?(?:papers|works|publications)\b", re.I)
AUTHORS_RE = re.compile(r"\bwho (?:wrote|are the authors|authored|is the author|were the authors|(?:is|are) behind)|"
                        r"\b(?:what|which) are the authors\b|\bauthors of (?:the|that|this|it|them|those)\b", re.I)
DETAIL_RE = re.compile(r"\b(tell me more|more about|more details?|elaborate|summari[sz]e|what is it about|"
                       r"explain)\b", re.I)
LIST_RE = re.compile(r"^\s*(list|show|give|which|what) (?:me )?(?:all )?(?:the )?(?:of )?"
                     r"(?:\w+'s )?(papers|works|publications|articles)\b|\bpapers? (by|from|in|with|since|before)\b|"
                     r"^\s*papers\b|\bwhat (?:papers|work) has\b|\bhas \w+(?: \w+)? (?:worked on|written|published)\b|"
                     r"\bwhat has (?-i:[A-Z]\w+(?: [A-Z]\w+)?) (?:worked on|written|published|done)\b", re.I)
CODE_YES = re.compile(r"\b(?:released|releases?|open[- ]sourced?|public(?:ly available)?|available|with|have|has|having"
                      r"|provide[sd]?|share[sd]?)(?: their| the| its)? (?:source )?code\b|\bcode (?:released|available|"
                      r"is available|release|links?)\b|\bgithub\b|\bopen[- ]source\b", re.I)
CODE_NO = re.compile(r"\b(?:without|no|lacking|missing) (?:released |public )?code\b", re.I)
AUTHOR_CUE = re.compile(r"\b(by|authors?|co-?authored?|wrote|write|writes|written|worked|publish(?:ed)?|'s)\b", re.I)
# An unknown person: two capitalised words right after "by", "did", "has", "is", "author(s)", or followed by
# "'s" or a writing verb — not any capitalised pair in a question that quotes a title.
_NAME = r"([A-ZÀ-Þ][a-zß-ÿ]+(?:[A-ZÀ-Þ][a-zß-ÿ]+)?) ([A-ZÀ-Þ][a-zß-ÿ]+(?:[A-ZÀ-Þ][a-zß-ÿ]+)?)"
NAME_BIGRAM = re.compile(
    rf"(?:(?<=\b(?i:by) )|(?<=\b(?i:did) )|(?<=\b(?i:has) )|(?<=\b(?i:have) )|(?<=\b(?i:is) )|"
    rf"(?<=\b(?i:author) )|(?<=\b(?i:authors) ))"
    rf"{_NAME}(?:'s)?(?![\w-])|(?<![\w.-]){_NAME}(?='s\b| (?:wrote|write|writes|co-?authored|authored|published|"
    rf"worked)\b)")
STOP = set("""a an and are as at be been by can could did do does done for from had has have how i in into is it its
me my of on or our papers paper than that the their them there these they this those to was were what when where
which who whom whose why will with would you your any all some show list give tell find about regarding works work
research group group's lab publications publication articles article published publish written wrote author authors
co-author co-authored coauthored many much more collection category categories filed under came out up since
before after between during year years also other rather new one ones please kind sort type there's anything
something has, done worked stand stands called named name mean means working study studies studied deal deals
address addresses papers? exist exists use uses used using rely relies relying anyone anybody someone somebody let
lets get gets got such being doing thing things topic topics concerning related relating relevant cover covers
covered covering focus focuses focusing involve involves involving discuss discusses discussing talk talks
look looks looking know known team members member people person we us you've i'm what's which's does
""".split())
WORD_RE = re.compile(r"[A-Za-z][A-Za-z0-9\-]+")
NAME_WORD = re.compile(r"([^\W\d_]+)(?:'s)?")


@dataclass
class ParsedQuery:
    question: str
    filters: Filters = field(default_factory=Filters)
    intent: str = "topic"  # topic | list | count | authors | detail | order
    order: str | None = None  # "asc" (oldest first) or "desc"
    topic: str = ""  # content words left once the metadata phrases are taken out
    refers_back: bool = False
    ordinal: int | None = None
    unknown_authors: list[str] = field(default_factory=list)  # named people with no paper in the catalog
    alternatives: list[str] = field(default_factory=list)  # topic words on each side of an "or", if any

    @property
    def is_metadata(self) -> bool:
        f = self.filters
        return bool(f.year_from or f.year_to or f.authors or f.categories or f.has_code is not None
                    or self.unknown_authors)


def parse(question: str, catalog: Catalog, listing_year: int) -> ParsedQuery:
    q = ParsedQuery(question=question)
    text = question
    spans: list[tuple[int, int]] = []

    def take(m: re.Match[str]) -> None:
        spans.append(m.span())

    _years(text, q.filters, listing_year, take)
    _categories(text, q.filters, take)
    if CODE_NO.search(text):
        q.filters.has_code = False
        take(CODE_NO.search(text))  # type: ignore[arg-type]
    elif m := CODE_YES.search(text):
        q.filters.has_code = True
        take(m)
    _authors(text, catalog, q, take)

    q.refers_back = bool(REFERS_BACK.search(text))
    rest = _blank(text, spans)  # "2023 or earlier" is a year filter, not an ordering
    if m := ORDINAL_RE.search(rest):
        q.ordinal = ORDINALS[m.group(1).lower()]
        take(m)
    if m := ORDER_DESC.search(rest):
        q.order = "desc"
        take(m)
    elif m := ORDER_ASC.search(rest):
        q.order = "asc"
        take(m)

    if COUNT_RE.search(text):
        q.intent = "count"
    elif AUTHORS_RE.search(text):
        q.intent = "authors"
    elif q.order:
        q.intent = "order"
    elif DETAIL_RE.search(text):
        q.intent = "detail"
    elif q.is_metadata or LIST_RE.search(text):
        q.intent = "list"

    kept = _blank(text, spans)
    q.topic = _topic_words(kept)
    # "which came out earlier?", "who wrote the first?", "any with code?": nothing left to search for, no
    # paper noun and no year, author or category, so the question is about the papers already on the table.
    f = q.filters
    if not q.topic and q.intent != "topic" and not (f.year_from or f.year_to or f.authors or f.categories) \
            and not q.unknown_authors and not PAPER_NOUN.search(text):
        q.refers_back = True
    sides = [t for t in (_topic_words(part) for part in re.split(r"\bor\b", kept, flags=re.I)) if t]
    if len(sides) > 1:
        q.alternatives = sides
    return q


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    return "".join(" " if any(a <= i < b for a, b in spans) else ch for i, ch in enumerate(text))


def _topic_words(text: str) -> str:
    return " ".join(w for w in WORD_RE.findall(text) if w.lower() not in STOP and w.lower() not in ORDINALS)


NUMBER_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "ten": 10}


def _years(text: str, f: Filters, listing_year: int, take) -> None:  # type: ignore[no-untyped-def]
    """Year filters: "in 2023", "from 2023 to 2024", "2023–2024", "2023 or 2024", "since/after/before 2024",
    "2024 or later", "up to 2023", "this year", "last year", "the last two years"."""
    y = r"((?:19|20)\d{2})"

    def span(a: str, b: str) -> tuple[int | None, int | None]:
        lo, hi = sorted((int(a), int(b)))
        return lo, hi

    rules = [
        (rf"\b(?:between|from) {y} (?:and|to|until|through|till) {y}\b", span),
        (rf"\b{y}\s*(?:-|–|—|to|until|through)\s*{y}\b", span),
        (rf"\b{y},? (?:or|and) {y}\b", lambda a, b: span(a, b) if abs(int(a) - int(b)) == 1 else (None, None)),
        (rf"\b(?:since|starting(?: in| from)?|in or after|no earlier than|as of) {y}\b", lambda a: (int(a), None)),
        (rf"\bfrom {y} on(?:wards?)?\b", lambda a: (int(a), None)),
        (rf"\b{y} (?:or|and) (?:later|after|since|newer|onwards?)\b|\b{y} onwards?\b",
         lambda a, b=None: (int(a or b), None)),
        (rf"\b(?:after|later than|newer than) {y}\b", lambda a: (int(a) + 1, None)),
        (rf"\b(?:before|prior to|earlier than|older than) {y}\b", lambda a: (None, int(a) - 1)),
        (rf"\b{y} (?:or|and) (?:earlier|before|older)\b", lambda a: (None, int(a))),
        (rf"\b(?:until|up to|through|till|no later than|in or before|by) {y}\b", lambda a: (None, int(a))),
        (rf"\b{y}\b", lambda a: (int(a), int(a))),
    ]
    for pattern, make in rules:
        for m in re.finditer(pattern, text, re.I):
            lo, hi = make(*[g for g in m.groups() if g is not None])
            if lo is None and hi is None:
                continue
            f.year_from, f.year_to = lo, hi
            take(m)
            return
    if m := re.search(r"\bthis year\b", text, re.I):
        f.year_from = f.year_to = listing_year
        take(m)
    elif m := re.search(r"\blast year\b", text, re.I):
        f.year_from = f.year_to = listing_year - 1
        take(m)
    elif m := re.search(r"\b(?:the )?(?:last|past) (\d|two|three|four|five|six|ten) years\b", text, re.I):
        n = NUMBER_WORDS.get(m.group(1).lower()) or int(m.group(1))
        f.year_from, f.year_to = listing_year - n + 1, None
        take(m)


def _categories(text: str, f: Filters, take) -> None:  # type: ignore[no-untyped-def]
    for m in re.finditer(r"\b(?:arxiv )?cs\.(CV|IR|LG|CL|AI|CR)\b", text, re.I):
        code = "cs." + m.group(1).upper()
        if code not in f.categories:
            f.categories.append(code)
        take(m)
    for second_pass in (False, True):  # "or"/"and" cue a second category once one is found: "IR or vision"
        cue = "in|under|about|of|or|and" if second_pass else "in|under|about|of"
        if second_pass and not f.categories:
            break
        for code, names in CATEGORY_NAMES.items():
            for name in names:
                pat = (rf"\b(?:{cue}) (?:the )?{name}\b|\b{name} (?:papers?|category|area|field|works?)\b|"
                       rf"^\s*{name}\b")
                if name in ("vision", "security", "nlp"):  # too common as topic words: need an explicit cue
                    pat = rf"\b{name} (?:papers?|category)\b"
                if m := re.search(pat, text, re.I):
                    if code not in f.categories:
                        f.categories.append(code)
                    take(m)
                    break
    for m in re.finditer(r"\b(CV|IR|LG|CL|AI|CR) (?=papers?\b|category\b)", text):  # bare codes, upper case
        code = "cs." + m.group(1)
        if code not in f.categories:
            f.categories.append(code)
        take(m)


def _folded_with_map(text: str) -> tuple[str, list[int]]:
    """fold(text) and, for each of its characters, the index of the original character it came from
    (accents and ß change lengths, so spans found in the folded text must be mapped back)."""
    whole = fold(text)
    if text.isascii():  # folding only changed case: positions are the same
        return whole, list(range(len(whole)))
    out: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text):
        f = fold(ch)
        out.append(f)
        where.extend([i] * len(f))
    return "".join(out), where


class _Span:
    """A match-like object for take(): a span of the original text."""

    def __init__(self, start: int, end: int) -> None:
        self._span = (start, end)

    def span(self) -> tuple[int, int]:
        return self._span


def _authors(text: str, catalog: Catalog, q: ParsedQuery, take) -> None:  # type: ignore[no-untyped-def]
    """Full names are looked up word n-gram by n-gram in the catalog's folded-name index (any case or accents);
    partial names ("Gong") and unknown people ("Geoffrey Hinton") need a capital letter and a cue word."""
    folded, where = _folded_with_map(text)
    words = [(m.group(1), m.start(1), m.end(1)) for m in NAME_WORD.finditer(folded)]
    i = 0
    while i < len(words):
        for n in range(min(catalog.max_author_words, len(words) - i), 1, -1):
            key = " ".join(w for w, _, _ in words[i:i + n])
            name = catalog.author_by_folded.get(key)
            if name and name not in q.filters.authors:
                q.filters.authors.append(name)
                end = words[i + n - 1][2]
                end = end + 2 if folded.startswith("'s", end) else end
                take(_Span(where[words[i][1]], where[end - 1] + 1))
                i += n - 1
                break
        i += 1
    if q.filters.authors or not AUTHOR_CUE.search(text):
        return
    for m in NAME_BIGRAM.finditer(text):
        first, last = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        q.unknown_authors.append(f"{first} {last}")
        take(m)
        return
    for m in re.finditer(r"(?<![\w.])([A-ZÀ-Þ][a-zß-ÿ]+)(?:'s)?\b", text):
        if m.start() > 0 and fold(m.group(1)) in catalog.by_name_word:
            q.filters.authors.append(m.group(1))
            take(m)
