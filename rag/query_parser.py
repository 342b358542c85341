"""Reading a question into a structured query: catalog filters (years and year sets, authors and their
position, categories, released code — each possibly negated), the papers it names, what shape of answer it
wants (an Intent), and the topic words left over.

How it generalises: names, method names and typos are linked against the catalog (rag.linking), not listed
here; a word becomes a filter only where the question uses it as one — a category name next to a paper noun
("machine learning papers", "papers in NLP") or a category word, a year next to a year cue, a code word with a
release verb — and a negation ("not", "without", "didn't", "non-") turns the filter or topic that follows it
into an exclusion. What is left, minus English function words (scikit-learn's list) and the few words that
shape questions about papers (rag.lexicon.QUESTION_WORDS), is the topic. Works offline."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache

from rag.catalog import Catalog, fold
from rag.lexicon import (
    CATEGORY_ALIASES,
    CATEGORY_NOUNS,
    ENGLISH_STOP_WORDS,
    FIELD_ABBREVIATIONS,
    PAPER_NOUNS,
    QUESTION_WORDS,
)
from rag.linking import Linker
from rag.salience import Embed, leave_out
from rag.text import terms
from rag.types import Filters

YEAR_MIN, YEAR_MAX = 1900, 2100  # a year outside this is a mistake to report, never "no filter"


class Intent(StrEnum):
    TOPIC = "topic"  # what the collection says on a subject
    LIST = "list"  # every paper that matches
    COUNT = "count"  # how many papers match
    AUTHORS = "authors"  # who wrote it
    DETAIL = "detail"  # more about one paper
    ORDER = "order"  # newest / oldest
    COMPARE = "compare"  # two or more named papers side by side
    CODE = "code"  # where the code of a paper is


@dataclass
class ParsedQuery:
    question: str
    filters: Filters = field(default_factory=Filters)
    intent: Intent = Intent.TOPIC
    order: str | None = None  # "asc" (oldest first) or "desc"
    topic: str = ""  # content words left once the metadata phrases are taken out (typos corrected)
    exclude_topic: str = ""  # "unlearning papers that are not surveys" → "surveys"
    mentions: list[str] = field(default_factory=list)  # ids of the papers the question names, in order
    refers_back: bool = False  # about the papers of the previous answer
    explicit_ref: bool = False  # says so ("of those", "the second one"), rather than having no subject
    ordinal: int | None = None  # "the second one" → 2; "the last one" → -1
    ordinal_count: int = 1  # "the first two" → ordinal 1, count 2; "the last three" → ordinal -1, count 3
    relation: str = ""  # "original" or "companion": the paper(s) related to the previous answer's by reproduction
    standalone: bool = False  # refers back, but has a subject of its own to answer when there is nothing before
    continues: bool = False  # opens with a continuation ("and from 2025?", "what about …"): the previous answer's
    # papers when there is one, the whole collection when there is none
    unknown_authors: list[str] = field(default_factory=list)  # named people with no paper in the catalog
    bad_years: list[int] = field(default_factory=list)  # years outside YEAR_MIN–YEAR_MAX
    alternatives: list[str] = field(default_factory=list)  # topic words on each side of an "or", if any
    singular: bool = False  # asks for one paper ("which paper …", "what is EISAM?")
    corrections: dict[str, str] = field(default_factory=dict)  # misspelt word → collection word
    text: str = ""  # the question as read: misspelt function words respelt ("thsoe" → "those")
    annotate: Filters = field(default_factory=Filters)  # a second clause's filters on the first's answer
    unknown_names: list[str] = field(default_factory=list)  # a known paper name with a suffix ("MotionStone++")
    noise: list[str] = field(default_factory=list)  # words no paper uses that carry almost none of the meaning
    # each topic word (or concept) with its share of the question's meaning and its side of an "or" (0, 1, …)
    salience: list[tuple[str, float, int]] = field(default_factory=list)

    @property
    def is_metadata(self) -> bool:
        return self.filters.has_metadata() or bool(self.unknown_authors or self.bad_years)


def _filters(text: str, q: ParsedQuery, listing_year: int, catalog: Catalog, linker: Linker, sp: _Spans) -> None:
    """The catalog filters a text states: years, categories, authors, released code."""
    _years(text, q, listing_year, sp)
    _categories(text, q.filters, sp)
    _authors(text, catalog, linker, q, sp)
    _code(text, q, sp)


CLAUSE_BREAK = re.compile(r"[,;:.?!]\s*(?:(?:and|but|so|also|plus)\s+)?|\s(?:and|but)\s+(?=(?:which|who|what|when|how|"
                          r"do|does|did|are|is|were|was|any|all|list|give|show|tell)\b)", re.I)
# the second clause of a two-part question, about the first clause's answer
SUB_QUESTION = re.compile(r"^\W*(?:(?:and|but|so|also|plus)\s+)?(?:which|do|does|did|are|is|were|was|how many|who|"
                          r"any|all|list|show|give)\b[^?.!]{0,40}?\b(?:of )?(?:them|those|these|they|it|its|ones)\b",
                          re.I)


def _clause_starts(text: str) -> list[int]:
    return [m.end() for m in CLAUSE_BREAK.finditer(text) if 0 < m.end() < len(text.rstrip(" ?.!"))]


def _sub_question(text: str) -> int | None:
    """Where a second clause that asks about the first clause's answer starts ("…, and do any of them have
    code?"), when the first clause has a subject of its own; else None."""
    for start in _clause_starts(text):
        if SUB_QUESTION.match(text[start:]) and any(w.lower() not in _stop_words()
                                                    for w in re.findall(r"[^\W\d_][\w-]+", text[:start])):
            return start
    return None


def _inner_reference(text: str, sp: _Spans) -> bool:
    """Every reference word ("it", "those", "that paper") stands in a later clause than something the
    question itself names, filters on or orders by: the reference points inside the question."""
    refs = [m.start() for pat in (STRONG_REF, WEAK_REF) for m in pat.finditer(text)]
    if not refs:
        return False
    first = min(refs)
    breaks = [b for b in _clause_starts(text) if b <= first]
    if not breaks:
        return False
    head = text[:breaks[-1]]
    stop = _stop_words()
    return any(a < breaks[-1] for a, _ in sp.spans) or any(
        w.lower() not in stop for w in re.findall(r"[^\W\d_][\w-]+", head))


def _respell_function_words(text: str, linker: Linker) -> str:
    """Misspelt function and question words respelt ("thsoe" → "those", "ther" → "there", "papres" →
    "papers"), so the cues that read references and shapes see them. Collection, English and name words are
    never touched."""
    stop = _stop_words()

    def fix(m: re.Match[str]) -> str:
        return linker.function_word(m.group(), stop) or m.group()

    return re.sub(r"(?<![\w-])[A-Za-z]{3,8}(?![\w-])", fix, text)


# ---- cues ------------------------------------------------------------------------------------------------
# a paper's name with something attached that the paper never uses: "MotionStone++", "LEGO-v2", "VoP 2.0"
NAME_VARIANT = re.compile(r"\b([A-Za-z][\w-]*[A-Za-z0-9])(\+\+?|[- ]?v\d+(?:\.\d+)?\b|[- ]\d\.\d\b)")
_NOUNS = "|".join(PAPER_NOUNS)
_CAT_NOUNS = "|".join(CATEGORY_NOUNS)
NEGATION = re.compile(r"\b(?:not|no|non|without|except|excluding|exclude|never|lacking|lack|minus|"
                      r"other than|apart from|aside from|rather than|instead of)\b|n't\b|\bnon-", re.I)
CLAUSE_END = re.compile(r"[,;:.?!]|\b(?:and|but|or|which|that|who|where|while|whereas)\b", re.I)
STRONG_REF = re.compile(
    r"\b(?:of|among|from|between) (?:those|these|them|the above|the two|both)\b|\bthe (?:former|latter)\b|"
    r"\b(?:those|these|the above|the two|the same) (?:papers?|works?|ones?|two|articles?)\b|"
    r"\b(?:this|that) (?:one|paper|work|study|article)\b|"
    r"\bthe (?:first|second|third|fourth|fifth|sixth|last|1st|2nd|3rd|4th|5th|other) (?:one|paper|of them|of those|"
    r"of these|work|article)\b|\b(?:both|either|each|neither) of (?:them|those|these)\b", re.I)
# References that need an earlier answer ("these papers" can also mean the collection itself)
ANAPHORA = re.compile(r"\b(?:those|them|they|it|its|the above|the former|the latter|the same|the two|both)\b", re.I)
# A question that opens by continuing the conversation: "and from 2025?", "what about ones with code?"
CONTINUATION = re.compile(r"^\W*(?:and|but|also|plus|only|just|now|then|so|ok(?:ay)?\W+(?:and|what about|now)|"
                          r"(?:what|how) about|same (?:for|but|with)|any (?:of them )?(?:from|in|by|with|since))\b", re.I)
WEAK_REF = re.compile(r"\b(?:those|these|them|they|it|its|itself|both|either|the (?:first|second|third|fourth|"
                      r"fifth|last)|the others?|which ones?)\b", re.I)
# The reproducibility relation between papers: "the original (paper)" of a companion, "its companion" /
# "was it reproduced" of an original
RELATION_REF = re.compile(r"\bthe (original)\b(?! (?:idea|question|version|abstract))|\b(?:the|its|a|their) "
                          r"(?:reproducibility )?(companion)\b|\b(reproduc\w+)\b", re.I)
ORDINAL = re.compile(r"\bthe (first|second|third|fourth|fifth|sixth|last|1st|2nd|3rd|4th|5th|6th)\b"
                     r"(?! author)(?:[ -](?:one|paper|of them|of those|of these|work|article))?", re.I)
# "the first two", "the top 3", "the last two": several papers from one end of the previous answer
FIRST_N = re.compile(r"\b(?:the )?(first|top|last) (two|three|four|five|2|3|4|5)\b(?! (?:years?|authors?))", re.I)
ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4,
            "fifth": 5, "5th": 5, "sixth": 6, "6th": 6, "last": -1}
AUTHOR_POSITION = re.compile(
    r"\b(first|second|third|1st|2nd|3rd|lead|leading|main|primary|senior|last)[ -](?:authors?|authored|named|listed)\b"
    r"|\b(?:as|is|was) (?:the )?(first|second|third|lead|last)\b(?! (?:paper|one|work))"
    r"|\bauthor (?:number |no\.? ?|#)?(one|two|three|1|2|3)\b"
    r"|\b(last)[ -](?:listed|named|known)[ -]authors?\b|\b(last) (?:of the|among the) (?:listed |named |known )?authors\b",
    re.I)
POSITIONS = {"last": -1, "first": 1, "1st": 1, "lead": 1, "leading": 1, "main": 1, "primary": 1, "one": 1, "1": 1,
             "second": 2, "2nd": 2, "two": 2, "2": 2, "third": 3, "3rd": 3, "three": 3, "3": 3}
# "the first paper to come out" is an order; "the first paper" alone points into the previous answer (ORDINAL)
_TO_APPEAR = r"(?:(?:paper|one|work|article) )?(?:to (?:come out|appear|be published|be released)|published|released|came out)"
ORDER_ASC = re.compile(rf"\b(oldest|earliest|first {_TO_APPEAR}|came out (?:first|earlier)|"
                       r"published (?:first|earlier)|older|earlier)\b", re.I)
ORDER_DESC = re.compile(rf"\b(newest|latest|most recent(?:ly)?|came out (?:last|later)|published (?:last|later)|"
                        rf"newer|more recent|last {_TO_APPEAR})\b", re.I)
COUNT = re.compile(rf"\bhow many\b(?=(?:\s+[\w'.-]+){{0,4}}?\s+(?:{_NOUNS})\b|(?:\s+[\w'.-]+){{0,3}}?\s+(?:are|were|have|has|"
                   rf"had|did|do|does|of (?:them|those|these)|is|came|got|use|used|mention|come|from|in|by|with|"
                   rf"without|there)\b|\s*\??\s*$)|\b(?:number|count|total) of (?:[\w'-]+ ){{0,3}}?(?:{_NOUNS})\b|"
                   rf"^\s*count\b", re.I)
# "how many … does the copyright paper evaluate?": a number inside one paper, not a count of papers
ONE_PAPER = re.compile(r"\b(?:the|this|that|its|their) (?:[\w'-]+ ){0,4}?(?:paper|work|study|article|survey|benchmark)\b"
                       r"(?!s)|\b(?:it|its)\b", re.I)
AUTHORS_ASK = re.compile(r"\bwho(?:'s| is| are| were| was)? (?:wrote|write|writes|authored|authors?|behind|the authors?|"
                         r"on the author list|worked on|did|made|created|published|involved)\b|"
                         r"\b(?:what|which|list|name) (?:are |were )?(?:the )?authors?\b|\bauthors? (?:of|for|on)\b|"
                         r"\bwhose (?:paper|work)\b|\bwritten by whom\b|\bby whom\b|\bauthor list\b|"
                         r"\bwho (?:are|were) (?:they|the people)\b", re.I)
DETAIL_ASK = re.compile(r"\b(tell me (?:more|about)|more (?:about|on|details?|info)|details?|elaborate|expand on|"
                        r"summari[sz]e|summary|explain|describe|what (?:is|'s) (?:it|that|this)(?: one)? about|"
                        r"what does (?:it|that|this)(?: one| paper)? (?:do|propose|say))\b", re.I)
COMPARE_ASK = re.compile(r"\b(compar\w*|vs\.?|versus|differ\w*|contrast\w*|similarit\w+|in common|better|"
                         r"(?:how|what) (?:do|does|are|is) .{1,60}? (?:and|or) .{1,60}? (?:differ|compare|relate))\b",
                         re.I)
CODE_WORD = re.compile(r"\b(?:source code|code(?:base|s)?|github|gitlab|repo(?:sitory|sitories|s)?|"
                       r"implementations?|open[- ]?sourced?)\b", re.I)
CODE_WHERE = re.compile(r"\b(?:where|link|links|url|urls|find|get|download|access|point me)\b", re.I)
SINGULAR = re.compile(r"\b(?:which|what) (?:single |one )?(?:paper|work|study|article|publication)\b(?!s)|"
                      r"\b(?:a|one|the) (?:single )?(?:paper|work|study|article)\b (?:that|which|where|about|on|"
                      r"to|for|proposing|introducing|with)\b", re.I)
WHAT_IS_NAME = re.compile(r"^\s*(?i:what|who)(?:'s| (?i:is|was|does|are))? [A-Z0-9]")  # "What is EISAM?" (case matters)
PAPER_NOUN = re.compile(rf"\b(?:{_NOUNS})\b", re.I)
WANTS_ALL = re.compile(r"\b(?:all|every|everything|full list|complete list|entire|each|list|enumerate|"
                       r"any (?:other )?(?:papers|work))\b", re.I)
PLURAL = re.compile(r"\b(?:papers|works|studies|publications|articles|ones)\b", re.I)
RELATIVE_YEARS = re.compile(r"\b(?:in |from |during )?(?:the )?(this|last|past|previous|next|coming) "
                            r"(?:(\d|two|three|four|five|six|seven|eight|nine|ten|few|couple of) )?years?\b", re.I)
NUMBER_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
                "few": 3, "couple of": 2}
PERSON_CUE = re.compile(r"\b(?:by|author(?:ed|s)?|co-?authored?|wrote|written|writes?|publish(?:ed|es)?|worked|"
                        r"papers? of|work of|has \w+ \w+ done)\b|'s\b", re.I)


@lru_cache(maxsize=1)
def _stop_words() -> frozenset[str]:
    # scikit-learn's published English stop list, plus the question-shaping words of rag.lexicon.
    return frozenset(ENGLISH_STOP_WORDS) | QUESTION_WORDS | {"don", "doesn", "didn", "isn", "aren", "wasn", "weren",
                                                              "haven", "hasn", "won", "ve", "ll", "re", "s", "t", "non"}


def linker_for(catalog: Catalog) -> Linker:
    """One Linker per catalog, built on first use and kept with it (a catalog never changes once built)."""
    linker = catalog.__dict__.get("_linker")
    if linker is None:
        linker = catalog.__dict__.setdefault("_linker", Linker(catalog))
    return linker


class _Spans:
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


def _negated(text: str, start: int, window: int = 4) -> bool:
    """A negation cue within `window` words before position `start`, in the same clause."""
    before = text[:start]
    cut = max((m.end() for m in CLAUSE_END.finditer(before)), default=0)
    clause = before[cut:]
    cues = list(NEGATION.finditer(clause))
    if not cues:
        return False
    between = clause[cues[-1].end():]
    return len(re.findall(r"\w+", between)) <= window


def parse(question: str, catalog: Catalog, listing_year: int, embed: Embed | None = None,
          noise_below: float = 0.0) -> ParsedQuery:
    """The question as a structured query. With `embed` (the embedding model), a word no paper uses joins the
    topic only when it carries at least `noise_below` of the question's meaning (rag.salience)."""
    q = ParsedQuery(question=question)
    linker = linker_for(catalog)
    text = q.text = _respell_function_words(question, linker)  # "which of thsoe …" → "which of those …"
    sp = _Spans(text)

    sub = _sub_question(text)
    if sub is not None:
        # "Which papers do X, and do any of them have code?": the second clause asks about the first's answer;
        # its filters mark papers of that answer (q.annotate) instead of narrowing it
        tail = " " * sub + text[sub:]
        _filters(tail, q, listing_year, catalog, linker, _Spans(tail))
        q.annotate, q.filters = q.filters, Filters()
    _filters(text[:sub] + " " * (len(text) - sub) if sub is not None else text, q, listing_year, catalog, linker,
             sp)
    for pid, a, b in linker.mentions(text):
        if not sp.taken(a, b) and pid not in q.mentions:
            q.mentions.append(pid)
            sp.take(a, b)
    for m in NAME_VARIANT.finditer(text):  # "MotionStone++": a name the collection does not have
        if linker.mentions(m.group(1)) and not sp.taken(*m.span(2)):
            q.unknown_names.append(m.group())
            sp.take(*m.span())

    rest = sp.rest()
    if m := ORDER_DESC.search(rest):
        q.order = "desc"
        sp.take(*m.span())
    elif m := ORDER_ASC.search(rest):
        q.order = "asc"
        sp.take(*m.span())
    if m := FIRST_N.search(sp.rest()):
        q.ordinal = -1 if m.group(1).lower() == "last" else 1
        q.ordinal_count = NUMBER_WORDS.get(m.group(2).lower()) or int(m.group(2))
        sp.take(*m.span())
    elif m := ORDINAL.search(sp.rest()):
        q.ordinal = ORDINALS[m.group(1).lower()]
        sp.take(*m.span())

    # "and the original paper?", "its companion", "was it reproduced?": only about papers in view
    if (m := RELATION_REF.search(sp.rest())) and (q.mentions or WEAK_REF.search(text) or STRONG_REF.search(text)
                                                  or m.group(1)):
        q.relation = "original" if m.group(1) else "companion"
        sp.take(*m.span())
    _topic(q, sp, linker, embed, noise_below)
    q.intent = _intent(q, text)
    q.singular = bool(SINGULAR.search(text) or WHAT_IS_NAME.search(text)) and not PLURAL.search(text)
    # a reference in a later clause to what an earlier clause of the same question asked for ("Oldest paper in
    # the collection, and who wrote it?", "What does EISAM stand for, and … does that paper identify?",
    # "Unlearning papers from 2025, all of them") is not a follow-up
    inner = _inner_reference(text, sp)
    rest = sp.rest()  # "the first paper to come out" was read as an order, not as a reference
    strong = (bool(STRONG_REF.search(rest)) or q.ordinal is not None) and not inner
    weak = bool(WEAK_REF.search(rest)) and not inner
    weak = weak or (bool(q.relation) and not inner)
    own_subject = bool(q.topic or q.mentions or q.unknown_names)
    f = q.filters
    elliptic = not own_subject and not (f.years or f.year_from or f.year_to or f.authors or f.categories) \
        and not q.unknown_authors and not PAPER_NOUN.search(text) and q.intent != Intent.TOPIC
    q.explicit_ref = strong or (weak and not own_subject and not bool(f.years or f.authors or f.categories))
    has_filters = bool(f.years or f.year_from or f.year_to or f.authors or f.categories or q.unknown_authors)
    q.refers_back = strong or (weak and not own_subject and not has_filters) or elliptic \
        or (q.ordinal is not None and not own_subject)
    q.continues = not q.refers_back and not own_subject and not inner and bool(CONTINUATION.match(text))
    # "On how many of these papers is Yuyuan Li an author?" with nothing before it: "these" is the collection
    q.standalone = bool(own_subject or has_filters or q.order or q.intent == Intent.COUNT) and q.ordinal is None \
        and not ANAPHORA.search(rest)
    if q.intent == Intent.CODE and not q.mentions and not q.refers_back:
        q.intent, q.filters.has_code = Intent.LIST, True  # "github links?" with no paper in view: papers with code
    if q.intent == Intent.COMPARE and len(q.mentions) < 2 and not (q.refers_back or q.continues):
        q.intent = Intent.TOPIC
    return q


# ---- years -------------------------------------------------------------------------------------------------
_Y = r"(\d{4})"
_YEAR_RULES: list[tuple[str, str]] = [
    # "between 2023 and 2025" and "from 2023 to 2025" are ranges; "from 2023 and 2025" names two years (a set)
    (rf"\bbetween {_Y} (?:and|to|until|through|till|-) {_Y}\b|\bfrom {_Y} (?:to|until|through|till|-) {_Y}\b", "range"),
    (rf"\b{_Y}\s*(?:-|–|—|to|until|through|till)\s*{_Y}\b", "range"),
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


def _years(text: str, q: ParsedQuery, listing_year: int, sp: _Spans) -> None:
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
        if _negated(text, m.start()):
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
            flags = 0 if len(name) == 2 and name not in ("ml", "ai", "cv") else re.I
            alias = re.escape(name).replace(r"\ ", r"\s+") if flags else re.escape(name.upper())
            out.append((code, re.compile(rf"(?<!\w){alias}(?![\w-])", flags)))
    return out


_ALIASES = _alias_pattern()
_AFTER_NOUN = re.compile(rf"(?:{_NOUNS})\s+(?:(?:that are |which are |are |were |is )?(?:not |n't )?(?:in|under|from|on|about|"
                         rf"within|of|for|are|is|were|filed under|classified (?:as|under)|categori[sz]ed (?:as|under))|"
                         rf"(?:that|which) (?:are|were|is) not|(?:that|which) (?:aren't|weren't|isn't))\s+(?:the\s+)?$", re.I)
_BEFORE_NOUN = re.compile(rf"^(?:\s*(?:or|and|/|,)\s*[\w.-]+(?:\s+[\w.-]+){{0,2}}?)*\s*(?:{_NOUNS}|{_CAT_NOUNS})\b",
                          re.I)
_CAT_CUE_BEFORE = re.compile(rf"\b(?:{_CAT_NOUNS})\s+(?:of\s+|is\s+|=\s*|:\s*)?$|\bcs\.$|\bnon-?\s*$", re.I)
_NP_END = re.compile(rf"^\s*(?:(?:{_CAT_NOUNS})\b\s*)?(?:$|[?.!,;()]|\b(?:and|or|with|from|since|before|after|by|in|"
                     rf"that|which|published|released|having|have|has|without|not|are|were|is|on|about)\b)", re.I)


def _categories(text: str, f: Filters, sp: _Spans) -> None:
    """arXiv codes ("cs.CL") anywhere; a category's name or alias only where it names papers: before a paper
    noun ("NLP papers", "IR or CV papers"), after "papers in/on/under" ending the phrase ("papers on computer
    vision"), after a category word ("the category machine learning"), or as the whole question. "fairness in
    machine learning" is a topic."""
    for m in re.finditer(r"\b(?:arxiv\s+)?cs\.(cv|ir|lg|cl|ai|cr)\b", text, re.I):
        _add_category(text, f, "cs." + m.group(1).upper(), m.start(), m.end(), sp)
    whole = text.strip(" ?.!").lower()
    for chained_pass in (False, True):  # "IR or CV papers": the second name joins a category already read
        for code, pat in _ALIASES:
            for m in pat.finditer(text):
                if not sp.taken(m.start(), m.end()) and _used_as_category(text, m, whole, sp, chained_pass):
                    _add_category(text, f, code, m.start(), m.end(), sp)


def _used_as_category(text: str, m: re.Match[str], whole: str, sp: _Spans, chained_pass: bool) -> bool:
    before, after = text[:m.start()], text[m.end():]
    if before.endswith("-") and not before.lower().endswith("non-"):
        return False  # "vision-language" is a topic word
    if chained_pass:
        return _chained(text, m.start(), sp)
    if len(m.group()) == 2 and m.group().isupper() and m.group().lower() not in ("ai", "ml"):
        return True  # "IR", "CV", "CL", "CR", "LG" written as codes name the category wherever they stand
    return (
        bool(_BEFORE_NOUN.match(after))
        or (bool(_AFTER_NOUN.search(before)) and bool(_NP_END.match(after)))
        or bool(_CAT_CUE_BEFORE.search(before))
        or bool(re.match(rf"^\s*(?:{_CAT_NOUNS})\b", after, re.I))
        or whole == m.group().lower()
    )


def _chained(text: str, start: int, sp: _Spans) -> bool:
    """'IR or computer vision papers': an alias joined by or/and to a category already read."""
    return bool(re.search(r"(?:\bor|\band|/|,)\s+$", text[:start])) and any(
        b <= start and start - b < 6 for _, b in sp.spans)


def _add_category(text: str, f: Filters, code: str, start: int, end: int, sp: _Spans) -> None:
    neg = _negated(text, start, window=3) or bool(re.search(r"\bnon-?\s*$", text[:start], re.I))
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


def _authors(text: str, catalog: Catalog, linker: Linker, q: ParsedQuery, sp: _Spans) -> None:
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
        negated = _negated(text, a.start, window=3) or bool(NOT_AFTER_NAME.match(text, end))
        target = f.exclude_authors if negated else f.authors
        if a.name not in target:
            target.append(a.name)
        sp.take(a.start, end)
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
        if any(w in linker.vocabulary or w in _stop_words() for w in words):
            continue
        if linker.mentions(m.group(1)):
            continue
        near = text[max(0, m.start() - 25): m.end() + 25]
        if PERSON_CUE.search(near):
            q.unknown_authors.append(m.group(1))
            sp.take(*m.span())
            return


# ---- code --------------------------------------------------------------------------------------------------
def _code(text: str, q: ParsedQuery, sp: _Spans) -> None:
    """A code word ("code", "GitHub", "open-source", "implementation") makes a released-code filter — negated
    by "without", "didn't release", "no code", "code is not available" — unless the question asks where the
    code of a named paper is (Intent.CODE, decided later)."""
    m = next((m for m in CODE_WORD.finditer(text) if _is_code_release(text, m)), None)
    if not m:
        return
    after = text[m.end(): m.end() + 30]
    negated = _negated(text, m.start(), window=4) or bool(re.match(r"\s+(?:is|was|are|were|has|have)?\s*(?:not|n't|"
                                                                      r"never|un)", after, re.I))
    q.filters.has_code = not negated
    start = m.start()
    if negated and (n := list(NEGATION.finditer(text[:m.start()]))):
        start = n[-1].start()
    sp.take(start, m.end())
    for other in CODE_WORD.finditer(text, m.end()):  # "a github repo": one filter, every code word taken
        if other.start() - sp.spans[-1][1] <= 2:
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


# ---- topic -------------------------------------------------------------------------------------------------
_TOPIC_WORD = re.compile(r"[^\W_][^\W_]*(?:[-'][^\W_]+)*")


def _topic(q: ParsedQuery, sp: _Spans, linker: Linker, embed: Embed | None, noise_below: float) -> None:
    """The words left once filters, names and cues are taken: stop and question words out (misspelt ones
    too), field abbreviations spelled out, misspellings corrected against the collection, and words no paper
    uses kept only when they carry meaning (rag.salience). Words in a negation's scope become exclude_topic."""
    rest = sp.rest()
    stop = _stop_words()
    words: list[tuple[str, int, int, int, bool]] = []  # word, start, end, side, negated
    side = 0
    for m in _TOPIC_WORD.finditer(rest):
        raw = m.group()
        w = raw.lower().removesuffix("'s").removesuffix("’s")
        if w == "or":
            side += 1
            continue
        if w in stop or w in ORDINALS or len(w) < 2 or w.isdigit() or w.endswith(("n't", "n’t")) or (
                "-" in w and all(part in stop for part in w.split("-"))):  # "related-work", "co-written"
            continue
        word = raw
        if w in FIELD_ABBREVIATIONS and (raw.isupper() or w not in linker.vocabulary or len(w) > 3):
            word = FIELD_ABBREVIATIONS[w]
        elif fixed := linker.correct(w):
            q.corrections[raw] = fixed
            word = fixed
        elif fixed := linker.function_word(w, stop):
            q.corrections[raw] = fixed  # "ther" → "there", "papres" → "papers": shapes the question, no topic
            continue
        words.append((word, m.start(), m.end(), side, _negated(rest, m.start(), window=3)))
    words = _concepts(words, linker, q.text or q.question)
    unknown = [i for i, (word, *_) in enumerate(words) if not linker.known(word)]
    # In a question with filters every leftover word must carry meaning to narrow them ("How many papers are in
    # cs.CL or cs.CR combined?"); in a topic question the words the papers use stay, they are the search.
    weigh = list(range(len(words))) if q.is_metadata else unknown
    if embed is not None and (len(words) > 1 or (words and q.is_metadata)):  # one topic word carries it all
        text = q.text or q.question
        # the same model call embeds each word (the relevance judgement compares them with the papers' words)
        # and the topic as it stands (retrieval's query when no word is dropped)
        also = [fold(w[0]) for w in words] + [" ".join(w[0] for w in words if not w[4])]
        shares = dict(enumerate(leave_out(text, [[w[1:3]] for w in words], embed, also)))
        drop = {i for i in weigh if shares[i] < noise_below}
        if len(drop) > 1 and leave_out(text, [[words[i][1:3] for i in drop]], embed)[0] >= 2 * noise_below:
            drop = set()  # together they matter ("climate modelling or weather forecasting")
        q.noise = [words[i][0] for i in sorted(drop)]
        q.salience = [(words[i][0], shares[i], words[i][3]) for i in range(len(words))
                      if i not in drop and not words[i][4]]
        words = [w for i, w in enumerate(words) if i not in drop]
    else:  # not measured: every word counts as carrying the question
        q.salience = [(w[0], 1.0, w[3]) for w in words if not w[4]]
    keep = [w for w, _, _, _, neg in words if not neg]
    q.topic = " ".join(keep)
    q.exclude_topic = " ".join(w for w, _, _, _, neg in words if neg)
    sides = [" ".join(w for w, _, _, s, neg in words if s == k and not neg) for k in range(side + 1)]
    sides = [s for s in sides if s]
    if len(sides) > 1:
        q.alternatives = sides


def _concepts(words: list[tuple[str, int, int, int, bool]], linker: Linker,
              text: str) -> list[tuple[str, int, int, int, bool]]:
    """Words that spell out an acronym the papers define ("large language models"), and runs of words no paper
    uses ("mathematical theorem proving"), become one concept each, so that its share of the question's meaning
    is measured whole: one word of it left out says little while the others remain."""
    stems = [(terms(w.lower()) or [w.lower()])[0] for w, *_ in words]
    runs = [(first, last) for first, last, _ in linker.acronyms._spans(stems)]
    i = 0
    while i < len(words):
        j = i
        while j + 1 < len(words) and not linker.known(words[i][0]) and not linker.known(words[j + 1][0]) \
                and not text[words[j][2]:words[j + 1][1]].strip():
            j += 1
        if j > i and not any(a <= i <= b or a <= j <= b for a, b in runs):
            runs.append((i, j))
        i = j + 1
    out, i = [], 0
    for first, last in sorted(runs):
        if first < i or any(words[k][3] != words[first][3] for k in range(first, last + 1)):
            continue  # overlapping, or across an "or"
        out.extend(words[i:first])
        _, a, _, side, neg = words[first]
        out.append((" ".join(w for w, *_ in words[first:last + 1]), a, words[last][2], side, neg))
        i = last + 1
    return out + words[i:]


# ---- intent ------------------------------------------------------------------------------------------------
def _intent(q: ParsedQuery, text: str) -> Intent:
    if COUNT.search(text) and not (q.mentions or (ONE_PAPER.search(text) and not PLURAL.search(text))):
        return Intent.COUNT
    if q.order and not q.mentions:
        return Intent.ORDER  # "who wrote the newest paper?": the order answer names its authors
    if AUTHORS_ASK.search(text):
        return Intent.AUTHORS
    f = q.filters
    other_filters = f.years or f.year_from or f.year_to or f.authors or f.categories
    # "where is the code for VoP?", "github for CURE4Rec", "does LEGO have code?": a link, not a filter
    if CODE_WORD.search(text) and (CODE_WHERE.search(text) or q.mentions) and (
            q.mentions or (not PLURAL.search(text) and not other_filters)):
        q.filters.has_code = None  # "where is the code for VoP?" asks for a link, not for a filter
        return Intent.CODE
    if COMPARE_ASK.search(text) and (len(q.mentions) >= 2 or STRONG_REF.search(text) or q.ordinal_count > 1):
        return Intent.COMPARE
    if q.order:
        return Intent.ORDER
    if DETAIL_ASK.search(text) and (q.mentions or WEAK_REF.search(text) or STRONG_REF.search(text)) \
            and not PLURAL.search(text):
        return Intent.DETAIL
    if q.is_metadata and not q.topic:
        return Intent.LIST
    if WANTS_ALL.search(text) or PLURAL.search(text) and not q.mentions:
        return Intent.LIST
    return Intent.TOPIC
