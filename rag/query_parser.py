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
                     r"\bwhat has [A-Z]\w+(?: [A-Z]\w+)? (?:worked on|written|published|done)\b", re.I)
CODE_YES = re.compile(r"\b(?:released|releases?|open[- ]sourced?|public(?:ly available)?|available|with|have|has|having"
                      r"|provide[sd]?|share[sd]?)(?: their| the| its)? (?:source )?code\b|\bcode (?:released|available|"
                      r"is available|release|links?)\b|\bgithub\b|\bopen[- ]source\b", re.I)
CODE_NO = re.compile(r"\b(?:without|no|lacking|missing) (?:released |public )?code\b", re.I)
AUTHOR_CUE = re.compile(r"\b(by|authors?|co-?authored?|wrote|written|worked|publish(?:ed)?|'s)\b", re.I)
NAME_BIGRAM = re.compile(r"(?<![\w.])([A-ZÀ-Þ][a-zß-ÿ]+(?:[A-ZÀ-Þ][a-zß-ÿ]+)?) ([A-ZÀ-Þ][a-zß-ÿ]+)(?:'s)?(?![\w])")
STOP = set("""a an and are as at be been by can could did do does done for from had has have how i in into is it its
me my of on or our papers paper than that the their them there these they this those to was were what when where
which who whom whose why will with would you your any all some show list give tell find about regarding works work
research group group's lab publications publication articles article published publish written wrote author authors
co-author co-authored coauthored many much more collection category categories filed under came out up since
before after between during year years also other rather new one ones please kind sort type there's anything
something has, done worked stand stands called named name mean means working study studies studied deal deals address addresses papers? exist exists
""".split())
WORD_RE = re.compile(r"[A-Za-z][A-Za-z0-9\-]+")


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
    if m := ORDINAL_RE.search(text):
        q.ordinal = ORDINALS[m.group(1).lower()]
        take(m)
    if m := ORDER_DESC.search(text):
        q.order = "desc"
        take(m)
    elif m := ORDER_ASC.search(text):
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

    kept = "".join(ch if not any(a <= i < b for a, b in spans) else " " for i, ch in enumerate(text))
    words = [w for w in WORD_RE.findall(kept) if w.lower() not in STOP and w.lower() not in ORDINALS]
    q.topic = " ".join(words)
    return q


def _years(text: str, f: Filters, listing_year: int, take) -> None:  # type: ignore[no-untyped-def]
    y = r"((?:19|20)\d{2})"
    rules = [
        (rf"\b(?:between|from) {y} (?:and|to|until|through) {y}\b", lambda a, b: (int(a), int(b))),
        (rf"\b{y}\s*(?:-|–|to)\s*{y}\b", lambda a, b: (int(a), int(b))),
        (rf"\b(?:since|starting(?: in)?|in or after|from {y} on(?:wards?)?|no earlier than) {y}\b", None),
        (rf"\bafter {y}\b", lambda a: (int(a) + 1, None)),
        (rf"\bbefore {y}\b", lambda a: (None, int(a) - 1)),
        (rf"\b(?:until|up to|through|by|no later than|in or before) {y}\b", lambda a: (None, int(a))),
        (rf"\b{y}\b", lambda a: (int(a), int(a))),
    ]
    rules[2] = (rf"\b(?:since|starting(?: in)?|in or after|no earlier than) {y}\b", lambda a: (int(a), None))
    for pattern, make in rules:
        m = re.search(pattern, text, re.I)
        if m:
            lo, hi = make(*m.groups())
            f.year_from, f.year_to = lo, hi
            take(m)
            return
    if m := re.search(r"\bthis year\b", text, re.I):
        f.year_from = f.year_to = listing_year
        take(m)
    elif m := re.search(r"\blast year\b", text, re.I):
        f.year_from = f.year_to = listing_year - 1
        take(m)


def _categories(text: str, f: Filters, take) -> None:  # type: ignore[no-untyped-def]
    for m in re.finditer(r"\b(?:arxiv )?cs\.(CV|IR|LG|CL|AI|CR)\b", text, re.I):
        code = "cs." + m.group(1).upper()
        if code not in f.categories:
            f.categories.append(code)
        take(m)
    for code, names in CATEGORY_NAMES.items():
        for name in names:
            pat = (rf"\b(?:in|under|about|of) (?:the )?{name}\b|\b{name} (?:papers?|category|area|field|works?)\b|"
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


def _authors(text: str, catalog: Catalog, q: ParsedQuery, take) -> None:  # type: ignore[no-untyped-def]
    folded = fold(text)
    taken: set[str] = set()
    for name in sorted(catalog.authors, key=len, reverse=True):  # full names, any case or accents
        key = fold(name)
        if key in taken:
            continue
        m = re.search(rf"(?<!\w){re.escape(key)}(?:'s)?(?!\w)", folded)
        if m and not any(key in t for t in taken):
            q.filters.authors.append(name)
            taken.add(key)
            take(m)
    if q.filters.authors:
        return
    # Partial names ("Gong") and unknown people ("Geoffrey Hinton") need a capital letter and a cue.
    parts = {w for a in catalog.authors for w in fold(a).split()}
    if not AUTHOR_CUE.search(text):
        return
    for m in NAME_BIGRAM.finditer(text):
        if m.start() == 0 or text[m.start() - 1] in ".?!":
            continue
        full = f"{m.group(1)} {m.group(2)}"
        q.unknown_authors.append(full)
        take(m)
        return
    for m in re.finditer(r"(?<![\w.])([A-ZÀ-Þ][a-zß-ÿ]+)(?:'s)?\b", text):
        if m.start() > 0 and fold(m.group(1)) in parts:
            q.filters.authors.append(m.group(1))
            take(m)
