"""The one settings object. Read once at the edge (CLI, UI, eval) and passed down.

Every field can be set by an environment variable `LABQA_<FIELD>` (upper case); the LLM key and endpoint
also accept the standard `OPENAI_API_KEY` / `OPENAI_BASE_URL`. Unknown `LABQA_*` variables are errors, so a
typo never silently does nothing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag.errors import SettingsError

CHECKOUT = Path(__file__).resolve().parents[1]


def _fitted(name: str) -> float:
    import json

    model = Path(__file__).with_name("relevance_model.json")
    return float(json.loads(model.read_text(encoding="utf-8"))["thresholds"][name])


class RelevanceSettings(BaseModel):
    """Every tuned value of question understanding and answering, in one place. Set one with
    LABQA_RELEVANCE__<FIELD>.
    The two thresholds default to the values `python -m eval.fit_relevance` chose on the dev split (with the
    regression set) and stored in rag/relevance_model.json beside the weights, so the model and its thresholds
    never drift apart; the test split was never used to choose them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    answer_at: float = Field(default_factory=lambda: _fitted("answer_at"), ge=0, le=1, allow_inf_nan=False,
                             description="A topic question is answered when its best retrieved paper's relevance "
                             "probability reaches this; below it the assistant abstains.")
    cite_at: float = Field(default_factory=lambda: _fitted("cite_at"), ge=0, le=1, allow_inf_nan=False,
                           description="Every retrieved paper whose relevance probability reaches this is cited.")
    cite_list_at: float = Field(default_factory=lambda: _fitted("cite_list_at"), ge=0, le=1, allow_inf_nan=False,
                                description="The same for questions asking for every paper on a topic (\"all "
                                "papers on …\", \"list …\"): chosen on their own citation curve.")
    single_ratio: float = Field(0.9, ge=0, le=1, allow_inf_nan=False,
                                description="A question asking for one paper also cites a runner-up only when "
                                "its probability is at least this share of the best one's.")
    pool: int = Field(16, ge=1, le=200, description="Retrieved papers the relevance judgement looks at.")
    meaning_weight: float = Field(
        4.0, ge=0, le=50, allow_inf_nan=False,
        description="The offline answerer picks sentences by their question words (IDF, about 3–4 for a rare word) "
        "plus this times their closeness in meaning to the question (cosine).")
    noise_salience: float = Field(
        0.05, ge=0, le=1, allow_inf_nan=False,
        description="A question word no paper uses joins the topic only when leaving it out changes the question's "
        "embedding by at least this much (1 − cosine); below it the word is chat or phrasing (rag.salience). "
        "Chosen on the dev split.")


class Settings(BaseSettings):
    # allow_inf_nan=False: a nan or inf threshold/timeout would make every comparison false, silently.
    model_config = SettingsConfigDict(env_prefix="LABQA_", extra="forbid", frozen=True, allow_inf_nan=False,
                                      env_nested_delimiter="__")

    home: Path = Field(CHECKOUT / ".labqa", description="Where the embedded Chroma store and model cache live.")
    model_cache: Path | None = Field(
        None, description="Where the ONNX export of the embedding model is cached; unset = <home>/models."
    )
    data_dir: Path = Field(CHECKOUT / "data", description="Default source folder for `labqa ingest`.")
    listing_year: int = Field(
        2026,
        description="Year of the paper listing: a listing date without a year (e.g. 'May 30') is in this year, "
        "recorded as year_inferred=true.",
    )
    chroma_url: str | None = Field(
        None, description="URL of a `chroma run` server (e.g. http://127.0.0.1:8000); unset = embedded store in home."
    )
    chunk_tokens: int = Field(200, ge=32, le=256, description="Max word-piece tokens per chunk (model limit 256).")
    chunk_overlap_sentences: int = Field(1, ge=0, le=3, description="Sentences repeated between adjacent chunks.")
    embed_batch_size: int = Field(32, ge=1, le=512, description="Texts per embedding call during ingest.")
    ingest_batch_papers: int = Field(
        64, ge=1, le=10000,
        description="Papers chunked, embedded and committed together; an interrupted ingest loses at most one batch.",
    )
    embed_threads: int = Field(0, ge=0, description="onnxruntime intra-op threads; 0 = all cores.")
    embed_precision: Literal["fp32", "int8"] = Field(
        "fp32",
        description="fp32: the model's exact vectors. int8: a dynamically quantized copy, 1.3-1.7x the chunks/s "
        "on CPU for large collections, same retrieval/citation scores on the eval set (see README). Changing it "
        "builds a new index.",
    )
    ingest_wait: float = Field(
        1800.0, ge=0,
        description="Seconds a second ingest (or `labqa index drop`) waits for the one writing the store before it "
        "gives up with an error; 0 = fail at once (also `labqa ingest --no-wait`).",
    )
    ingest_lease_seconds: float = Field(
        60.0, ge=5, le=3600,
        description="Server mode: how long the writer's lease in the Chroma server lasts without renewal (it is "
        "renewed every quarter of this). A killed writer blocks others for at most this long.",
    )
    follow_seconds: float = Field(
        1.0, ge=0,
        description="How often (at most) a running process (ask, serve, eval) checks the store for papers another "
        "process ingested; a change is loaded in the background, reading only the changed papers. 0 = never: "
        "the index is read once, at start.",
    )
    candidate_k: int = Field(30, ge=5, le=500, description="Chunks each retriever returns before fusion.")
    relevance: RelevanceSettings = Field(default_factory=RelevanceSettings,
                                         description="Question understanding's tuned values (see RelevanceSettings).")
    llm_model: str | None = Field(None, description="Model name at the OpenAI-compatible endpoint; unset = offline.")
    openai_api_key: str | None = Field(
        None, validation_alias=AliasChoices("LABQA_OPENAI_API_KEY", "OPENAI_API_KEY"), description="API key."
    )
    openai_base_url: str | None = Field(
        None,
        validation_alias=AliasChoices("LABQA_OPENAI_BASE_URL", "OPENAI_BASE_URL"),
        description="Endpoint, e.g. http://127.0.0.1:11434/v1 for Ollama; unset = api.openai.com.",
    )
    llm_timeout: float = Field(30.0, gt=0, description="Seconds before an LLM request is abandoned.")
    llm_fallback: bool = Field(
        True, description="On an LLM failure, answer with the offline answerer (clearly marked) instead of failing."
    )

    @field_validator("home", "model_cache", "data_dir", mode="before")
    @classmethod
    def _no_empty_path(cls, value: object) -> object:
        # Path("") is the current folder: an empty LABQA_HOME= would put the store wherever the command runs.
        if isinstance(value, str) and not value.strip():
            raise ValueError("is empty; unset it to use the default, or give a folder")
        return value

    @property
    def models_dir(self) -> Path:
        return self.model_cache or self.home / "models"

    @property
    def llm_configured(self) -> bool:
        # The LLM is used only when a model is named: an OPENAI_API_KEY left in the environment for other
        # tools must never make LabQA call a remote service on its own.
        return bool(self.llm_model)

    @property
    def llm_endpoint(self) -> str:
        return self.openai_base_url or "https://api.openai.com/v1"


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment (plus explicit overrides), with friendly errors."""
    known = {f"LABQA_{name.upper()}" for name in Settings.model_fields}
    known |= {f"LABQA_RELEVANCE__{name.upper()}" for name in RelevanceSettings.model_fields}
    known |= {"LABQA_OPENAI_API_KEY", "LABQA_OPENAI_BASE_URL"}
    unknown = sorted(k for k in os.environ if k.startswith("LABQA_") and k not in known)
    if unknown:
        raise SettingsError(
            f"Unknown setting(s) {', '.join(unknown)}. Known: {', '.join(sorted(known))}."
        )
    empty = sorted(k for k in os.environ if k in known and not os.environ[k].strip())
    if empty:
        raise SettingsError(
            f"{', '.join(empty)} {'is' if len(empty) == 1 else 'are'} set but empty. Unset "
            f"{'it' if len(empty) == 1 else 'them'} to use the default, or give a value."
        )
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"LABQA_{'__'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()
        )
        raise SettingsError(f"Bad setting: {problems}") from None
