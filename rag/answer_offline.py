"""The offline answerer: an answer composed only of sentences from the sources, each with its [n].

Topic questions get the sentences that answer them, led by the paper they come from; list questions a list
of papers with a one-line gist each (the sentence that says what the paper does); counts, authors and dates
come from the catalog. The only words not taken from a source are short framing ("3 papers by …:"), the
paper titles and bylines, and the authors caveat. A leading connective that points at a sentence the
answer does not show ("To address this challenge, ", "In this paper, ") is dropped from a quoted sentence,
so the rest is still verbatim."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from rag.catalog import fold
from rag.formatting import authors_text, byline, paper_when, short_name
from rag.lexicon import CATEGORY_LABELS
from rag.planning import Plan
from rag.planning import PlanKind as K
from rag.prompts import ABSTAIN_PREFIX, AUTHORS_CAVEAT, NEAREST_TOPICS, NO_MATCH
from rag.term_stats import SentenceInfo, TermStats
from rag.types import MONTH_NAMES, POSITION_WORDS, Evidence, Filters, Paper

QUANTITY = re.compile(r"\b(how (?:many|much|large|big|long)|what (?:size|number|percentage|gain|improvement|"
                      r"average)|by how much)\b", re.I)
CONNECTIVE = re.compile(
    r"^(?:(?:to (?:address|tackle|solve|bridge|fill|overcome|resolve|mitigate|remedy|handle|answer|close|achieve|"
    r"this end)\b[^,]{0,50}|in this (?:paper|work|study|article|survey)|specifically|furthermore|moreover|"
    r"additionally|in addition|besides|however|finally|then|subsequently|therefore|thus|hence|consequently|"
    r"motivated by [^,]{0,50}|building on [^,]{0,60}|based on (?:this|these|the above)[^,]{0,30}|"
    r"on the (?:one|other) hand|in particular|to (?:this|that) end|as a result|first(?:ly)?|second(?:ly)?),\s+)",
    re.I)


MAX_ALSO = 5  # an order answer names at most this many of the other papers
# a sentence that opens by pointing at the one before it: "It cannot be …", "Due to … its …", "These …"
POINTS_BACK = re.compile(r"^(?:\W*\w+\W+){0,8}?(?:it|its|these|they|their|such|this(?! (?:paper|work|study|survey|"
                         r"article|framework)))\b", re.I)
Closeness = Callable[[str, list[str]], list[float]]


@dataclass
class Cited:
    evidence: Evidence
    highlights: list[str]
    snippet: str


def compose(plan: Plan, stats: TermStats, closeness: Closeness | None = None) -> tuple[str, list[Cited]]:
    """The answer text for a plan, and the sources it cites in [n] order: works from the plan it is given
    (and the collection's term statistics and, when given, `closeness` of the question to sentences, to pick
    sentences), never calls back into planning."""
    # A list of catalog matches with no topic words ("Which papers have code?") gets gists that say what each
    # paper does, not the sentence that happens to contain the word "code".
    qterms = stats.terms(plan.topic or ("" if plan.kind in (K.LIST, K.COUNT) else plan.parsed.question))
    quantity = bool(QUANTITY.search(plan.parsed.question))
    cited: list[Cited] = []

    def cite(ev: Evidence, sents: list[SentenceInfo]) -> str:
        texts = [s.text for s in sents]
        cited.append(Cited(ev, texts, _snippet(ev, texts)))
        return f"[{len(cited)}]"

    def pick(ev: Evidence, n: int = 1, contribution: bool = False) -> list[SentenceInfo]:
        near = (lambda sents: closeness(plan.parsed.text or plan.parsed.question, sents)) if closeness else None
        return _best_sentences(ev, qterms, stats, n, quantity, contribution, near)

    k = plan.kind
    # only the first three authors are known where a source cut the list: say so when authors decide the answer
    truncated = any(e.paper.authors_truncated for e in plan.papers) or (
        not plan.papers and any(p.authors_truncated for p in stats.catalog.papers))
    caveat = truncated and bool(plan.filters.authors or plan.filters.exclude_authors or plan.parsed.unknown_authors
                                or k == K.AUTHORS)
    lines: list[str] = [plan.note] if plan.note else []
    if len(plan.scope) > 1 and k in (K.LIST, K.COUNT, K.ORDER) and not plan.parsed.facet:
        lines.append(f"Of the {_n(len(plan.scope), 'paper')} in the previous answer:")
    if k == K.ABSTAIN:
        lines.append(f"{ABSTAIN_PREFIX} {_topic_phrase(plan)}. {NEAREST_TOPICS}")
        lines.extend(f"- {p.title}" for p in plan.nearest)
    elif k in (K.NO_HISTORY, K.CONFLICT):
        lines.append(plan.message)
    elif k == K.NONE:
        lines.append(plan.message or _none(plan))
    elif k == K.COUNT:
        n = len(plan.papers)
        lines.append(_headed(f"**{n}** paper{'s' if n != 1 else ''}", _criteria(plan)) + ":")
        for ev in plan.papers:
            lines.append(f"- **{ev.paper.title}** ({paper_when(ev.paper)}) {cite(ev, [])}")
    elif k == K.OVERVIEW:
        lines.extend(_overview(plan))
        caveat = caveat or (plan.parsed.facet == "authors" and any(p.authors_truncated for p in plan.scope))
    elif k == K.AUTHORS:
        for ev in plan.papers:
            p = ev.paper
            who = f"is by {authors_text(p.authors, p.authors_truncated)}" if p.authors else \
                "has no known authors: it has no entry in the listing, only an abstract"
            lines.append(f"**{p.title}** ({paper_when(p)}) {who} {cite(ev, [])}.")
    elif k == K.ORDER and len(plan.papers) > 1:
        word = "most recent" if plan.parsed.order == "desc" else "earliest"
        lines.append(f"The {len(plan.papers)} {word} papers{' ' + _criteria(plan) if _criteria(plan) else ''}:")
        for ev in plan.papers:
            p = ev.paper
            lines.append(f"- **{p.title}** by {authors_text(p.authors, p.authors_truncated)}, published "
                         f"{paper_when(p)} {cite(ev, [])}")
    elif k == K.ORDER:
        first = plan.papers[0]
        word = "most recent" if plan.parsed.order == "desc" else "earliest"
        p0 = first.paper
        lines.append(f"The {word} is **{p0.title}** by {authors_text(p0.authors, p0.authors_truncated)}, published "
                     f"{paper_when(p0)} {cite(first, [])}.")
        if plan.also:
            later = "Before it" if plan.parsed.order == "desc" else "After it"
            shown = "; ".join(f"{short_name(p)} ({paper_when(p)})" for p in plan.also[:MAX_ALSO])
            more = f"; and {len(plan.also) - MAX_ALSO} more" if len(plan.also) > MAX_ALSO else ""
            lines.append(f"{later}: {shown}{more}.")
    elif k == K.CODE:
        for ev in plan.papers:
            p = ev.paper
            if p.url and p.has_code:
                lines.append(f"Code for **{short_name(p)}**: {p.url} {cite(ev, [])}")
            elif p.url:
                lines.append(f"**{short_name(p)}** links to {p.url} (a project page or other link; no code release is "
                             f"recorded for it) {cite(ev, [])}")
            elif p.has_code:
                lines.append(f"**{p.title}** is marked as having released code in the listing, but the collection "
                             f"holds no link to it {cite(ev, [])}.")
            else:
                lines.append(f"The collection records no code release for **{p.title}** {cite(ev, [])}.")
    elif k == K.COMPARE:
        lines.append(f"Side by side ({_n(len(plan.papers), 'paper')}):")
        for ev in plan.papers:
            aspects = _aspects(ev.paper, qterms, stats)
            parts = "; ".join(f"*{label}*: {trim(s.text).rstrip('.')}" for label, s in aspects)
            lines.append(f"- **{short_name(ev.paper)}** ({paper_when(ev.paper)}) — {parts} "
                         f"{cite(ev, [s for _, s in aspects])}")
    elif k == K.DETAIL:
        ev = plan.papers[0]
        sents = pick(ev, 4, contribution=True)
        lines.append(f"**{ev.paper.title}** ({byline(ev.paper)}):")
        lines.append(f"{_join(sents)} {cite(ev, sents)}")
        if ev.paper.url:
            lines.append(f"Code or project page: {ev.paper.url}")
    elif k == K.LIST:
        n = len(plan.papers)
        lines.append(_headed(f"{n} paper{'s' if n != 1 else ''}", _criteria(plan)) + f"{_order_note(plan)}:")
        show_links = plan.filters.has_code is True
        for ev in plan.papers:
            s = pick(ev, 1)
            link = f" Code: {ev.paper.url}" if show_links and ev.paper.url else ""
            lines.append(f"- **{ev.paper.title}** ({byline(ev.paper)}): {_join(s)} {cite(ev, s)}{link}")
    else:  # topic
        if len(plan.papers) == 1:
            ev = plan.papers[0]
            # four sentences: a detail question's answer often lacks the question's words (dev facts 0.944 →
            # 0.955 against three; answer similarity 0.592 → 0.589)
            sents = pick(ev, 4, contribution=True)
            lines.append(f"**{ev.paper.title}** ({byline(ev.paper)}):")
            lines.append(f"{_join(sents)} {cite(ev, sents)}")
        else:
            order = {"asc": "oldest first", "desc": "newest first"}.get(plan.parsed.sort, "closest first")
            lines.append(f"{len(plan.papers)} papers in the collection bear on this, {order}:")
            for i, ev in enumerate(plan.papers):
                s = pick(ev, 2 if i == 0 else 1)  # the best match says a little more
                lines.append(f"- **{short_name(ev.paper)}** ({paper_when(ev.paper)}): {_join(s)} {cite(ev, s)}")
    if plan.parsed.annotate.has_metadata() and plan.papers and k in (K.LIST, K.TOPIC, K.DETAIL):
        lines.append(_annotation(plan, stats))
    if caveat:
        lines.append(AUTHORS_CAVEAT)
    return "\n".join(lines), cited


MAX_FACET = 15  # an overview names at most this many authors, categories or years


def _overview(plan: Plan) -> list[str]:
    """Counts of the papers in plan.scope by author, category or year, most first (years in order)."""
    papers, facet = plan.scope, plan.parsed.facet
    counts: dict[str, int] = {}
    spelled: dict[str, str] = {}  # one author under one spelling ("XiaoHua Feng" is "Xiaohua Feng")
    for p in papers:
        keys = p.authors if facet == "authors" else ([p.category] if p.category else []) if facet == "categories" \
            else [str(p.year)] if p.year else []
        for key in dict.fromkeys(spelled.setdefault(fold(k), k) for k in keys) or ["(not recorded)"]:
            counts[key] = counts.get(key, 0) + 1
    if facet == "years":
        rows = sorted(counts.items(), key=lambda kv: (kv[0] == "(not recorded)", kv[0]))
    else:
        rows = sorted(counts.items(), key=lambda kv: (kv[0] == "(not recorded)", -kv[1], kv[0]))

    def label(key: str) -> str:
        return f"{key} ({CATEGORY_LABELS[key]})" if facet == "categories" and key in CATEGORY_LABELS else key

    named, many = {"authors": ("author", "authors"), "categories": ("category", "categories"),
                   "years": ("year", "years")}[facet]
    criteria = _criteria(plan)
    head = f"{_n(len(papers), 'paper')}{' ' + criteria if criteria else ' in the collection'}, by {named} " \
           f"({len([k for k in counts if k != '(not recorded)'])} different {many}):"
    lines = [head]
    lines.extend(f"- {label(key)}: {n}" for key, n in rows[:MAX_FACET])
    if len(rows) > MAX_FACET:
        lines.append(f"- and {len(rows) - MAX_FACET} more, with {_n(sum(n for _, n in rows[MAX_FACET:]), 'paper')}"
                     f" between them" if facet != "authors" else f"- and {len(rows) - MAX_FACET} more")
    return lines


def _annotation(plan: Plan, stats: TermStats) -> str:
    """The answer to a second clause about the first one's papers ("…, and do any of them have code?")."""
    f = plan.parsed.annotate
    shown = [e.paper for e in plan.papers]
    match = stats.catalog.filter(Filters(**{**f.__dict__, "paper_ids": [p.paper_id for p in shown]}))
    what = f.describe()
    if not match:
        return f"None of {'them' if len(shown) > 1 else 'it'} matches “{what}”."
    names = []
    for p in match:
        link = f" ({p.url})" if f.has_code and p.url else ""
        names.append(f"{short_name(p)}{link}")
    return f"{'Of these, ' if len(shown) > 1 else ''}{what}: " + "; ".join(names) + "."


# What a comparison sets side by side, and how each aspect's sentence is recognised.
ASPECTS = (
    ("proposes", None),
    ("how", re.compile(r"\b(?:by|through|via|using|leverag\w+|consist\w*|compris\w+|design\w*|modul\w+|"
                       r"mechanism|framework|strategy|approach|loss|optimi\w+)\b", re.I)),
    ("evaluated on", re.compile(r"\b(?:experiment\w*|dataset\w*|benchmark\w*|evaluat\w+|results?|outperform\w*)\b",
                                re.I)),
)


def _aspects(paper: Paper, qterms: list[str], stats: TermStats) -> list[tuple[str, SentenceInfo]]:
    """One sentence per aspect — what the paper proposes, how, on what data — each used once."""
    pr = stats.profile_of(paper.paper_id)
    if pr is None or not pr.sentences:
        return []
    out: list[tuple[str, SentenceInfo]] = []
    used: set[int] = set()
    for label, cue in ASPECTS:
        if cue is None:
            s = next((s for s in pr.sentences if s.named), None) or next((s for s in pr.sentences if s.proposal), None)
        else:
            s = next((s for s in pr.sentences if s.position not in used and cue.search(s.text) and not s.background),
                     None)
        if s is not None and s.position not in used:
            out.append((label, s))
            used.add(s.position)
    return out


# ---- sentence choice ----------------------------------------------------------------------------------------

def _best_sentences(ev: Evidence, qterms: list[str], stats: TermStats, n: int, quantity: bool,
                    contribution: bool = False,
                    near: Callable[[list[str]], list[float]] | None = None) -> list[SentenceInfo]:
    """The n sentences that best answer the question: question words (IDF-weighted) and closeness in meaning
    (`near`: rag.relevance.Relevance.sentence_scores) first, then sentences that state the paper's own contribution over background ones. With
    `contribution`, the sentence that says what the paper proposes is added when the others miss it, so a
    one-paper answer says what the work is. A chosen sentence that points back ("it cannot be applied …")
    brings the sentence before it."""
    pr = stats.profile_of(ev.paper.paper_id)
    if pr is None or not pr.sentences:
        return []
    q = set(qterms)
    scored = []
    # the abstract's sentences, and those of retrieved pages of the paper's PDF (a body-only fact is there)
    body = [s for p in ev.passages if p.page is not None for s in stats.passage_sentences(p.text)]
    candidates = [*pr.sentences, *body]
    meaning = near([s.text for s in candidates]) if near else [0.0] * len(candidates)
    for s, cos in zip(candidates, meaning, strict=True):
        score = sum(stats.vocab.idf(t) for t in q & s.terms) + cos
        score += 1.5 * s.proposal + 0.5 * s.own + 0.5 * s.named - 1.0 * s.background
        if quantity and re.search(r"\d", s.text):
            score += 2.0
        score -= 0.05 * s.position  # earlier sentences state the contribution; break ties towards them
        scored.append((score, s))
    top = [s for _, s in sorted(scored, key=lambda t: -t[0])[:n]]
    if contribution:  # the sentence that names what the paper proposes, else one that states the contribution
        named = next((s for s in pr.sentences if s.named), None)
        claim = named if named and not any(s.named for s in top) else None
        if claim is None and not any(s.named or s.proposal for s in top):
            claim = next((s for s in pr.sentences if s.proposal), None)
        if claim and claim not in top:
            top.append(claim)
    for s in list(top):
        if s in pr.sentences and s.position > 0 and POINTS_BACK.match(trim(s.text)) and \
                (before := pr.sentences[s.position - 1]) not in top:
            top.append(before)
    return sorted(top, key=lambda s: s.position)  # keep the abstract's order


def trim(sentence: str) -> str:
    """Drop a leading connective that points at context the answer does not show; the rest is verbatim."""
    m = CONNECTIVE.match(sentence)
    if not m or len(sentence) - m.end() < 30:
        return sentence
    rest = sentence[m.end():]
    return rest[0].upper() + rest[1:]


def _join(sents: list[SentenceInfo]) -> str:
    return " ".join(trim(s.text) for s in sents)


def _snippet(ev: Evidence, highlights: list[str]) -> str:
    for p in ev.passages:  # a quoted sentence from a PDF page: show that page (its citation names the page)
        if p.page is not None and any(h in p.text for h in highlights):
            return p.text
    for p in ev.passages:
        if highlights and all(h in p.text for h in highlights):
            return p.text
    for p in ev.passages:
        if highlights and any(h in p.text for h in highlights):
            return p.text
    return ev.passages[0].text if ev.passages else ev.paper.abstract[:600]


# ---- framing --------------------------------------------------------------------------------------------------

def _criteria(plan: Plan) -> str:
    """The filters in words: 'by Yuyuan Li (first author), from 2022 or 2024, with released code, about “…”'."""
    f = plan.filters
    parts = []
    if f.authors:
        where = POSITION_WORDS.get(f.author_position or 0)
        parts.append("by " + (" or " if f.any_author else " and ").join(f.authors)
                     + (f" as {where} author" if where else ""))
    if f.exclude_authors:
        parts.append("not by " + " or ".join(f.exclude_authors))
    if f.years:
        parts.append("from " + " or ".join(map(str, f.years)))
    if f.year_from and f.year_to:
        parts.append(f"from {f.year_from}" if f.year_from == f.year_to else f"from {f.year_from} to {f.year_to}")
    elif f.year_from:
        parts.append(f"from {f.year_from} on")
    elif f.year_to:
        parts.append(f"up to {f.year_to}")
    if f.exclude_years:
        parts.append("not from " + " or ".join(map(str, f.exclude_years)))
    if f.months:
        parts.append("published in " + " or ".join(MONTH_NAMES[m - 1] for m in f.months))
    if f.undated:
        parts.append("whose sources give no year")
    if f.categories:
        parts.append("in " + " or ".join(f"{c} ({CATEGORY_LABELS[c]})" if c in CATEGORY_LABELS else c
                                         for c in f.categories))
    if f.exclude_categories:
        parts.append("outside " + " and ".join(f"{c} ({CATEGORY_LABELS.get(c, c)})" for c in f.exclude_categories))
    if f.has_code is not None:
        parts.append("with released code" if f.has_code else "without released code")
    if plan.topic:
        parts.append(f"about “{plan.topic}”")
    if plan.parsed.exclude_topic:
        parts.append(f"not about “{plan.parsed.exclude_topic}”")
    if not parts:
        return "in the collection" if not plan.scope else ""
    return ", ".join(parts)


def _headed(count: str, criteria: str) -> str:
    return f"{count} {criteria}" if criteria else count


def _order_note(plan: Plan) -> str:
    if plan.parsed.sort and len(plan.papers) > 1:
        return ", newest first" if plan.parsed.sort == "desc" else ", oldest first"
    return ", newest first" if len(plan.papers) > 2 and not plan.scope else ""


def _n(k: int, word: str) -> str:
    return f"{k} {word}{'s' if k != 1 else ''}"


def _none(plan: Plan) -> str:
    if plan.parsed.unknown_authors:
        return f"No paper in the collection lists {' or '.join(plan.parsed.unknown_authors)} as an author."
    crit = _criteria(plan).strip()
    if len(plan.scope) == 1:
        return f"No: **{plan.scope[0].title}** is not among the papers {crit}."
    if plan.scope:
        return f"None of the {len(plan.scope)} papers in the previous answer is among the papers {crit}."
    return f"{NO_MATCH} {crit}." if crit and crit != "in the collection" else f"{NO_MATCH} the question."


def _topic_phrase(plan: Plan) -> str:
    """The question's subject as the user wrote it: from its first to its last topic word
    ("graph neural networks for traffic forecasting"), else the topic words."""
    if plan.parsed.topic_span:
        a, b = plan.parsed.topic_span
        return (plan.parsed.text or plan.parsed.question)[a:b]
    q = plan.parsed.question
    words = plan.topic.split()
    if words:
        start = q.find(words[0])
        end = q.rfind(words[-1])
        if 0 <= start <= end:
            return q[start:end + len(words[-1])]
    return (plan.topic or q).rstrip("?.! ")
