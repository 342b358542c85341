"""The catalog filters a question states, read from its words: years (sets, ranges, bounds, relative years;
impossible years reported), categories (arXiv codes anywhere, names and aliases only where they name papers),
authors (linked against the catalog, with their position), released code (only with a release cue), each
possibly negated ("not by …", "not in CV", "without code"). rag.query_parser reads the rest of the question."""

from __future__ import annotations

import calendar
import re
from functools import lru_cache
from typing import TYPE_CHECKING

from rag.catalog import Catalog, fold
from rag.lexicon import CATEGORY_ALIASES, CATEGORY_NOUNS, ENGLISH_STOP_WORDS, PAPER_NOUNS, QUESTION_WORDS
from rag.linking import Linker, english_words
from rag.types import MONTH_NAMES, Filters

if TYPE_CHECKING:
    from rag.query_parser import ParsedQuery

YEAR_MIN, YEAR_MAX = 1900, 2100  # a year outside this is a mistake to report, never "no filter"


def read_filters(text: str, q: ParsedQuery, listing_year: int, catalog: Catalog, linker: Linker, sp: Spans) -> None:
    """The catalog filters a text states: years, categories, authors, released code."""
    _months(text, q, sp)
    _undated(text, q, sp)
    _years(text, q, listing_year, sp)
    _categories(text, q.filters, sp)
    _authors(text, catalog, linker, q, sp)
    _code(text, q, sp)
PAPER_NOUNS_RE = "|".join(PAPER_NOUNS)
CATEGORY_NOUNS_RE = "|".join(CATEGORY_NOUNS)
NEGATION = re.compile(r"\b(?:not|no|non|without|except|excluding|exclude|never|lacking|lack|minus|outside|"
                      r"other than|apart from|aside from|rather than|instead of)\b|n't\b|\bnon-", re.I)
CLAUSE_END = re.compile(r"[,;:.?!]|\b(?:and|but|or|which|that|who|where|while|whereas)\b", re.I)
AUTHOR_POSITION = re.compile(
    r"\b(first|second|third|1st|2nd|3rd|lead|leading|main|primary|senior|last)[ -](?:authors?|authored|named|listed)\b"
    r"|\b(?:as|is|was) (?:the )?(first|second|third|lead|last)\b(?! (?:paper|one|work))"
    r"|\bauthor (?:number |no\.? ?|#)?(one|two|three|1|2|3)\b"
    r"|\b(last)[ -](?:listed|named|known)[ -]authors?\b|\b(last) (?:of the|among the) (?:listed |named |known )?authors\b",
    re.I)
POSITIONS = {"last": -1, "first": 1, "1st": 1, "lead": 1, "leading": 1, "main": 1, "primary": 1, "one": 1, "1": 1,
             "second": 2, "2nd": 2, "two": 2, "2": 2, "third": 3, "3rd": 3, "three": 3, "3": 3}
CODE_WORD = re.compile(r"\b(?:source code|code(?:base|s)?|github|gitlab|repo(?:sitory|sitories|s)?|"
                       r"implementations?|open[- ]?sourced?)\b", re.I)
RELATIVE_YEARS = re.compile(r"\b(?:in |from |during )?(?:the )?(this|last|past|previous|next|coming) "
                            r"(?:(\d|two|three|four|five|six|seven|eight|nine|ten|few|couple of) )?years?\b", re.I)
NUMBER_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
                "few": 3, "couple of": 2}
PERSON_CUE = re.compile(r"\b(?:by|author(?:ed|s)?|co-?authored?|wrote|written|writes?|publish(?:ed|es)?|worked|"
                        r"papers? of|work of|has \w+ \w+ done)\b|'s\b", re.I)


@lru_cache(maxsize=1)
def stop_words() -> frozenset[str]:
    # scikit-learn's published English stop list, plus the question-shaping words of rag.lexicon.
    return frozenset(ENGLISH_STOP_WORDS) | QUESTION_WORDS | {"don", "doesn", "didn", "isn", "aren", "wasn", "weren",
                                                              "haven", "hasn", "won", "ve", "ll", "re", "s", "t", "non"}


class Spans:
    """The parts of the question already read as filters, names or cues (so they are not topic words)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.spans: list[tuple[int, int]] = []

    def take(self, start: int, end: int) -> None:
        self.spans.append((start, end))

    def taken(self, start: int, end: int) -> bool:
        return any(a < end and start < b for a, b in self.spans)

    def rest(self) -> str:
        return "".join(" " if any(a <= i < b for a, b in self.spans) else ch for i, ch in enumerate(self.text))


def is_negated(text: str, start: int, window: int = 4) -> bool:
    """A negation cue within `window` words before position `start`, in the same clause."""
    before = text[:start]
    cut = max((m.end() for m in CLAUSE_END.finditer(before)), default=0)
    clause = before[cut:]
    cues = list(NEGATION.finditer(clause))
    if not cues:
        return False
    between = clause[cues[-1].end():]
    return len(re.findall(r"\w+", between)) <= window


# ---- years -------------------------------------------------------------------------------------------------
_Y = r"(\d{4})"
_YEAR_RULES: list[tuple[str, str]] = [
    # "between 2023 and 2025" and "from 2023 to 2025" are ranges; "from 2023 and 2025" names two years (a set)
    (rf"\bbetween {_Y} (?:and|to|until|through|till|-) {_Y}\b|\bfrom {_Y} (?:to|until|through|till|-) {_Y}\b", "range"),
    (rf"\b{_Y}\s*(?:-|–|—|to|until|through|till)\s*{_Y}\b", "range"),
    (r"\b(?:the )?(\d{3}0)['’]?s\b", "decade"),  # "the 2020s"
    (rf"\b(?:since|starting(?: in| from)?|in or after|no earlier than|as of|from) {_Y}(?: on(?:wards?)?| and (?:later|after))\b"
     rf"|\b{_Y} (?:or|and) (?:later|after|since|newer|onwards?|beyond)\b|\b{_Y} onwards?\b|\b(?:since|starting(?: in| from)?|"
     rf"in or after|no earlier than|as of) {_Y}\b", "from"),
    (rf"\b(?:after|later than|newer than|post) {_Y}\b", "after"),
    (rf"\b(?:before|prior to|earlier than|older than|pre) {_Y}\b", "before"),
    (rf"\b{_Y} (?:or|and) (?:earlier|before|older|prior)\b|\b(?:until|up to|through|till|no later than|in or before|"
     rf"by|up until) {_Y}\b", "to"),
]
_YEAR_CONTEXT = re.compile(r"\b(?:in|from|since|before|after|of|year|years|published|between|and|or|to|until|dated|"
                           r"during|circa|around|nor)\s*$", re.I)


_MONTH = {m.lower(): i for i, m in enumerate(MONTH_NAMES, start=1)} | {
    m.lower(): i for i, m in enumerate(calendar.month_abbr) if m} | {"sept": 9}
_MONTH_RE = "|".join(sorted(_MONTH, key=len, reverse=True))
# "published in December", "from March 2024", "the December 2024 papers": a month names a date only next to a date
# cue or a year ("may" and "march" are also verbs)
MONTH_PHRASE = re.compile(rf"\b(?:(?:in|from|during|of|published in|released in|came out in|appeared in)\s+(?:the month of\s+)?"
                          rf"(?P<a>{_MONTH_RE})\.?(?:\s+(?P<ya>\d{{4}}))?|(?P<b>{_MONTH_RE})\.?\s+(?P<yb>\d{{4}}))\b", re.I)


# "undated entries", "papers without a date", "the ones with no year", "where the year is missing"
UNDATED = re.compile(r"\bundated\b|\b(?:without|with no|no|missing|lacking)\s+(?:a\s+|any\s+)?(?:publication\s+)?"
                     r"(?:years?|dates?)\b|\b(?:the\s+)?(?:year|date)\s+(?:is\s+)?(?:missing|unknown|not given)\b",
                     re.I)


def _undated(text: str, q: ParsedQuery, sp: Spans) -> None:
    """Papers whose sources give no year."""
    for m in UNDATED.finditer(text):
        q.filters.undated = True
        sp.take(*m.span())


def _months(text: str, q: ParsedQuery, sp: Spans) -> None:
    """Months of publication ("in December", "March 2024"); the year beside one is read as a year too."""
    for m in MONTH_PHRASE.finditer(text):
        name = (m.group("a") or m.group("b")).lower()
        if name == "may" and not (m.group("ya") or m.group("yb")) and m.group("a") and m.group("a")[0].islower():
            continue  # "… in may …" without a year: too likely the verb
        month = _MONTH[name]
        if month not in q.filters.months:
            q.filters.months.append(month)
        end = m.end("a") if m.group("a") else m.end("b")
        sp.take(m.start(), end)


def _years(text: str, q: ParsedQuery, listing_year: int, sp: Spans) -> None:
    """Ranges ("2023–2024", "between 2023 and 2025"), bounds ("since 2024", "before 2023", "2024 or later"),
    sets ("2022 or 2024", "2022, 2023 and 2025"), single years, and relative ones ("this year", "the last two
    years"). A negated year ("not from 2025") is excluded instead."""
    f = q.filters
    for pattern, kind in _YEAR_RULES:
        for m in re.finditer(pattern, text, re.I):
            if sp.taken(*m.span()):
                continue
            ys = [int(g) for g in m.groups() if g]
            if any(not (YEAR_MIN <= y <= YEAR_MAX) for y in ys):
                q.bad_years += [y for y in ys if not (YEAR_MIN <= y <= YEAR_MAX)]
            elif kind == "range":
                f.year_from, f.year_to = min(ys), max(ys)
            elif kind == "decade":
                f.year_from, f.year_to = ys[0], ys[0] + 9
            elif kind == "from":
                f.year_from = ys[0]
            elif kind == "after":
                f.year_from = ys[0] + 1
            elif kind == "before":
                f.year_to = ys[0] - 1
            elif kind == "to":
                f.year_to = ys[0]
            sp.take(*m.span())
    for m in re.finditer(r"(?<![\w.,])(\d{4})(?![\w%.,]\d|\w)", text):
        if sp.taken(*m.span()):
            continue
        y = int(m.group(1))
        cue = bool(_YEAR_CONTEXT.search(text[:m.start()])) or (text[:m.start()].strip() == "")
        if not (YEAR_MIN <= y <= YEAR_MAX):
            if cue and 1000 <= y <= 2999:
                q.bad_years.append(y)
                sp.take(*m.span())
            continue
        if is_negated(text, m.start()):
            f.exclude_years.append(y)
        elif y not in f.years:
            f.years.append(y)
        sp.take(*m.span())
    if m := RELATIVE_YEARS.search(text):
        _relative_years(m, f, listing_year)
        sp.take(*m.span())
    # one year, or a run of consecutive years ("2023 or 2024"), is a range; other sets stay sets
    ys = sorted(set(f.years))
    if ys and not (f.year_from or f.year_to) and ys == list(range(ys[0], ys[-1] + 1)):
        f.year_from, f.year_to, f.years = ys[0], ys[-1], []


def _relative_years(m: re.Match[str], f: Filters, listing_year: int) -> None:
    """Relative years: 'this year', 'last year', 'the last two years', 'the past few years'."""
    which, n = m.group(1).lower(), m.group(2)
    count = NUMBER_WORDS.get((n or "").lower()) or (int(n) if n and n.isdigit() else None)
    if which == "this" and not count:
        f.years.append(listing_year)
    elif which in ("last", "past", "previous") and count:
        f.year_from = max(f.year_from or 0, listing_year - count + 1) or None
    elif which in ("last", "previous") and not count:
        f.years.append(listing_year - 1)
    elif which == "past" and not count:
        f.year_from = listing_year - 1


# ---- categories ------------------------------------------------------------------------------------------
def _alias_pattern() -> list[tuple[str, re.Pattern[str]]]:
    out = []
    for code, names in CATEGORY_ALIASES.items():
        for name in names:
            # any case: a two-letter code in upper case is a category anywhere, in lower case ("ir papers") only
            # where it names papers (_used_as_category)
            alias = re.escape(name).replace(r"\ ", r"\s+")
            out.append((code, re.compile(rf"(?<!\w){alias}(?![\w-])", re.I)))
    return out


_ALIASES = _alias_pattern()
_AFTER_NOUN = re.compile(rf"(?:{PAPER_NOUNS_RE})\s+(?:(?:that are |which are |are |were |is )?(?:not |n't )?(?:in|under|from|on|about|"
                         rf"within|of|for|are|is|were|filed under|classified (?:as|under)|categori[sz]ed (?:as|under))|"
                         rf"(?:that|which) (?:are|were|is) not|(?:that|which) (?:aren't|weren't|isn't))\s+(?:the\s+)?$", re.I)
_BEFORE_NOUN = re.compile(rf"^(?:\s*(?:or|and|/|,)\s*[\w.-]+(?:\s+[\w.-]+){{0,2}}?)*\s*(?:{PAPER_NOUNS_RE}|{CATEGORY_NOUNS_RE})\b",
                          re.I)
_CAT_CUE_BEFORE = re.compile(rf"\b(?:{CATEGORY_NOUNS_RE})\s+(?:of\s+|is\s+|=\s*|:\s*)?$|\bcs\.$|\bnon-?\s*$", re.I)
_NP_END = re.compile(rf"^\s*(?:(?:{CATEGORY_NOUNS_RE})\b\s*)?(?:$|[?.!,;()]|\b(?:and|or|with|from|since|before|after|by|in|"
                     rf"that|which|published|released|having|have|has|without|not|are|were|is|on|about)\b)", re.I)


def _categories(text: str, f: Filters, sp: Spans) -> None:
    """arXiv codes ("cs.CL") anywhere; a category's name or alias only where it names papers: before a paper
    noun ("NLP papers", "IR or CV papers"), after "papers in/on/under" ending the phrase ("papers on computer
    vision"), after a category word ("the category machine learning"), or as the whole question. "fairness in
    machine learning" is a topic."""
    read: list[tuple[int, int]] = []  # the category phrases read so far
    for m in re.finditer(r"\b(?:arxiv\s+)?cs\.(cv|ir|lg|cl|ai|cr)\b", text, re.I):
        _add_category(text, f, "cs." + m.group(1).upper(), m.start(), m.end(), sp)
        read.append(m.span())
    whole = text.strip(" ?.!").lower()
    for m, code in _alias_matches(text, sp):
        if not sp.taken(m.start(), m.end()) and _used_as_category(text, m, whole):
            _add_category(text, f, code, m.start(), m.end(), sp)
            read.append(m.span())
    # "IR or computer vision papers", "crypto/security (cs.CR)": a name joined by or/and/slash/comma or a
    # bracket to a category already read is one too (repeated: each one read can bring its neighbour)
    while chained := [(m, code) for m, code in _alias_matches(text, sp) if _chained(text, m, read)]:
        for m, code in chained:
            _add_category(text, f, code, m.start(), m.end(), sp)
            read.append(m.span())


def _alias_matches(text: str, sp: Spans) -> list[tuple[re.Match[str], str]]:
    return [(m, code) for code, pat in _ALIASES for m in pat.finditer(text) if not sp.taken(m.start(), m.end())]


def _used_as_category(text: str, m: re.Match[str], whole: str) -> bool:
    before, after = text[:m.start()], text[m.end():]
    if before.endswith("-") and not before.lower().endswith("non-"):
        return False  # "vision-language" is a topic word
    if len(m.group()) == 2 and m.group().isupper() and m.group().lower() not in ("ai", "ml"):
        return True  # "IR", "CV", "CL", "CR", "LG" written as codes name the category wherever they stand
    return (
        bool(_BEFORE_NOUN.match(after))
        or (bool(_AFTER_NOUN.search(before)) and bool(_NP_END.match(after)))
        or bool(_CAT_CUE_BEFORE.search(before))
        or (bool(_EXCEPT_BEFORE.search(before)) and bool(_NP_END.match(after)))  # "everything except machine learning"
        or bool(re.match(rf"^\s*(?:{CATEGORY_NOUNS_RE})\b", after, re.I))
        or whole == m.group().lower()
    )


_EXCEPT_BEFORE = re.compile(r"\b(?:except|excluding|other than|apart from|besides|but not|outside(?: of)?)\s+(?:the\s+)?$",
                            re.I)
_JOIN_BEFORE = re.compile(r"(?:\bor|\band|/|,|\()\s*$", re.I)
_JOIN_AFTER = re.compile(r"\s*(?:or\b|and\b|/|,|\()", re.I)


def _chained(text: str, m: re.Match[str], read: list[tuple[int, int]]) -> bool:
    """A category name joined to a category phrase already read, on either side."""
    if text[:m.start()].endswith("-"):
        return False
    joined_before = _JOIN_BEFORE.search(text[:m.start()]) and any(b <= m.start() and m.start() - b < 6 for _, b in read)
    joined_after = _JOIN_AFTER.match(text, m.end()) and any(a >= m.end() and a - m.end() < 6 for a, _ in read)
    return bool(joined_before or joined_after)


def _add_category(text: str, f: Filters, code: str, start: int, end: int, sp: Spans) -> None:
    neg = is_negated(text, start, window=3) or bool(re.search(r"\bnon-?\s*$", text[:start], re.I))
    target = f.exclude_categories if neg else f.categories
    if code not in target:
        target.append(code)
    sp.take(start, end)


# ---- authors -----------------------------------------------------------------------------------------------
_NAME = r"[A-ZÀ-Þ][a-zß-ÿ]+(?:-[A-Za-zß-ÿ]+)?"
UNKNOWN_PERSON = re.compile(rf"\b({_NAME}(?: [A-Z]\.)? {_NAME}(?: {_NAME})?)\b")


# "… that Xiaohua Feng is not on", "where Biao Gong isn't an author": a negation right after the name
NOT_AFTER_NAME = re.compile(r"\s+(?:(?:is|was|are|were|has|have|had|did|does)\s+(?:not|never)|isn't|wasn't|hasn't|"
                            r"didn't|doesn't|never)\b", re.I)


def _authors(text: str, catalog: Catalog, linker: Linker, q: ParsedQuery, sp: Spans) -> None:
    """Authors linked against the catalog (any case, accents, order, one typo); their position ("first
    author"); a negated author ("not by Yuyuan Li") is excluded. A capitalised name the catalog lacks is an
    unknown author only after a person cue ("by", "author", "'s", "wrote") and only if its words are not
    words of the collection ("Sharpness Aware Minimization" is a topic, "Geoffrey Hinton" a person)."""
    f = q.filters
    links = linker.authors(text)
    for a in links:
        if sp.taken(a.start, a.end):
            continue
        end = a.end + 2 if text.startswith("'s", a.end) else a.end
        negated = is_negated(text, a.start, window=3) or bool(NOT_AFTER_NAME.match(text, end))
        target = f.exclude_authors if negated else f.authors
        if a.name not in target:
            target.append(a.name)
        sp.take(a.start, end)
    if len(f.authors) > 1 and re.search(r"\bor\b|\beither\b", text[links[0].start: links[-1].end], re.I):
        f.any_author = True  # "papers by Li Zhang or Zhongxuan Han": either of them
    if f.authors or f.exclude_authors:
        if f.authors and (m := AUTHOR_POSITION.search(text)):
            word = next(g for g in m.groups() if g).lower()
            if word in POSITIONS:
                f.author_position = POSITIONS[word]
            sp.take(*m.span())
        return
    if not PERSON_CUE.search(text):
        return
    for m in UNKNOWN_PERSON.finditer(text):
        words = [fold(w) for w in re.findall(r"[^\W\d_]+", m.group(1))]
        if any(w in linker.vocabulary or w in stop_words() for w in words):
            continue
        if linker.mentions(m.group(1)):
            continue
        near = text[max(0, m.start() - 25): m.end() + 25]
        if PERSON_CUE.search(near):
            q.unknown_authors.append(m.group(1))
            sp.take(*m.span())
            return
    # one name right after "by" that no paper, author or English word has: "anything by Hinton?" — or, typed in
    # lower case, ending the question: "is there a paper by hinton?"
    if ((m := re.search(r"\bby ([A-ZÀ-Þ][a-zß-ÿ]+(?:-[A-Za-zß-ÿ]+)?)\b", text))
            or (m := re.search(r"\bby ([a-zß-ÿ]+(?:-[a-zß-ÿ]+)?)\s*[?.!]*\s*$", text))) and not sp.taken(*m.span(1)):
        w = fold(m.group(1))
        if w not in linker.vocabulary and w not in linker.name_words and w not in english_words() \
                and w not in stop_words() and not linker.mentions(m.group(1)):
            q.unknown_authors.append(m.group(1)[:1].upper() + m.group(1)[1:])
            sp.take(*m.span(1))


# ---- code --------------------------------------------------------------------------------------------------
def _code(text: str, q: ParsedQuery, sp: Spans) -> None:
    """A code word ("code", "GitHub", "open-source", "implementation") makes a released-code filter — negated
    by "without", "didn't release", "no code", "code is not available" — unless the question asks where the
    code of a named paper is (Intent.CODE, decided later)."""
    m = next((m for m in CODE_WORD.finditer(text) if _is_code_release(text, m)), None)
    if not m:
        return
    after = text[m.end(): m.end() + 30]
    negated = is_negated(text, m.start(), window=4) or bool(re.match(r"\s+(?:is|was|are|were|has|have)?\s*(?:not|n't|"
                                                                      r"never|un)", after, re.I))
    q.filters.has_code = not negated
    start = m.start()
    if negated and (n := list(NEGATION.finditer(text[:m.start()]))):
        start = n[-1].start()
    sp.take(start, m.end())
    # "a github repo", "a github link / released code": one filter, every code word that speaks of a release taken
    for other in CODE_WORD.finditer(text, m.end()):
        if other.start() - sp.spans[-1][1] <= 2 or _is_code_release(text, other):
            sp.take(*other.span())


CODE_CUE = re.compile(r"\b(?:with|without|no|have|has|had|having|release[sd]?|releasing|available|public|publicly|"
                      r"provide[sd]?|share[sd]?|open|opened|link|links|url|where|find|any|include[sd]?|their|its|"
                      r"the|published|shared|accompan\w+)\b", re.I)


def _is_code_release(text: str, m: re.Match[str]) -> bool:
    """'GitHub', 'open-source', 'repository' always speak of released code; 'code' only with a release
    cue next to it ('with code', 'code released', 'where is the code') — 'code generation' is a topic."""
    if not m.group().lower().startswith(("code", "source code")):
        return True
    after = text[m.end():].lstrip()
    if re.match(r"[a-z]", after) and not re.match(r"(?:is|was|are|were|has|have|release[sd]?|available|link|for|of|"
                                                  r"and|or|in|on|that|which|public|publicly|not|open[- ]?sourced?|"
                                                  r"shared|provided|online)\b", after, re.I):
        return False  # a compound noun: "code generation", "code completion"
    window = text[max(0, m.start() - 30): m.end() + 30]
    return bool(CODE_CUE.search(window)) or not after or after[0] in "?.!,"


def merge(a: Filters, b: Filters | None) -> Filters:
    """Filters from the question plus filters chosen in the UI (both apply)."""
    out = Filters(**{k: (list(v) if isinstance(v, list) else v) for k, v in a.__dict__.items()})
    if b is None:
        return out
    out.year_from = max(filter(None, [out.year_from, b.year_from]), default=None)
    out.year_to = min(filter(None, [out.year_to, b.year_to]), default=None)
    out.years = out.years or list(b.years)
    out.months = out.months or list(b.months)
    out.undated = out.undated or b.undated
    out.authors += [x for x in b.authors if x not in out.authors]
    out.categories = b.categories if b.categories and not out.categories else out.categories
    if b.has_code is not None:
        out.has_code = b.has_code
    out.paper_ids += [x for x in b.paper_ids if x not in out.paper_ids]
    for name in ("exclude_authors", "exclude_categories", "exclude_years"):
        getattr(out, name).extend(x for x in getattr(b, name) if x not in getattr(out, name))
    return out
