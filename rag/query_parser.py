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

from rag.catalog import Catalog, fold
from rag.lexicon import CATEGORY_ALIASES, FIELD_ABBREVIATIONS
from rag.linking import Linker
from rag.query_filters import (
    CODE_WORD,
    NUMBER_WORDS,
    PAPER_NOUNS_RE,
    Spans,
    is_negated,
    read_filters,
    stop_words,
)
from rag.salience import Embed, leave_out
from rag.text import terms
from rag.types import Filters


class Intent(StrEnum):
    TOPIC = "topic"  # what the collection says on a subject
    LIST = "list"  # every paper that matches
    COUNT = "count"  # how many papers match
    AUTHORS = "authors"  # who wrote it
    DETAIL = "detail"  # more about one paper
    ORDER = "order"  # newest / oldest
    COMPARE = "compare"  # two or more named papers side by side
    CODE = "code"  # where the code of a paper is
    OVERVIEW = "overview"  # the collection (or the papers on a topic) by author, category or year


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
    bad_years: list[int] = field(default_factory=list)  # years outside rag.query_filters.YEAR_MIN–YEAR_MAX
    alternatives: list[str] = field(default_factory=list)  # topic words on each side of an "or", if any
    singular: bool = False  # asks for one paper ("which paper …", "what is EISAM?")
    corrections: dict[str, str] = field(default_factory=dict)  # misspelt word → collection word
    text: str = ""  # the question as read: misspelt function words respelt ("thsoe" → "those")
    annotate: Filters = field(default_factory=Filters)  # a second clause's filters on the first's answer
    unknown_names: list[str] = field(default_factory=list)  # a known paper name with a suffix ("MotionStone++")
    # "what else has its first author written?": the papers of an author of the paper in view (position 1 = first,
    # -1 = last, 0 = any of its authors), the paper itself left out
    scope_author: int | None = None
    order_count: int = 1  # "the three most recent papers": how many an order answer names
    others: bool = False  # "anything else besides those?": the previous question again, its answer's papers left out
    aspect: bool = False  # "which datasets did they use?": the topic is an aspect of the papers in view
    sort: str = ""  # a list "sorted by year" / "chronologically": "asc" (oldest first) or "desc"
    facet: str = ""  # OVERVIEW: "authors", "categories" or "years"
    relative: str = ""  # "newer" / "older": papers dated after / before the papers in view ("any newer ones than these?")
    noise: list[str] = field(default_factory=list)  # words no paper uses that carry almost none of the meaning
    topic_span: tuple[int, int] | None = None  # where the topic stands in `text`, from its first to its last word
    # each topic word (or concept) with its share of the question's meaning and its side of an "or" (0, 1, …)
    salience: list[tuple[str, float, int]] = field(default_factory=list)

    @property
    def is_metadata(self) -> bool:
        return self.filters.has_metadata() or bool(self.unknown_authors or self.bad_years)


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
        if SUB_QUESTION.match(text[start:]) and any(w.lower() not in stop_words()
                                                    for w in re.findall(r"[^\W\d_][\w-]+", text[:start])):
            return start
    return None


def _inner_reference(text: str, sp: Spans) -> bool:
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
    stop = stop_words()
    return any(a < breaks[-1] for a, _ in sp.spans) or any(
        w.lower() not in stop for w in re.findall(r"[^\W\d_][\w-]+", head))


def _respell_function_words(text: str, linker: Linker) -> str:
    """Misspelt function and question words respelt ("thsoe" → "those", "ther" → "there", "papres" →
    "papers") and "&" written as "and", so the cues that read references and shapes see them. Collection,
    English and name words are never touched."""
    stop = stop_words()

    def fix(m: re.Match[str]) -> str:
        if m.group().isupper():  # "OCR", "ASR": an acronym, never a misspelt "or"
            return m.group()
        return linker.function_word(m.group(), stop) or m.group()

    # A free-standing "&" is "and" ("cryptography & security", "fairness & unlearning"); "Q&A" is left alone.
    text = re.sub(r"(?<=\s)&(?=\s)", "and", text)
    return re.sub(r"(?<![\w-])[A-Za-z]{3,8}(?![\w-])", fix, text)


# ---- cues ------------------------------------------------------------------------------------------------
# a paper's name with something attached that the paper never uses: "MotionStone++", "LEGO-v2", "VoP 2.0"
NAME_VARIANT = re.compile(r"\b([A-Za-z][\w-]*[A-Za-z0-9])(\+\+?|[- ]?v\d+(?:\.\d+)?\b|[- ]\d\.\d\b)")
STRONG_REF = re.compile(
    r"\b(?:of|among|from|between) (?:those|these|them|the above|the two|both)\b|\bthe (?:former|latter)\b|"
    r"\b(?:those|these|the above|the two|the same) (?:papers?|works?|ones?|two|articles?)\b|"
    r"\b(?:this|that) (?:one|paper|work|study|article|survey|benchmark|framework|dataset|method|approach|model)\b|"
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
# "the first paper to come out" is an order; "the first paper" alone points into the previous answer (ORDINAL)
_TO_APPEAR = r"(?:(?:paper|one|work|article) )?(?:to (?:come out|appear|be published|be released)|published|released|came out)"
ORDER_ASC = re.compile(rf"\b(oldest|earliest|first {_TO_APPEAR}|came out (?:first|earlier)|"
                       r"published (?:first|earlier)|older|earlier)\b", re.I)
ORDER_DESC = re.compile(rf"\b(newest|latest|most recent(?:ly)?|came out (?:last|later)|published (?:last|later)|"
                        rf"newer|more recent|last {_TO_APPEAR})\b", re.I)
COUNT = re.compile(rf"\bhow many\b(?=(?:\s+[\w'.-]+){{0,4}}?\s+(?:{PAPER_NOUNS_RE})\b|(?:\s+[\w'.-]+){{0,3}}?\s+(?:are|were|have|has|"
                   rf"had|did|do|does|of (?:them|those|these)|is|came|got|use|used|mention|come|from|in|by|with|"
                   rf"without|there)\b|\s*\??\s*$)|\b(?:number|count|total) of (?:[\w'-]+ ){{0,3}}?(?:{PAPER_NOUNS_RE})\b|"
                   rf"^\s*count\b", re.I)
# "how many … does the copyright paper evaluate?": a number inside one paper, not a count of papers
ONE_PAPER = re.compile(r"\b(?:the|this|that|its|their) (?:[\w'-]+ ){0,4}?(?:paper|work|study|article|survey|benchmark)\b"
                       r"(?!s)|\b(?:it|its)\b", re.I)
# "what else has its first author written?", "other papers by the same authors", "more from that paper's last author"
_POSITION = r"first|lead|main|second|third|last|senior"
SCOPE_AUTHOR = re.compile(rf"(?:\b(?:its|their|the same|that paper's|this paper's|the paper's|that|this)|'s)\s+"
                          rf"(?:(?P<pos>{_POSITION})\s+)?(?:authors?|writers?|people)\b"
                          rf"|\bthe\s+(?:(?P<pos2>{_POSITION})\s+)?authors?\s+of\b", re.I)
# What the collection holds, grouped: "who are the most frequent authors?", "which categories are covered?",
# "how many papers per year?". A facet word asked about as a whole, never one naming a filter value.
_PEOPLE = r"(?:authors|contributors|researchers|people|writers)"
FACETS = {
    "authors": re.compile(
        rf"\bwho (?:are|is|were) the (?:most )?(?:frequent|prolific|common|active|top|main|leading)\b|"
        rf"\bwho (?:wrote|writes|has written|published|publishes|authored|appears?|contributed) (?:the )?most\b|"
        rf"\b(?:most|top) (?:\d+ |ten |five )?(?:frequent |prolific |common |active )?{_PEOPLE}\b|"
        rf"\b(?:list|all|every|which|what|name) (?:of )?(?:the )?(?:different |distinct )?{_PEOPLE}\b"
        rf"(?! (?:behind|of (?:the|this|that|it|its)\b))|"
        rf"\b{_PEOPLE} (?:ranked |sorted |ordered )?by (?:number|count|papers)|"
        rf"\bhow many (?:different |distinct |unique )?{_PEOPLE}\b", re.I),
    "categories": re.compile(
        r"\bwhat (?:do|does|did) (?:you|you guys|y'all|the group|the lab|the team|this group|your group|your lab|"
        r"they|we) (?:mostly |mainly |usually )?(?:work|research|focus|publish|do research) (?:on|about|in)\b|"
        r"\bwhat (?:is|are) (?:the |your |the group's |the lab's |our )?(?:main )?(?:research )?(?:areas|focus|"
        r"themes|research topics|research interests)\b|"
        r"\b(?:which|what|list|all|name) (?:of )?(?:the )?(?:different |distinct )?(?:arxiv )?"
        r"(?:categories|areas|fields|subject areas|subjects)\b(?! (?:of|is|does|do) (?:the|this|that|it|its|[A-Z]))|"
        r"\b(?:per|by|each|every) (?:arxiv )?(?:category|area|field|subject)\b|"
        r"\bhow many (?:different |distinct )?(?:categories|areas|fields)\b", re.I),
    "years": re.compile(
        r"\b(?:per|by|each|every|a) year\b|\byear by year\b|\b(?:which|what) years\b|"
        r"\b(?:range|span) of (?:years|dates)\b|\bwhat (?:period|time span|time range)\b", re.I),
}
SORTED = re.compile(r"\b(?:(?:sorted|ordered|arranged|listed|ranked|organi[sz]ed)\s+(?:by|according to)\s+(?:the\s+)?"
                    r"(?:(?:publication|release)\s+)?(?:year|date|time)s?(?:\s+(?:of\s+)?publication)?|"
                    r"(?:in\s+)?(?:chronological(?:ly)?|date|time)\s+order|chronologically)"
                    r"(?:,?\s*(?P<desc>newest|latest|most recent)\s+first|,?\s*(?:oldest|earliest)\s+first)?"
                    r"|\b(?:(?P<desc2>newest|latest|most recent)|oldest|earliest)\s+first\b", re.I)
_COUNT_WORD = r"\d{1,2}|two|three|four|five|six|seven|eight|nine|ten"
# a pronoun as the subject of the question: "which datasets did they use?", "what does it propose?" — the topic
# words are then an aspect of the papers in view, not a new subject
PRONOUN_SUBJECT = re.compile(r"\b(?:did|do|does|were|are|is|was|have|has|had|can|could|would)\s+(?:they|it|those|"
                             r"these|both|the two|either of them)\b(?!\s+(?:papers?|works?|have|has|got|any|anything|something)\b)|\b(?:they|it)\s+(?:use|uses|"
                             r"used|propose|proposes|proposed|evaluate|evaluates|evaluated|train|trains|trained|"
                             r"handle|handles|handled|achieve|achieves|achieved|report|reports|reported|need|needs|"
                             r"needed|require|requires|required|rely|relies|relied|address|addresses|addressed)\b",
                             re.I)
# "which are about fairness?", "which ones use LLMs?": no paper noun, so the papers in view are meant
ELLIPTIC_WHICH = re.compile(r"^\W*(?:(?:and|so|ok|okay|now)\W+)?which\s+(?:ones?\s+|of them\s+)?(?:are|is|were|was|have|has|"
                            r"had|do|does|did|use|uses|used|mention|mentions|discuss|discusses|cover|covers)\b", re.I)
OTHERS = re.compile(r"\b(?:anything|any|something|what|who)\s+else\b|\b(?:any|some)\s+(?:other|more)\s+(?:papers?|ones|"
                    r"works?|studies)\b|\b(?:any|some)\s+others\b|\bare there (?:any )?(?:others|more)\b|"
                    r"\b(?:besides|apart from|aside from|other than|except for|beyond)\s+"
                    r"(?:(?:those|these|that|this)(?:\s+(?:ones?|papers?))?|them|it|"
                    r"the ones (?:above|you (?:listed|mentioned)))\b", re.I)
RELATIVE = re.compile(r"\b(?:(more recent|newer|later|fresher)|(older|earlier))\s+(?:ones?\s+|papers?\s+|works?\s+|"
                      r"studies\s+)?than\b", re.I)
OTHER_WORK = re.compile(r"\b(?:else|other|others|more|another|also)\b", re.I)
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
CODE_WHERE = re.compile(r"\b(?:where|link|links|url|urls|find|get|download|access|point me)\b", re.I)
LINK_WORD = re.compile(r"\b(?:link|links|url|urls|web ?page|project page|homepage)\b", re.I)
SINGULAR = re.compile(r"\b(?:which|what) (?:single |one )?(?:paper|work|study|article|publication)\b(?!s)|"
                      r"\b(?:a|one|the) (?:single )?(?:paper|work|study|article)\b (?:that|which|where|about|on|"
                      r"to|for|proposing|introducing|with)\b", re.I)
WHAT_IS_NAME = re.compile(r"^\s*(?i:what|who)(?:'s| (?i:is|was|does|are))? [A-Z0-9]")  # "What is EISAM?" (case matters)
PAPER_NOUN = re.compile(rf"\b(?:{PAPER_NOUNS_RE})\b", re.I)
WANTS_ALL = re.compile(r"\b(?:all|every|everything|full list|complete list|entire|each|list|enumerate|"
                       r"any (?:other )?(?:papers|work))\b", re.I)
PLURAL = re.compile(r"\b(?:papers|works|studies|publications|articles|ones)\b", re.I)


def linker_for(catalog: Catalog) -> Linker:
    """One Linker per catalog, built on first use and kept with it (a catalog never changes once built)."""
    linker = catalog.__dict__.get("_linker")
    if linker is None:
        linker = catalog.__dict__.setdefault("_linker", Linker(catalog))
    return linker


def parse(question: str, catalog: Catalog, listing_year: int, embed: Embed | None = None,
          noise_below: float = 0.0) -> ParsedQuery:
    """The question as a structured query. With `embed` (the embedding model), a word no paper uses joins the
    topic only when it carries at least `noise_below` of the question's meaning (rag.salience)."""
    q = ParsedQuery(question=question)
    linker = linker_for(catalog)
    text = q.text = _respell_function_words(question, linker)  # "which of thsoe …" → "which of those …"
    sp = Spans(text)

    sub = _sub_question(text)
    if sub is not None:
        # "Which papers do X, and do any of them have code?": the second clause asks about the first's answer;
        # its filters mark papers of that answer (q.annotate) instead of narrowing it
        tail = " " * sub + text[sub:]
        read_filters(tail, q, listing_year, catalog, linker, Spans(tail))
        q.annotate, q.filters = q.filters, Filters()
    read_filters(text[:sub] + " " * (len(text) - sub) if sub is not None else text, q, listing_year, catalog, linker,
             sp)
    for pid, a, b in linker.mentions(text):
        if not sp.taken(a, b) and pid not in q.mentions:
            q.mentions.append(pid)
            sp.take(a, b)
    for m in NAME_VARIANT.finditer(text):  # "MotionStone++": a name the collection does not have
        if linker.mentions(m.group(1)) and not sp.taken(*m.span(2)):
            q.unknown_names.append(m.group())
            sp.take(*m.span())

    if m := SORTED.search(sp.rest()):  # how to list, not what: "papers sorted by year"
        q.sort = "desc" if m.group("desc") or m.group("desc2") else "asc"
        sp.take(*m.span())
    one_paper = bool(ONE_PAPER.search(text) and not PLURAL.search(text)) or bool(ORDINAL.search(text)) \
        or bool(re.search(r"\b(?:has|have|with) the (?:most|fewest) (?:co-?)?authors\b", text, re.I))
    for name, pat in FACETS.items() if not (q.mentions or one_paper) else ():
        if m := pat.search(sp.rest()):
            q.facet = name
            sp.take(*m.span())
            break
    if m := RELATIVE.search(sp.rest()):  # "newer than these" compares with the papers in view; it is no order
        q.relative = "newer" if m.group(1) else "older"
        sp.take(*m.span())
    rest = sp.rest()
    if m := ORDER_DESC.search(rest):
        q.order = "desc"
        sp.take(*m.span())
    elif m := ORDER_ASC.search(rest):
        q.order = "asc"
        sp.take(*m.span())
    # "the three most recent", "5 newest", "the latest two papers"
    if q.order and (n := re.search(rf"\b({_COUNT_WORD})\s+(?:\w+\s+)?$", text[:m.start()], re.I)
                    or re.match(rf"\s+({_COUNT_WORD})\b", text[m.end():], re.I)):
        q.order_count = NUMBER_WORDS.get(n.group(1).lower()) or int(n.group(1))
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
    # read on the whole text: "VoP's first author" — the name (with its "'s") is already taken as a mention
    if (m := SCOPE_AUTHOR.search(text)) and OTHER_WORK.search(text):
        pos = (m.group("pos") or m.group("pos2") or "").lower()
        q.scope_author = {"": 0, "first": 1, "lead": 1, "main": 1, "second": 2, "third": 3, "last": -1,
                          "senior": -1}[pos]
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
        and not q.unknown_authors and not PAPER_NOUN.search(text) and q.intent != Intent.TOPIC \
        and not (q.exclude_topic and re.search(r"\b(?:everything|anything|all)\b", text, re.I))
    q.explicit_ref = strong or (weak and not own_subject and not bool(f.years or f.authors or f.categories))
    has_filters = bool(f.years or f.year_from or f.year_to or f.authors or f.categories or q.unknown_authors)
    q.refers_back = strong or (weak and not own_subject and not has_filters) or elliptic \
        or (q.ordinal is not None and not own_subject) or (q.scope_author is not None and not q.mentions)
    if q.facet:  # about the collection unless it says "those"
        q.intent = Intent.OVERVIEW
        q.refers_back = q.explicit_ref
    if q.relative:
        q.refers_back = q.refers_back or not q.mentions
        q.intent = Intent.COUNT if q.intent == Intent.COUNT else Intent.LIST
    if q.scope_author is not None:
        q.intent = Intent.COUNT if q.intent == Intent.COUNT else Intent.LIST
    q.continues = not q.refers_back and not own_subject and not inner and bool(CONTINUATION.match(text))
    # "On how many of these papers is Yuyuan Li an author?" with nothing before it: "these" is the collection
    q.standalone = bool(own_subject or f.has_metadata() or q.order or q.intent == Intent.COUNT) and q.ordinal is None \
        and not ANAPHORA.search(rest)
    if ELLIPTIC_WHICH.search(text) and not PAPER_NOUN.search(text) and not q.mentions and not inner \
            and q.intent not in (Intent.COUNT, Intent.ORDER):
        q.refers_back = q.standalone = True  # with nothing before, it asks the collection
    if OTHERS.search(text) and not q.mentions and not q.topic and q.scope_author is None and not q.relative:
        q.others = q.refers_back = True  # a plain "anything else?" with nothing before: the whole collection
    if PRONOUN_SUBJECT.search(text) and not q.mentions and q.topic and not inner and not q.is_metadata:
        q.aspect = q.refers_back = q.standalone = True  # with nothing before, the words are the subject
    if q.intent == Intent.CODE and not q.mentions and not q.refers_back:
        q.intent, q.filters.has_code = Intent.LIST, True  # "github links?" with no paper in view: papers with code
    # "how does it compare to CURE4Rec?" (the paper in view and CURE4Rec), "how do they differ?" (the papers in view)
    bare_compare = bool(COMPARE_ASK.search(text)) and not q.mentions and bool(q.topic) \
        and not COMPARE_ASK.sub("", q.topic).strip()  # "which is better?": nothing but the comparison
    if COMPARE_ASK.search(text) and not inner and (bare_compare or WEAK_REF.search(rest) and len(q.mentions) <= 1
                                                   and not q.topic):
        q.intent, q.refers_back = Intent.COMPARE, True
        if bare_compare:
            q.topic, q.salience = "", []
    if q.intent == Intent.COMPARE and len(q.mentions) < 2 and not (q.refers_back or q.continues):
        q.intent = Intent.TOPIC
    return q


# ---- topic -------------------------------------------------------------------------------------------------
_TOPIC_WORD = re.compile(r"[^\W_][^\W_]*(?:[-'][^\W_]+)*")


def _topic(q: ParsedQuery, sp: Spans, linker: Linker, embed: Embed | None, noise_below: float) -> None:
    """The words left once filters, names and cues are taken: stop and question words out (misspelt ones
    too), field abbreviations spelled out, misspellings corrected against the collection, and words no paper
    uses kept only when they carry meaning (rag.salience). Words in a negation's scope become exclude_topic."""
    rest = sp.rest()
    stop = stop_words()
    words: list[tuple[str, int, int, int, bool]] = []  # word, start, end, side, negated
    side = 0
    for m in _TOPIC_WORD.finditer(rest):
        raw = m.group()
        w = raw.lower().removesuffix("'s").removesuffix("’s")
        if w == "or":
            side += 1
            continue
        if w in stop or w in ORDINALS or len(w) < 2 or w.isdigit() or w.endswith(("n't", "n’t")) or \
                re.split(r"['’]", w)[0] in stop or (  # "I'm", "you're", "we've"
                "-" in w and all(part in stop for part in w.split("-"))):  # "related-work", "co-written"
            continue
        word = raw
        acronym = raw.isupper() and len(raw) <= 6  # "OCR", "ASR": an acronym is never a misspelt word
        if w in FIELD_ABBREVIATIONS and (raw.isupper() or w not in linker.vocabulary or len(w) > 3):
            word = FIELD_ABBREVIATIONS[w]
        elif acronym:
            pass
        elif fixed := linker.correct(w):
            q.corrections[raw] = fixed
            word = fixed
        elif fixed := linker.function_word(w, stop):
            q.corrections[raw] = fixed  # "ther" → "there", "papres" → "papers": shapes the question, no topic
            continue
        negative = is_negated(rest, m.start(), window=3)
        if negative and f"{w}-free" in linker.vocabulary:  # "need no training" is what the papers call training-free
            word, negative = f"{w}-free", False
        words.append((word, m.start(), m.end(), side, negative))
    words = _concepts(words, linker, q.text or q.question)
    unknown = [i for i, (word, *_) in enumerate(words) if not linker.known(word)]
    # In a question with filters every leftover word must carry meaning to narrow them ("How many papers are in
    # cs.CL or cs.CR combined?"); in a topic question the words the papers use stay, they are the search.
    weigh = list(range(len(words))) if q.is_metadata else unknown
    if embed is not None and (len(words) > 1 or (words and q.is_metadata)):  # one topic word carries it all
        text = q.text or q.question
        # the same model call embeds the topic as it stands (retrieval's query when no word is dropped)
        also = [" ".join(w[0] for w in words if not w[4])]
        shares = dict(enumerate(leave_out(text, [[w[1:3]] for w in words], embed, also)))
        drop = {i for i in weigh if shares[i] < noise_below}
        if side and drop:  # "climate modelling or weather forecasting": each alternative is a subject of its own
            for i in list(drop):
                own = [w for w in words if w[3] == words[i][3]]
                a, b = own[0][1], own[-1][2]
                if len(own) > 1 and leave_out(text[a:b], [[(words[i][1] - a, words[i][2] - a)]], embed)[0] \
                        >= noise_below:
                    drop.discard(i)
        if len(drop) > 1 and leave_out(text, [[words[i][1:3] for i in drop]], embed)[0] >= 2 * noise_below:
            drop = set()  # together they matter
        q.noise = [words[i][0] for i in sorted(drop)]
        q.salience = [(words[i][0], shares[i], words[i][3]) for i in range(len(words))
                      if i not in drop and not words[i][4] and not _field_name(words[i][0])]
        words = [w for i, w in enumerate(words) if i not in drop]
    else:  # not measured: every word counts as carrying the question
        q.salience = [(w[0], 1.0, w[3]) for w in words if not w[4] and not _field_name(w[0])]
    keep = [w for w, _, _, _, neg in words if not neg]
    q.topic = " ".join(keep)
    if spans := [(a, b) for _, a, b, _, neg in words if not neg]:
        q.topic_span = (spans[0][0], spans[-1][1])
    q.exclude_topic = " ".join(w for w, _, _, _, neg in words if neg)
    sides = [" ".join(w for w, _, _, s, neg in words if s == k and not neg) for k in range(side + 1)]
    sides = [s for s in sides if s]
    if len(sides) > 1:
        q.alternatives = sides


def _field_name(word: str) -> bool:
    """The name of a whole field ("AI copyright", "fairness in machine learning"): every paper here is in one,
    so it helps retrieval but is not a part of the question a paper must hold."""
    return fold(word) in FIELD_NAMES


# names of whole fields: the categories' names of more than one word ("security" alone can be the subject)
FIELD_NAMES = frozenset(fold(n) for names in CATEGORY_ALIASES.values() for n in names if " " in n)


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
    # … and about one paper of the previous answer: "does the first one have code?", "the link for the second"
    one_back = q.ordinal is not None and q.ordinal_count == 1
    if (CODE_WORD.search(text) and (CODE_WHERE.search(text) or q.mentions or one_back)
            or LINK_WORD.search(text) and (q.mentions or one_back)) and (
            q.mentions or one_back or (not PLURAL.search(text) and not other_filters)):
        q.filters.has_code = None  # "where is the code for VoP?" asks for a link, not for a filter
        return Intent.CODE
    if COMPARE_ASK.search(text) and (len(q.mentions) >= 2 or STRONG_REF.search(text) or q.ordinal_count > 1):
        return Intent.COMPARE
    if q.order:
        return Intent.ORDER
    if DETAIL_ASK.search(text) and (q.mentions or WEAK_REF.search(text) or STRONG_REF.search(text)) \
            and not PLURAL.search(text):
        return Intent.DETAIL
    if (q.is_metadata or q.sort or q.exclude_topic) and not q.topic:  # "anything not about unlearning?"
        return Intent.LIST
    if WANTS_ALL.search(text) or PLURAL.search(text) and not q.mentions:
        return Intent.LIST
    return Intent.TOPIC
