"""LLM-judged metrics (faithfulness, relevancy, correctness) through llama-index's evaluators, with the
LLM configured for LabQA (LABQA_LLM_MODEL at OPENAI_BASE_URL) as the judge.

The judge is a minimal llama-index CustomLLM over the `openai` client that LabQA already uses, rather than
llama-index-llms-openai-like: that package pulls llama-index-llms-openai with its own pins on `openai`, and
everything it would add here is two HTTP calls."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from rag.errors import LLMError
from rag.settings import Settings

JUDGE_TIMEOUT_FLOOR = 60.0  # judge prompts are long; never below this many seconds per call
CONTEXT_WINDOW = 8192
MAX_CONTEXT_CHARS = 2500  # per cited paper: keeps judge prompts small for local models


@dataclass
class Judged:
    faithfulness: float | None = None
    relevancy: float | None = None
    correctness: float | None = None  # (score - 1) / 4, score in 1..5

    def as_metrics(self) -> dict[str, float | None]:
        return {"llm_faithfulness": self.faithfulness, "llm_relevancy": self.relevancy,
                "llm_correctness": self.correctness}


@lru_cache(maxsize=1)
def _llm_class() -> Any:
    from llama_index.core.base.llms.types import (
        ChatMessage,
        ChatResponse,
        CompletionResponse,
        LLMMetadata,
        MessageRole,
    )
    from llama_index.core.bridge.pydantic import PrivateAttr
    from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
    from llama_index.core.llms.custom import CustomLLM

    class OpenAICompatibleLLM(CustomLLM):
        """Chat completions at any OpenAI-compatible endpoint, non-streaming, temperature 0."""

        model: str
        endpoint: str
        _client: Any = PrivateAttr()

        def __init__(self, client: Any, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._client = client

        @property
        def metadata(self) -> LLMMetadata:
            return LLMMetadata(context_window=CONTEXT_WINDOW, num_output=512, model_name=self.model,
                               is_chat_model=True)

        def _call(self, messages: list[dict[str, str]]) -> str:
            import openai

            try:
                reply = self._client.chat.completions.create(model=self.model, messages=messages, temperature=0.0)
                text = reply.choices[0].message.content if reply.choices else None
            except openai.APIStatusError as exc:
                raise LLMError(f"The judge LLM at {self.endpoint} failed with HTTP {exc.status_code}.") from None
            except openai.APITimeoutError:
                raise LLMError(f"The judge LLM at {self.endpoint} did not answer in time.") from None
            except openai.APIConnectionError:
                raise LLMError(f"Cannot connect to the judge LLM at {self.endpoint}. Check OPENAI_BASE_URL.") from None
            except (openai.APIError, ValueError) as exc:
                raise LLMError(f"The judge LLM at {self.endpoint} sent a reply LabQA could not read "
                               f"({type(exc).__name__}).") from None
            if not text:
                raise LLMError(f"The judge LLM at {self.endpoint} returned no text.")
            return text

        @llm_chat_callback()
        def chat(self, messages: Any, **kwargs: Any) -> ChatResponse:
            text = self._call([{"role": m.role.value, "content": m.content or ""} for m in messages])
            return ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text))

        @llm_completion_callback()
        def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
            return CompletionResponse(text=self._call([{"role": "user", "content": prompt}]))

        @llm_completion_callback()
        def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> Any:
            yield self.complete(prompt, formatted=formatted)

    return OpenAICompatibleLLM


def judge_llm(settings: Settings) -> Any:
    """The llama-index LLM used as judge: the endpoint and model LabQA answers with."""
    import openai

    client = openai.OpenAI(base_url=settings.llm_endpoint, api_key=settings.openai_api_key or "not-set",
                           timeout=max(settings.llm_timeout, JUDGE_TIMEOUT_FLOOR), max_retries=1)
    return _llm_class()(client, model=settings.llm_model or "", endpoint=settings.llm_endpoint)


def parse_score(reply: str) -> tuple[float | None, str]:
    """CorrectnessEvaluator's reply: a 1–5 score on the first line, reasons after. llama-index's default
    parser fails on a one-line reply; this takes the first number anywhere in the first line."""
    first, _, rest = reply.strip().partition("\n")
    m = re.search(r"\d+(?:\.\d+)?", first) or re.search(r"\d+(?:\.\d+)?", reply)
    score = float(m.group()) if m else None
    if score is not None and not 1.0 <= score <= 5.0:
        score = None
    return score, rest.strip()


class Judge:
    """Runs the three llama-index evaluators on one answer; each returns a 0–1 value or None."""

    def __init__(self, settings: Settings) -> None:
        from llama_index.core.evaluation import (
            CorrectnessEvaluator,
            FaithfulnessEvaluator,
            RelevancyEvaluator,
        )
        from llama_index.core.evaluation.faithfulness import DEFAULT_EVAL_TEMPLATE as FAITHFULNESS_TEMPLATE

        llm = judge_llm(settings)
        self.label = f"{settings.llm_model} @ {settings.llm_endpoint}"
        # The template is passed explicitly: FaithfulnessEvaluator swaps in a template with other variable
        # names when the model is called "llama3:8b", which its own query engine then cannot fill.
        self.faithfulness = FaithfulnessEvaluator(llm=llm, eval_template=FAITHFULNESS_TEMPLATE)
        self.relevancy = RelevancyEvaluator(llm=llm)
        self.correctness = CorrectnessEvaluator(llm=llm, parser_function=parse_score)

    def judge(self, question: str, answer: str, contexts: list[str], reference: str | None,
              answerable: bool, abstained: bool) -> Judged:
        out = Judged()
        contexts = [c[:MAX_CONTEXT_CHARS] for c in contexts if c.strip()]
        if answerable and not abstained and contexts:
            out.faithfulness = self.faithfulness.evaluate(query=question, response=answer, contexts=contexts).score
            out.relevancy = self.relevancy.evaluate(query=question, response=answer, contexts=contexts).score
        if reference:
            score = self.correctness.evaluate(query=question, response=answer, reference=reference).score
            out.correctness = None if score is None else round((score - 1.0) / 4.0, 4)
        return out
