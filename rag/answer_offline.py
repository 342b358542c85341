"""The offline answerer: an answer composed only of sentences from the sources, each with its [n].

Topic questions get the sentences that answer them, led by the paper they come from; list questions a list
of papers with a one-line gist each (the sentence that says what the paper does); counts, authors and dates
come from the catalog. The only words not taken from a source are short framing ("3 papers by …:"), the
paper titles and bylines, and the authors caveat. A leading connective that points at a sentence the
answer does not show ("To address this challenge, ", "In this paper, ") is dropped from a quoted sentence,
so the rest is still verbatim."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.catalog import CATEGORY_NAMES
from rag.planning import Plan, Planner, SentenceInfo
from rag.prompts import ABSTAIN_PREFIX, AUTHORS_CAVEAT, NEAREST_TOPICS, NO_MATCH
from rag.types import Evidence, Paper

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


@dataclass
class Cited:
    evidence: Evidence
    highlights: list[str]
    snippet: str


def compose(plan: Plan, planner: Planner) -> tuple[str, list[Cited]]:
    # A list of catalog matches with no topic words ("Which papers have code?") gets gists that say what each
    # paper does, not the sentence that happens to contain the word "code".
    qterms = planner.terms(plan.topic or ("" if plan.kind in ("list", "count") else plan.parsed.question))
    quantity = bool(QUANTITY.search(plan.parsed.question))
    cited: list[Cited] = []

    def cite(ev: Evidence, sents: list[SentenceInfo]) -> str:
        texts = [s.text for s in sents]
        cited.append(Cited(ev, texts, _snippet(ev, texts)))
        return f"[{len(cited)}]"

    def pick(ev: Evidence, n: int = 1, contribution: bool = False) -> list[SentenceInfo]:
        return _best_sentences(ev.paper, qterms, planner, n, quantity, contribution)

    k = plan.kind
    caveat = bool(plan.filters.authors or plan.parsed.unknown_authors or k == "authors")
    lines: list[str] = []
    if len(plan.scope) > 1 and k in ("list", "count", "order"):
        lines.append(f"Of the {_n(len(plan.scope), 'paper')} in the previous answer:")
    if k == "abstain":
        lines.append(f"{ABSTAIN_PREFIX} {_topic_phrase(plan)}. {NEAREST_TOPICS}")
        lines.extend(f"- {p.title}" for p in plan.nearest)
    elif k == "none":
        lines.append(_none(plan))
    elif k == "count":
        n = len(plan.papers)
        lines.append(f"**{n}** paper{'s' if n != 1 else ''} {_criteria(plan)}:")
        for ev in plan.papers:
            lines.append(f"- **{ev.paper.title}** ({_when(ev.paper)}) {cite(ev, [])}")
    elif k == "authors":
        for ev in plan.papers:
            p = ev.paper
            who = f"is by {p.authors_display}" if p.authors else \
                "has no known authors: it has no entry in the listing, only an abstract"
            lines.append(f"**{p.title}** ({_when(p)}) {who} {cite(ev, [])}.")
    elif k == "order":
        first = plan.papers[0]
        word = "most recent" if plan.parsed.order == "desc" else "earliest"
        lines.append(f"The {word} is **{first.paper.title}**, published {_when(first.paper)} {cite(first, [])}.")
        if plan.also:
            later = "Before it" if plan.parsed.order == "desc" else "After it"
            shown = "; ".join(f"{_short(p)} ({_when(p)})" for p in plan.also[:MAX_ALSO])
            more = f"; and {len(plan.also) - MAX_ALSO} more" if len(plan.also) > MAX_ALSO else ""
            lines.append(f"{later}: {shown}{more}.")
    elif k == "detail":
        ev = plan.papers[0]
        sents = pick(ev, 4, contribution=True)
        lines.append(f"**{ev.paper.title}** ({_byline(ev.paper)}):")
        lines.append(f"{_join(sents)} {cite(ev, sents)}")
        if ev.paper.url:
            lines.append(f"Code or project page: {ev.paper.url}")
    elif k == "list":
        n = len(plan.papers)
        lines.append(f"{n} paper{'s' if n != 1 else ''} {_criteria(plan)}{_order_note(plan)}:")
        for ev in plan.papers:
            s = pick(ev, 1)
            lines.append(f"- **{ev.paper.title}** ({_byline(ev.paper)}): {_join(s)} {cite(ev, s)}")
    else:  # topic
        if len(plan.papers) == 1:
            ev = plan.papers[0]
            sents = pick(ev, 3, contribution=True)
            lines.append(f"**{ev.paper.title}** ({_byline(ev.paper)}):")
            lines.append(f"{_join(sents)} {cite(ev, sents)}")
        else:
            lines.append(f"{len(plan.papers)} papers in the collection bear on this, closest first:")
            for i, ev in enumerate(plan.papers):
                s = pick(ev, 2 if i == 0 else 1)  # the best match says a little more
                lines.append(f"- **{_short(ev.paper)}** ({_when(ev.paper)}): {_join(s)} {cite(ev, s)}")
    if caveat:
        lines.append(AUTHORS_CAVEAT)
    return "\n".join(lines), cited


# ---- sentence choice ----------------------------------------------------------------------------------------

def _best_sentences(paper: Paper, qterms: list[str], planner: Planner, n: int, quantity: bool,
                    contribution: bool = False) -> list[SentenceInfo]:
    """The n sentences that best answer the question: question words (IDF-weighted) first, then sentences
    that state the paper's own contribution over background ones. With `contribution`, the sentence that
    says what the paper proposes is added when the others miss it, so a one-paper answer says what the work is."""
    pr = planner.profile_of(paper.paper_id)
    if pr is None or not pr.sentences:
        return []
    q = set(qterms)
    scored = []
    for s in pr.sentences:
        score = sum(planner.vocab.idf(t) for t in q & s.terms)
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
    for p in ev.passages:
        if highlights and all(h in p.text for h in highlights):
            return p.text
    for p in ev.passages:
        if highlights and any(h in p.text for h in highlights):
            return p.text
    return ev.passages[0].text if ev.passages else ev.paper.abstract[:600]


# ---- framing --------------------------------------------------------------------------------------------------

def _criteria(plan: Plan) -> str:
    """The filters in words: 'by Yuyuan Li, from 2024 on, with released code, about “federated learning”'."""
    f = plan.filters
    parts = []
    if f.authors:
        parts.append("by " + " and ".join(f.authors))
    if f.year_from and f.year_to:
        parts.append(f"from {f.year_from}" if f.year_from == f.year_to else f"from {f.year_from} to {f.year_to}")
    elif f.year_from:
        parts.append(f"from {f.year_from} on")
    elif f.year_to:
        parts.append(f"up to {f.year_to}")
    if f.categories:
        parts.append("in " + " or ".join(f"{c} ({CATEGORY_NAMES[c][0]})" if c in CATEGORY_NAMES else c
                                         for c in f.categories))
    if f.has_code is not None:
        parts.append("with released code" if f.has_code else "without released code")
    if plan.topic:
        parts.append(f"about “{plan.topic}”")
    if not parts:
        return "in the collection" if not plan.scope else ""
    return ", ".join(parts)


def _order_note(plan: Plan) -> str:
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
    q = plan.parsed.question
    words = plan.topic.split()
    if words:
        start = q.find(words[0])
        end = q.rfind(words[-1])
        if 0 <= start <= end:
            return q[start:end + len(words[-1])]
    return (plan.topic or q).rstrip("?.! ")


def _short(p: Paper) -> str:
    """'VoP: Text-Video …' → 'VoP'; titles whose head is not a name ('A Survey on …') stay whole."""
    head = p.title.split(":")[0]
    return head if ":" in p.title and " " not in head.strip() else p.title


def _when(p: Paper) -> str:
    if not p.date:
        return "date unknown"
    return f"{p.date}, {p.year}" if p.year_inferred else p.date


def _byline(p: Paper) -> str:
    bits = [p.authors_display if p.authors else "authors unknown", _when(p)]
    if p.category:
        bits.append(p.category)
    return ", ".join(bits)

