"""The offline answerer: an answer composed only of sentences from the sources, each with its [n].
Topic questions get the sentences that answer them, grouped by paper; list questions a list of papers
with a one-line gist each; counts, authors and dates come from the catalog."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.planning import Plan, Planner
from rag.prompts import ABSTAIN_PREFIX, AUTHORS_CAVEAT, NO_MATCH
from rag.text import sentences, terms
from rag.types import Evidence, Filters, Paper

PROPOSAL = re.compile(r"\b(we (?:then |further |also |first )?(?:propose|introduce|present|develop|construct|design|conduct|reproduce|"
                      r"systematize|derive)|this (?:paper|work|survey|article)|in this (?:paper|work|survey)|"
                      r"to (?:address|bridge|tackle|fill) (?:this|these)|is (?:a|an|the first) )", re.I)
NAMED_CLAIM = re.compile(r"\bwe (?:then |further |also |first )?(?:propose|introduce|present|develop)\b[^.]*\b[A-Z][\w-]*[A-Z]", re.I)
QUANTITY = re.compile(r"\b(how (?:many|much|large|big)|what (?:size|number|percentage|gain|improvement))\b", re.I)


@dataclass
class Cited:
    evidence: Evidence
    highlights: list[str]
    snippet: str


def compose(plan: Plan, planner: Planner) -> tuple[str, list[Cited]]:
    qterms = terms(plan.topic or plan.parsed.question)
    quantity = bool(QUANTITY.search(plan.parsed.question))
    cited: list[Cited] = []

    def cite(ev: Evidence, sents: list[str]) -> str:
        cited.append(Cited(ev, sents, _snippet(ev, sents)))
        return f"[{len(cited)}]"

    def best(ev: Evidence, n: int = 1, contribution: bool = False) -> list[str]:
        return _best_sentences(ev.paper, qterms, planner, n, quantity, contribution)

    k = plan.kind
    caveat = bool(plan.filters.authors or plan.parsed.unknown_authors or k == "authors")
    lines: list[str] = []
    if k == "abstain":
        near = "; ".join(_short(p) for p in plan.nearest) or "none"
        lines.append(f"{ABSTAIN_PREFIX} {plan.topic.rstrip('?.')}. "
                     f"The nearest topics it does cover are in: {near}.")
    elif k == "none":
        what = plan.filters.describe() or ""
        if plan.parsed.unknown_authors:
            what = "author " + " and ".join(plan.parsed.unknown_authors)
        extra = f" about “{plan.topic}”" if plan.topic and not plan.parsed.unknown_authors else ""
        lines.append(f"{NO_MATCH} {what}{extra}.".replace("  ", " "))
    elif k == "count":
        n = len(plan.papers)
        lines.append(f"**{n}** paper{'s' if n != 1 else ''} match{'es' if n == 1 else ''} "
                     f"({_criteria(plan)}):")
        for ev in plan.papers:
            lines.append(f"- **{ev.paper.title}** ({_when(ev.paper)}) {cite(ev, [])}")
    elif k == "authors":
        for ev in plan.papers:
            p = ev.paper
            who = p.authors_display if p.authors else "unknown authors (this paper has no listing entry)"
            lines.append(f"**{p.title}** is by {who} {cite(ev, [])}.")
    elif k == "order":
        first, rest = plan.papers[0], plan.papers[1:]
        word = "most recent" if plan.parsed.order == "desc" else "earliest"
        lines.append(f"The {word} is **{first.paper.title}**, published {_when(first.paper)} {cite(first, [])}.")
        if rest:
            lines.append("The others, in order:")
            for ev in rest:
                lines.append(f"- **{ev.paper.title}** ({_when(ev.paper)}) {cite(ev, [])}")
    elif k == "detail":
        ev = plan.papers[0]
        sents = best(ev, 4, contribution=True)
        lines.append(f"**{ev.paper.title}** ({_byline(ev.paper)}): {' '.join(sents)} {cite(ev, sents)}")
        if ev.paper.url:
            lines.append(f"Code or project page: {ev.paper.url}")
    elif k == "list":
        n = len(plan.papers)
        head = f"{n} paper{'s' if n != 1 else ''}"
        verb = "matches" if n == 1 else "match"
        lines.append(f"{head} {verb} ({_criteria(plan)}):" if (plan.filters.describe() or plan.topic) else f"{head}:")
        for ev in plan.papers:
            s = best(ev, 1)
            lines.append(f"- **{ev.paper.title}** ({_byline(ev.paper)}): {' '.join(s)} {cite(ev, s)}")
    else:  # topic
        if len(plan.papers) == 1:
            ev = plan.papers[0]
            sents = best(ev, 3, contribution=True)
            lines.append(f"{' '.join(sents)} {cite(ev, sents)}")
            lines.append(f"(From **{ev.paper.title}**, {_byline(ev.paper)}.)")
        else:
            lines.append(f"{len(plan.papers)} papers in the collection bear on this:")
            for i, ev in enumerate(plan.papers):
                s = best(ev, 2 if i == 0 else 1)  # the best match says a little more
                lines.append(f"- **{_short(ev.paper)}** ({_when(ev.paper)}): {' '.join(s)} {cite(ev, s)}")
    if plan.parsed.refers_back and plan.filters.paper_ids and k not in ("abstain",):
        n = len(plan.filters.paper_ids)
        lines.insert(0, f"Looking at the {n} paper{'s' if n != 1 else ''} from the previous answer:")
    if caveat:
        lines.append(AUTHORS_CAVEAT)
    return "\n".join(lines), cited


def _criteria(plan: Plan) -> str:
    own = Filters(**{**plan.filters.__dict__, "paper_ids": []})  # the scope is said once, in the preamble
    parts = [x for x in [own.describe(),
                         f"about “{plan.topic}”" if plan.topic else ""] if x]
    return "; ".join(parts) or "all papers"


def _best_sentences(paper: Paper, qterms: list[str], planner: Planner, n: int, quantity: bool,
                    contribution: bool = False) -> list[str]:
    """The n sentences that best answer the question; with `contribution`, also the sentence that states
    what the paper does ("we propose …") so a one-paper answer says what the work is."""
    sents = sentences(paper.abstract)
    if not sents:
        return []
    scored = []
    for i, s in enumerate(sents):
        st = set(terms(s))
        score = planner.vocab.overlap(qterms, st)
        if PROPOSAL.search(s):
            score += 1.5
        if quantity and re.search(r"\d", s):
            score += 2.0
        score -= 0.05 * i  # earlier sentences state the contribution; break ties towards them
        scored.append((score, i, s))
    top = sorted(scored, key=lambda t: -t[0])[:n]
    if contribution:
        claim = next(((sc, i, s) for sc, i, s in scored if NAMED_CLAIM.search(s)), None) or next(
            ((sc, i, s) for sc, i, s in scored if PROPOSAL.search(s)), None)
        if claim and claim not in top:
            top.append(claim)
    return [s for _, _, s in sorted(top, key=lambda t: t[1])]  # keep the abstract's order


def _snippet(ev: Evidence, highlights: list[str]) -> str:
    for p in ev.passages:
        if highlights and all(h in p.text for h in highlights):
            return p.text
    for p in ev.passages:
        if highlights and any(h in p.text for h in highlights):
            return p.text
    return ev.passages[0].text if ev.passages else ev.paper.abstract[:600]


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
