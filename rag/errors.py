"""Every error LabQA raises on purpose. Messages say what went wrong, where, and how to fix it;
the CLI and UI turn them into friendly output (no stack traces)."""

from __future__ import annotations


class LabQAError(Exception):
    """Base class: anything the user can act on."""


class SettingsError(LabQAError):
    """A setting (environment variable) is unknown or has a bad value."""


class SourceError(LabQAError):
    """A source file cannot be read or a record in it does not parse."""

    def __init__(self, path: str, line: int | None, problem: str, expected: str = "") -> None:
        self.path, self.line, self.problem, self.expected = path, line, problem, expected
        where = f"{path}:{line}" if line else path
        msg = f"{where}: {problem}"
        if expected:
            msg += f" (expected {expected})"
        super().__init__(msg)


class SourceErrors(LabQAError):
    """Several bad records, reported together so the user can fix them all in one pass."""

    def __init__(self, errors: list[SourceError]) -> None:
        self.errors = errors
        lines = "\n".join(f"  - {e}" for e in errors)
        super().__init__(
            f"{len(errors)} bad record(s); nothing was written to the index:\n{lines}\n"
            "Fix them, or run `labqa ingest --skip-invalid` to ingest only the good records."
        )


class StoreError(LabQAError):
    """The Chroma store is missing, corrupt, read-only, full or unreachable."""


class IngestLockedError(StoreError):
    """Another ingest (or index drop) is writing the same store."""


class IndexMissingError(StoreError):
    """No index has been built yet."""

    def __init__(self, where: str) -> None:
        super().__init__(f"No LabQA index at {where}. Build it with `labqa ingest`.")


class QuestionError(LabQAError):
    """The question itself is unusable (empty, only control characters, ...)."""


class LLMError(LabQAError):
    """The configured OpenAI-compatible endpoint failed (unreachable, 401, 429, timeout, bad reply)."""


class DatasetError(LabQAError):
    """An evaluation dataset is malformed."""
