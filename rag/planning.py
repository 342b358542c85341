"""Question (ParsedQuery) → Plan: which papers answer it and in what shape. The planner routes; it does not
judge relevance (rag.relevance does) or write text (the answerers do).

- Named papers ("What is EISAM?", "compare LASER and CURE4Rec", "where is the code for VoP") are answered
  from those papers.
- Metadata questions (filters, a follow-up's scope, counts and orderings of the whole catalog) are answered
  from the catalog: every match, exact counts; topic words left in them keep only the matches judged relevant.
- Topic questions go through hybrid retrieval and the relevance judgement: abstain when no paper is about the
  question, otherwise cite every paper that is (one, when the question asks for one paper).
- Follow-ups resolve "those", "it", "the second one" against the papers the previous answer cited."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum

from rag.catalog import Catalog, chronological, newest_first, sort_key
from rag.conversation import Conversation
from rag.formatting import short_name
from rag.prompts import FILTER_CONFLICT, NO_HISTORY, NO_HISTORY_HINT
from rag.query_filters import merge
from rag.query_parser import PLURAL, Intent, ParsedQuery, linker_for
from rag.relevance import Relevance
from rag.retrieval import Index
from rag.settings import RelevanceSettings
from rag.term_stats import TermStats
from rag.types import Evidence, Filters, Paper, Turn


class PlanKind(StrEnum):
    ABSTAIN = "abstain"  # nothing in the collection is about the question
    NONE = "none"  # a catalog question no paper matches (or an unknown author, an impossible year)
    NO_HISTORY = "no_history"  # a follow-up with no earlier answer to refer to
    CONFLICT = "conflict"  # the question and the chat's filters exclude each other
    TOPIC = "topic"
    LIST = "list"
    COUNT = "count"
    AUTHORS = "authors"
    DETAIL = "detail"
    ORDER = "order"
    COMPARE = "compare"
    CODE = "code"
    OVERVIEW = "overview"  # counts by author, category or year (Plan.scope: the papers counted)


@dataclass
class Plan:
    parsed: ParsedQuery
    kind: PlanKind
    papers: list[Evidence] = field(default_factory=list)  # to cite, in order
    ranked: list[Evidence] = field(default_factory=list)  # what retrieval returned, best first
    topic: str = ""
    filters: Filters = field(default_factory=Filters)
    scope: list[Paper] = field(default_factory=list)  # the previous answer's papers a follow-up refers to
    nearest: list[Paper] = field(default_factory=list)  # for abstentions
    also: list[Paper] = field(default_factory=list)  # order answers: the other papers, in order, not cited
    message: str = ""  # why nothing is cited (none / conflict / no history), in words
    relevance: dict[str, float] = field(default_factory=dict)  # paper id → judged probability (topic plans)
    note: str = ""  # said before the answer: how the plan differs from what was asked (a filter let go)


class Planner:
    def __init__(self, index: Index, settings: RelevanceSettings | None = None) -> None:
        self.index = index
        self.catalog: Catalog = index.catalog
        self.stats = TermStats(self.catalog)
        linker_for(self.catalog).warm()  # built with the planner, so the first question pays nothing
        self.settings = settings or index.settings.relevance
        self.relevance = Relevance(index, self.stats, self.settings)
        self.conversation = Conversation(self.catalog)

    # ---- entry ---------------------------------------------------------------------------------------
    def plan(self, parsed: ParsedQuery, history: list[Turn], extra: Filters | None = None,
             mode: str = "hybrid", use_metadata: bool = True) -> Plan:
        own = parsed.filters if use_metadata else Filters()
        f = merge(own, extra)
        if use_metadata:
            if parsed.bad_years:
                years = self.catalog.years
                span = f"{years[0]}–{years[-1]}" if years else "no years"
                return Plan(parsed, PlanKind.NONE, filters=f, message=(
                    f"No paper is from {' or '.join(map(str, parsed.bad_years))}: the collection's papers are "
                    f"dated {span}."))
            if parsed.unknown_authors and not f.authors:
                return Plan(parsed, PlanKind.NONE, filters=f, topic=", ".join(parsed.unknown_authors), message=(
                    f"No paper in the collection lists {' or '.join(parsed.unknown_authors)} as an author."))
            if conflict := self._conflict(own, extra):
                return Plan(parsed, PlanKind.CONFLICT, filters=f, message=conflict)
        if parsed.unknown_names:
            return Plan(parsed, PlanKind.NONE, filters=f, topic=", ".join(parsed.unknown_names),
                        message=self._unknown_names(parsed.unknown_names))
        scope: list[Paper] | None = None
        if parsed.refers_back:
            scope = self.conversation.scope(parsed, history)
            if scope is None and parsed.intent == Intent.CODE and not parsed.mentions and not parsed.explicit_ref:
                f.has_code = True  # "github links?" with nothing in view: every paper with code, with its link
                ev = [self._evidence(p) for p in newest_first(self.catalog.filter(f))]
                return Plan(parsed, PlanKind.CODE if ev else PlanKind.NONE, papers=ev, ranked=ev, filters=f)
            if scope is None and not parsed.standalone:
                return Plan(parsed, PlanKind.NO_HISTORY, filters=f, message=f"{NO_HISTORY} {NO_HISTORY_HINT}")
            if scope is not None and parsed.relation:
                related = self.conversation.related(self.conversation.pick(scope, parsed), parsed.relation)
                if not related:
                    return Plan(parsed, PlanKind.NONE, filters=f, message=self.conversation.no_relation(scope, parsed.relation))
                scope = related
            if scope is not None:
                f.paper_ids = [p.paper_id for p in scope]
        elif parsed.continues and (scope := self.conversation.scope(parsed, history)) is not None:
            f.paper_ids = [p.paper_id for p in scope]  # "and from 2025?" narrows the previous answer
        if scope is None and extra is not None and extra.paper_ids:
            # papers chosen in the UI ("Ask about this paper"): the question is about exactly those
            pinned = [self.catalog.by_id[i] for i in extra.paper_ids if i in self.catalog.by_id]
            return self._pinned_plan(parsed, f, pinned, parsed.intent if use_metadata else Intent.TOPIC)
        intent = parsed.intent if use_metadata else Intent.TOPIC
        named = [self.catalog.by_id[i] for i in parsed.mentions if i in self.catalog.by_id]
        if named and parsed.relation and scope is None:  # "is there a reproducibility companion for In-UCDS?"
            related = self.conversation.related(named, parsed.relation)
            if not related:
                return Plan(parsed, PlanKind.NONE, filters=f, message=self.conversation.no_relation(named, parsed.relation))
            named = related

        if parsed.others and use_metadata and scope is not None:
            return self._others_plan(parsed, f, scope, intent, mode)
        if intent == Intent.OVERVIEW:
            return self._overview_plan(parsed, f, scope, mode)
        if parsed.relative and use_metadata:
            return self._relative_plan(parsed, f, named or scope or [], intent, mode)
        if parsed.scope_author is not None and use_metadata:
            return self._scope_author_plan(parsed, f, named or (self.conversation.pick(scope, parsed) if scope else []),
                                           intent, mode)
        if intent == Intent.CODE:
            targets = named or (self.conversation.pick(scope, parsed) if scope else [])
            return self._named_plan(parsed, PlanKind.CODE, targets, f)
        if intent == Intent.COMPARE:
            targets = named if len(named) >= 2 else (self.conversation.pick(scope, parsed) if scope else named)
            if scope and len(named) == 1:  # "how does it compare to CURE4Rec?": the paper in view and the named one
                targets = [p for p in targets if p.paper_id != named[0].paper_id][:1] + named
                f = replace(f, paper_ids=[p.paper_id for p in targets])
            return self._named_plan(parsed, PlanKind.COMPARE, targets, f)
        if named and scope is None and intent not in (Intent.LIST, Intent.COUNT) and not f.has_metadata():
            kind = {Intent.AUTHORS: PlanKind.AUTHORS, Intent.DETAIL: PlanKind.DETAIL,
                    Intent.ORDER: PlanKind.ORDER}.get(intent, PlanKind.TOPIC)
            return self._named_plan(parsed, kind, named, f)
        whole_catalog = use_metadata and not parsed.topic and intent in (Intent.COUNT, Intent.ORDER, Intent.LIST)
        if scope is not None or (use_metadata and f.has_metadata()) or whole_catalog:
            plan = self._catalog_plan(parsed, f, scope, intent, mode)
            if plan.kind == PlanKind.NONE and parsed.topic and own.categories and scope is None:
                # "computer vision work on whether models understand humor": the topic is there, in another area
                wider = merge(replace(own, categories=[]), extra)
                other = self._catalog_plan(parsed, wider, None, intent, mode) if wider.has_metadata() \
                    else self._topic_plan(parsed, wider, intent, mode)
                if other.papers:
                    other.note = f"No paper in {' or '.join(own.categories)} is about “{parsed.topic}”; in other areas:"
                    return other
            return plan
        return self._topic_plan(parsed, f, intent, mode)

    # ---- routes --------------------------------------------------------------------------------------
    def _named_plan(self, parsed: ParsedQuery, kind: PlanKind, papers: list[Paper], f: Filters) -> Plan:
        if not papers:
            return Plan(parsed, PlanKind.NO_HISTORY, filters=f, message=(
                f"The question names no paper I can find. {NO_HISTORY}"))
        if kind == PlanKind.ORDER:
            papers = chronological(papers, _same, newest=parsed.order == "desc")
        ev = [self._evidence(p) for p in papers]
        if kind in (PlanKind.TOPIC, PlanKind.DETAIL):
            ev = self._with_companions(ev, self.stats.terms(parsed.topic), several=False)
        also = [e.paper for e in ev[1:]] if kind == PlanKind.ORDER else []
        cited = ev[:1] if kind == PlanKind.ORDER else ev
        # the sources also show the named papers' companions (a reproducibility study of the paper)
        ranked = self._with_companions(list(ev), [], several=True)
        return Plan(parsed, kind, papers=cited, ranked=ranked, filters=f, topic=parsed.topic, also=also)

    def _pinned_plan(self, parsed: ParsedQuery, f: Filters, pinned: list[Paper], intent: Intent) -> Plan:
        """A question about papers the user chose: those papers, whatever the question's words match elsewhere
        (no relevance cut, no companions)."""
        kind = {Intent.AUTHORS: PlanKind.AUTHORS, Intent.CODE: PlanKind.CODE, Intent.COMPARE: PlanKind.COMPARE,
                Intent.COUNT: PlanKind.COUNT, Intent.ORDER: PlanKind.ORDER}.get(
            intent, PlanKind.DETAIL if len(pinned) == 1 else PlanKind.LIST)
        ev = [self._evidence(p) for p in pinned]
        if kind == PlanKind.ORDER:
            ev = chronological(ev, _paper, newest=parsed.order == "desc")
        also = [e.paper for e in ev[1:]] if kind == PlanKind.ORDER else []
        cited = ev[:1] if kind == PlanKind.ORDER else ev
        return Plan(parsed, kind if ev else PlanKind.NONE, papers=cited, ranked=ev, filters=f, topic=parsed.topic,
                    also=also, scope=pinned)

    def _others_plan(self, parsed: ParsedQuery, f: Filters, scope: list[Paper], intent: Intent, mode: str) -> Plan:
        """"Anything else besides those?": the previous question asked of the whole collection, as a list (every
        paper that clears the list threshold), the papers of the previous answer left out."""
        wide = replace(f, paper_ids=[])
        wants = Intent.COUNT if intent == Intent.COUNT else Intent.LIST
        plan = self._catalog_plan(parsed, wide, None, wants, mode) if wide.has_metadata() or not parsed.topic \
            else self._topic_plan(parsed, wide, wants, mode)
        seen = {p.paper_id for p in scope}
        rest = [e for e in plan.papers if e.paper.paper_id not in seen]
        if not rest:
            subject = f"is about “{parsed.topic}”" if parsed.topic else "matches"
            return Plan(parsed, PlanKind.NONE, filters=wide, topic=parsed.topic, message=(
                f"No other paper in the collection {subject} besides the {len(scope)} in the previous answer."))
        plan.papers = rest
        plan.ranked = rest + [e for e in plan.ranked if e.paper.paper_id not in seen and e not in rest]
        plan.note = f"Besides the {len(scope)} in the previous answer:"
        if plan.kind == PlanKind.ABSTAIN:
            plan.kind = PlanKind.LIST
        return plan

    def _overview_plan(self, parsed: ParsedQuery, f: Filters, scope: list[Paper] | None, mode: str) -> Plan:
        """"Who are the most frequent authors?", "papers per year on unlearning": the papers counted are the
        collection's (or the filters', the topic's, the previous answer's); the answer counts them, citing none."""
        papers = newest_first(self.catalog.filter(f)) if scope is None else self.catalog.filter(f)
        if parsed.topic and papers:
            judged = self.relevance.judged(parsed, mode, [p.paper_id for p in papers])
            keep = {j.evidence.paper.paper_id for j in judged if j.p >= self.settings.cite_list_at}
            papers = [p for p in papers if p.paper_id in keep]
        if not papers:
            return Plan(parsed, PlanKind.NONE, filters=f, topic=parsed.topic, scope=scope or [])
        return Plan(parsed, PlanKind.OVERVIEW, filters=f, topic=parsed.topic, scope=papers)

    def _relative_plan(self, parsed: ParsedQuery, f: Filters, targets: list[Paper], intent: Intent,
                       mode: str) -> Plan:
        """"Any newer ones than these?": papers on the same question dated after (or before) every paper in view."""
        dated = [sort_key(p) for p in targets if p.year]
        if not dated:
            return Plan(parsed, PlanKind.NONE, filters=f, message=(
                "The papers in view have no date to compare with." if targets else f"{NO_HISTORY} {NO_HISTORY_HINT}"))
        newer = parsed.relative == "newer"
        bound = max(dated) if newer else min(dated)
        wide = replace(f, paper_ids=[])
        plan = self._catalog_plan(parsed, wide, None, intent, mode) if wide.has_metadata() or parsed.topic \
            else Plan(parsed, PlanKind.LIST, papers=[self._evidence(p) for p in newest_first(self.catalog.papers)])
        own = {p.paper_id for p in targets}
        plan.papers = plan.ranked = [e for e in plan.papers if e.paper.paper_id not in own and e.paper.year and (
            sort_key(e.paper) > bound if newer else sort_key(e.paper) < bound)]
        if not plan.papers:
            return Plan(parsed, PlanKind.NONE, filters=wide, message=(
                f"No paper{' on this' if parsed.topic else ''} in the collection is {parsed.relative} than "
                f"{', '.join(short_name(p) for p in targets)}."))
        names = ", ".join(short_name(p) for p in targets[:3]) + (" …" if len(targets) > 3 else "")
        plan.note = f"{'Newer' if newer else 'Older'} than {names}:"
        return plan

    def _scope_author_plan(self, parsed: ParsedQuery, f: Filters, targets: list[Paper], intent: Intent,
                           mode: str) -> Plan:
        """"What else has its first author written?": the other papers of that author (of any of its authors when
        no position is named)."""
        authors = self.conversation.authors_of(targets, parsed.scope_author or 0)
        if not authors:
            return Plan(parsed, PlanKind.NONE, filters=f, message=self.conversation.no_authors(targets))
        wider = replace(f, paper_ids=[], authors=authors, any_author=True)
        plan = self._catalog_plan(parsed, wider, None, intent, mode)
        own = {p.paper_id for p in targets}
        plan.papers = plan.ranked = [e for e in plan.papers if e.paper.paper_id not in own]
        if not plan.papers:
            return Plan(parsed, PlanKind.NONE, filters=wider, message=(
                f"The collection has no other paper by {' or '.join(authors)}."))
        return plan

    def _catalog_plan(self, parsed: ParsedQuery, f: Filters, scope: list[Paper] | None, intent: Intent,
                      mode: str) -> Plan:
        candidates = self.catalog.filter(f)
        if scope is None:
            candidates = newest_first(candidates)
        if scope is not None:
            picked = self.conversation.pick(candidates, parsed)
            if picked is not candidates:
                candidates = picked
                if intent in (Intent.TOPIC, Intent.LIST) and len(picked) == 1:
                    intent = Intent.DETAIL
        relevance: dict[str, float] = {}
        if parsed.topic and candidates and intent != Intent.DETAIL and not (parsed.aspect and scope):
            judged = self.relevance.judged(parsed, mode, [p.paper_id for p in candidates])
            relevance = {j.evidence.paper.paper_id: j.p for j in judged}
            cite_at = self.settings.cite_list_at if intent in (Intent.LIST, Intent.COUNT) else self.settings.cite_at
            keep = {pid for pid, p in relevance.items() if p >= cite_at}
            candidates = [p for p in candidates if p.paper_id in keep]
        if parsed.exclude_topic:
            candidates = [p for p in candidates if not self._about_words(p, parsed.exclude_topic)]
        kind = PlanKind(intent.value) if intent != Intent.TOPIC else (
            PlanKind.LIST if len(candidates) != 1 else PlanKind.DETAIL)
        also: list[Paper] = []
        if parsed.sort and kind in (PlanKind.LIST, PlanKind.COUNT):
            candidates = chronological(candidates, _same, newest=parsed.sort == "desc")
        if kind == PlanKind.ORDER:
            candidates = chronological(candidates, _same, newest=parsed.order == "desc")
            n = parsed.order_count
            candidates, also = candidates[:n], candidates[n:]
        ev = [self._evidence(p) for p in candidates]
        return Plan(parsed, kind if ev else PlanKind.NONE, papers=ev, ranked=ev, filters=f, topic=parsed.topic,
                    scope=scope or [], also=also, relevance=relevance)

    def _topic_plan(self, parsed: ParsedQuery, f: Filters, intent: Intent, mode: str) -> Plan:
        query = parsed.topic or parsed.question
        judged = self.relevance.judged(parsed, mode)
        ranked = [j.evidence for j in judged]
        relevance = {j.evidence.paper.paper_id: j.p for j in judged}
        best = max(judged, key=lambda j: j.p, default=None)
        if best is None or best.p < self.settings.answer_at:
            nearest = sorted(ranked[:10], key=lambda e: -e.dense)[:3]  # closest in meaning
            return Plan(parsed, PlanKind.ABSTAIN, ranked=ranked, topic=query, nearest=[e.paper for e in nearest],
                        relevance=relevance)
        cite_at = self.settings.cite_list_at if intent in (Intent.LIST, Intent.COUNT) else self.settings.cite_at
        keep = sorted((j for j in judged if j.p >= cite_at or j is best), key=lambda j: -j.p)
        if parsed.singular or intent in (Intent.AUTHORS, Intent.DETAIL):
            keep = [j for j in keep if j.p >= self.settings.single_ratio * best.p][:2] if parsed.singular \
                else keep[:1]
        papers = [j.evidence for j in keep]
        if parsed.exclude_topic:
            papers = [e for e in papers if not self._about_words(e.paper, parsed.exclude_topic)]
        # a question asking for papers (plural) also gets a cited paper's companion study
        several = len(papers) > 1 or (not parsed.singular and bool(PLURAL.search(parsed.question)))
        papers = self._with_companions(papers, self.stats.terms(query), several=several)
        also: list[Paper] = []
        if parsed.sort:
            papers = chronological(papers, _paper, newest=parsed.sort == "desc")
        if intent == Intent.ORDER:
            papers = chronological(papers, _paper, newest=parsed.order == "desc")
            n = parsed.order_count
            also, papers = [e.paper for e in papers[n:]], papers[:n]
        # a list question on a topic reads as a topic answer: every relevant paper, closest first
        kind = {Intent.AUTHORS: PlanKind.AUTHORS, Intent.DETAIL: PlanKind.DETAIL,
                Intent.ORDER: PlanKind.ORDER}.get(intent, PlanKind.TOPIC)
        cited = {e.paper.paper_id for e in papers}
        ranked = papers + [e for e in ranked if e.paper.paper_id not in cited]  # sources lead with the cited
        if not papers:
            return Plan(parsed, PlanKind.NONE, ranked=ranked, filters=f, topic=parsed.topic, relevance=relevance)
        return Plan(parsed, kind, papers=papers, ranked=ranked, filters=f, topic=parsed.topic, also=also,
                    relevance=relevance)

    # ---- helpers -------------------------------------------------------------------------------------
    def _unknown_names(self, names: list[str]) -> str:
        """'No paper in the collection is called MotionStone++ (MotionStone is: …).'"""
        linker = linker_for(self.catalog)
        known = {pid for n in names for pid, _, _ in linker.mentions(n)}
        near = "; ".join(f"{short_name(self.catalog.by_id[pid])} is “{self.catalog.by_id[pid].title}”"
                         for pid in sorted(known))
        return f"No paper in the collection is called {' or '.join(names)}." + (f" ({near}.)" if near else "")

    def _about_words(self, paper: Paper, words: str) -> bool:
        """A paper is about the words when its title or what it says of its own work holds all of them."""
        t = self.stats.terms(words)
        return bool(t) and (self.stats.title_coverage(t, paper.paper_id) >= 1.0
                            or self.stats.focus(t, paper.paper_id) >= 1.0)

    def _conflict(self, own: Filters, extra: Filters | None) -> str:
        """The question's own filters and the chat's filters match no paper together, though each matches some."""
        if extra is None or not extra.has_metadata() or not own.has_metadata():
            return ""
        if self.catalog.filter(merge(own, extra)) or not self.catalog.filter(own) or not self.catalog.filter(extra):
            return ""
        return FILTER_CONFLICT.format(question=own.describe(), chat=extra.describe())

    def _with_companions(self, keep: list[Evidence], qterms: list[str], several: bool) -> list[Evidence]:
        """Add the companions of kept papers (a reproducibility paper that quotes its original's title): their
        own abstracts rarely repeat the topic, but they are about the same work. A question about one paper
        gets a companion only when the companion holds question words its original lacks (e.g. the venue)."""
        out = list(keep)
        have = {e.paper.paper_id for e in keep}
        known = self.stats.known(qterms)
        for e in keep:
            for cid in self.catalog.companions.get(e.paper.paper_id, []):
                if cid in have:
                    continue
                adds = set(known) & self.stats.paper_terms[cid] - self.stats.paper_terms[e.paper.paper_id]
                if several or adds:
                    out.append(self._evidence(self.catalog.by_id[cid]))
                    have.add(cid)
        return out

    def _evidence(self, paper: Paper) -> Evidence:
        return Evidence(paper=paper, score=1.0, passages=self.index.passages_of(paper.paper_id))


def _same(p: Paper) -> Paper:
    return p


def _paper(e: Evidence) -> Paper:
    return e.paper
