"""The LLM answerer: any OpenAI-compatible chat endpoint through the `openai` client, streamed.
Only called when LABQA_LLM_MODEL is set; failures become LLMError with a message the user can act on."""

from __future__ import annotations

from collections.abc import Iterator

from rag.errors import LLMError
from rag.planning import Plan
from rag.prompts import ABSTAIN_PREFIX, SOURCE_TEMPLATE, SYSTEM_PROMPT, USER_PROMPT
from rag.safety import ScrubbedStream, without_instructions
from rag.settings import Settings
from rag.types import Turn

MAX_SOURCE_CHARS = 1800  # per source: the primary abstract fits; keeps prompts small for local models


class LLMAnswerer:
    def __init__(self, settings: Settings) -> None:
        import openai

        self.settings = settings
        self.model = settings.llm_model or ""
        self.label = f"{self.model} @ {settings.llm_endpoint}"
        self.client = openai.OpenAI(base_url=settings.llm_endpoint, api_key=settings.openai_api_key or "not-set",
                                    timeout=settings.llm_timeout, max_retries=0)

    def messages(self, plan: Plan, history: list[Turn], question: str,
                 notes: list[str] | None = None) -> list[dict[str, str]]:
        """Numbered sources (title, authors, year, category, code link, abstract) and the conversation.
        Instruction-like sentences in the abstracts are taken out (see rag.safety) and reported in `notes`."""
        blocks = []
        for i, e in enumerate(plan.papers, start=1):
            text, removed = without_instructions(e.paper.abstract[:MAX_SOURCE_CHARS])
            if removed and notes is not None:
                notes.append(f"Source [{i}] contains {removed} sentence(s) addressed to an AI assistant; they were "
                             "not shown to the model.")
            blocks.append(SOURCE_TEMPLATE.format(
                n=i, title=e.paper.title, authors=e.paper.authors_display, year=e.paper.year or "year unknown",
                category=e.paper.category or "category unknown",
                code=f"; code: {e.paper.url}" if e.paper.url else "", text=text))
        convo = "\n".join(f"{t.role}: {t.content[:1000]}" for t in history[-6:]) or "(none)"
        guidance = ""
        if plan.filters.describe():
            guidance = f"(Sources were selected with these filters: {plan.filters.describe()}.)"
        return [
            {"role": "system", "content": self.system_prompt},
            {"role": "user", "content": USER_PROMPT.format(sources="\n\n".join(blocks), history=convo,
                                                           question=question, guidance=guidance)},
        ]

    @property
    def system_prompt(self) -> str:
        return SYSTEM_PROMPT.format(abstain=ABSTAIN_PREFIX)

    def stream(self, plan: Plan, history: list[Turn], question: str, notes: list[str]) -> Iterator[str]:
        """The reply as it streams, scrubbed of the API key and system prompt; warnings go to `notes`."""
        import openai

        guard = ScrubbedStream([self.settings.openai_api_key or ""], self.system_prompt)
        got_text = False
        try:
            stream = self.client.chat.completions.create(
                model=self.model, messages=self.messages(plan, history, question, notes), stream=True,
                temperature=0.1)
            for chunk in stream:
                if not getattr(chunk, "choices", None):
                    continue
                delta = chunk.choices[0].delta.content if chunk.choices[0].delta else None
                if delta:
                    got_text = True
                    if piece := guard.feed(delta):
                        yield piece
            if tail := guard.flush():
                yield tail
            if guard.scrubbed:
                notes.append("Removed text from the model's reply that repeated its instructions or the API key.")
            if not got_text:  # a non-SSE reply parses as an empty stream: that is a failure, not an answer
                raise LLMError(f"The LLM endpoint {self.settings.llm_endpoint} returned no text (not a valid "
                               "chat-completions stream?).")
        except LLMError:
            raise
        except openai.AuthenticationError:
            raise LLMError(f"The LLM endpoint {self.settings.llm_endpoint} rejected the API key (401). "
                           "Check OPENAI_API_KEY.") from None
        except openai.RateLimitError:
            raise LLMError(f"The LLM endpoint {self.settings.llm_endpoint} is rate-limiting requests (429). "
                           "Wait and retry, or use another endpoint.") from None
        except openai.APITimeoutError:
            raise LLMError(f"The LLM endpoint {self.settings.llm_endpoint} did not answer within "
                           f"{self.settings.llm_timeout:g} s (LABQA_LLM_TIMEOUT).") from None
        except openai.APIConnectionError:
            if got_text:
                raise LLMError(f"The LLM endpoint {self.settings.llm_endpoint} dropped the connection in the middle "
                               "of its answer. Try again.") from None
            raise LLMError(f"Cannot connect to the LLM endpoint {self.settings.llm_endpoint}. Is the server "
                           "running? Check OPENAI_BASE_URL.") from None
        except openai.NotFoundError:
            raise LLMError(f"The LLM endpoint {self.settings.llm_endpoint} does not know model {self.model!r} "
                           "(404). Check LABQA_LLM_MODEL.") from None
        except openai.APIStatusError as exc:
            raise LLMError(f"The LLM endpoint {self.settings.llm_endpoint} failed with HTTP {exc.status_code}.") from None
        except (openai.APIError, ValueError) as exc:  # malformed replies, dropped streams
            raise LLMError(f"The LLM endpoint {self.settings.llm_endpoint} sent a reply LabQA could not read "
                           f"({type(exc).__name__}).") from None
