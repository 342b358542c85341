"""A conversation's references, resolved against the papers earlier answers cited: "those", "it", "the second
one", "the first two", "and from 2025?", and the reproduction relation ("the original paper", "was it
reproduced?"). The planner asks; this module never routes or answers."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from rag.catalog import Catalog
from rag.formatting import short_name
from rag.query_filters import merge
from rag.query_parser import Intent, ParsedQuery
from rag.types import Paper, Turn

# "tell me more about it": a singular reference means the paper the previous answer led with
SINGULAR_REF = re.compile(r"\b(it|its|this paper|that paper|this one|that one|this work|that work)\b", re.I)


class Conversation:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def scope(self, parsed: ParsedQuery, history: list[Turn]) -> list[Paper] | None:
        """The papers a follow-up refers to: those the latest assistant answer cited (Turn.paper_ids), else
        those it names by title. "The second one" needs an answer that listed two; so does "which is newer?"."""
        need = (parsed.ordinal if parsed.ordinal and parsed.ordinal > 0 else 1) + parsed.ordinal_count - 1
        if parsed.intent in (Intent.ORDER, Intent.COMPARE) and not parsed.ordinal and not parsed.mentions:
            need = 2  # "which is newer?", "how do they differ?" ("how does it compare to X?" names the other)
        for turn in reversed(history):
            if turn.role != "assistant":
                continue
            found = [self.catalog.by_id[i] for i in turn.paper_ids if i in self.catalog.by_id] \
                or self.catalog.mentioned_in(turn.content)
            if len(found) >= need:
                return found
        return None


    def pick(self, papers: list[Paper], parsed: ParsedQuery) -> list[Paper]:
        """The paper of a follow-up that points at one: "the second one", "it" (the one the answer led with)."""
        ordinal = parsed.ordinal
        if ordinal is None and SINGULAR_REF.search(parsed.question) and parsed.intent != Intent.ORDER \
                and not re.search(r"\b(?:those|these|them|they|both|either)\b", parsed.question, re.I):
            ordinal = 1
        if ordinal is None:
            return papers
        n = parsed.ordinal_count
        if ordinal == -1:
            return papers[-n:]
        return papers[ordinal - 1: ordinal - 1 + n] if 0 < ordinal <= len(papers) else []


    @staticmethod
    def carry(parsed: ParsedQuery, previous: ParsedQuery | None) -> ParsedQuery | None:
        """"What about from 2024?" after "Which unlearning papers came out in 2025?": a continuation that sets a
        field the previous question had set asks that question again with the field changed (narrowing the
        previous answer would find nothing). None when it sets no such field: it narrows the previous answer."""
        if previous is None:
            return None
        new, old = parsed.filters, previous.filters
        groups = [("years", "year_from", "year_to", "exclude_years"),
                  ("authors", "author_position", "any_author", "exclude_authors"),
                  ("categories", "exclude_categories"), ("has_code",)]
        changed = [g for g in groups if any(_set(getattr(new, k)) for k in g) and any(_set(getattr(old, k)) for k in g)]
        if not changed:
            return None
        filters = replace(old, **{k: getattr(new, k) for g in changed for k in g}, paper_ids=[])
        return replace(previous, question=parsed.question, text=parsed.text, filters=filters, continues=False,
                       refers_back=False)

    @staticmethod
    def builds_on_previous(parsed: ParsedQuery) -> bool:
        """Whether the question is the previous question changed (see resolve), not a question of its own."""
        return parsed.continues or parsed.others or bool(parsed.relative and not parsed.topic and not parsed.mentions)

    @staticmethod
    def resolve(parsed: ParsedQuery, previous: ParsedQuery | None) -> ParsedQuery:
        """A question that changes the previous one (`previous`, as if asked on its own), as a question of its
        own: "what about 2024?" after "unlearning papers from 2025" is that question with 2024 (carry); "anything
        else besides those?" is the previous question again, the planner leaving its answer out; "any newer ones
        than these?" takes the previous question's subject without its years, the planner dating after its
        answer's papers. Unchanged when there is no previous question."""
        if previous is None:
            return parsed
        if parsed.continues:
            return Conversation.carry(parsed, previous) or parsed
        if parsed.others:
            if not (previous.topic or previous.filters.has_metadata()):
                return parsed
            return replace(previous, question=parsed.question, text=parsed.text, others=True, refers_back=True,
                           filters=merge(previous.filters, parsed.filters))
        undated = replace(previous.filters, years=[], year_from=None, year_to=None, exclude_years=[], months=[],
                          undated=False)
        return replace(parsed, topic=previous.topic, salience=previous.salience, alternatives=previous.alternatives,
                       filters=merge(undated, parsed.filters))

    @staticmethod
    def alone(parsed: ParsedQuery, previous: ParsedQuery | None) -> ParsedQuery:
        """The question as if asked on its own, given the previous question as if asked on its own: "and from
        2025?" after "unlearning papers" is "unlearning papers from 2025" (so a later "what about 2024?" changes
        the right question)."""
        if not parsed.continues or previous is None:
            return parsed
        return Conversation.carry(parsed, previous) or replace(
            previous, question=parsed.question, text=parsed.text, filters=merge(previous.filters, parsed.filters),
            continues=False, refers_back=False)

    def authors_of(self, papers: list[Paper], position: int) -> list[str]:
        """The authors at a position (1 = first, -1 = last listed, 0 = every author) of the papers in view."""
        out: list[str] = []
        for p in papers:
            names = p.authors if position == 0 else (
                [p.authors[position - 1 if position > 0 else position]] if len(p.authors) >= abs(position) else [])
            out.extend(n for n in names if n not in out)
        return out

    def no_authors(self, papers: list[Paper]) -> str:
        if not papers:
            return "There is no paper in view to take an author from. Name the paper, e.g. “other papers by VoP's authors”."
        return f"The sources list no authors for {', '.join(short_name(p) for p in papers)}."

    def related(self, papers: list[Paper], relation: str) -> list[Paper]:
        """The originals of the companions among `papers` ("the original paper"), or the companions of the
        originals ("was it reproduced?")."""
        originals = {c: o for o, cs in self.catalog.companions.items() for c in cs}
        ids = []
        for p in papers:  # a paper already on the asked side stands for itself ("the In-UCDS companion's original")
            if relation == "original":
                ids += [originals[p.paper_id]] if p.paper_id in originals else \
                    ([p.paper_id] if p.paper_id in self.catalog.companions else [])
            else:
                ids += self.catalog.companions.get(p.paper_id, []) or ([p.paper_id] if p.paper_id in originals else [])
        return [self.catalog.by_id[i] for i in dict.fromkeys(ids) if i in self.catalog.by_id]


    def no_relation(self, papers: list[Paper], relation: str) -> str:
        names = " or ".join(short_name(p) for p in papers)
        if relation == "original":
            return f"{names} {'is' if len(papers) == 1 else 'are'} not a reproducibility companion of another paper " \
                   "in the collection."
        return f"The collection has no reproducibility companion of {names}."


def _set(value: Any) -> bool:
    return value is not None and value != [] and value is not False
