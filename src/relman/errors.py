"""Every failure a person should read, with what went wrong, where, and what to do next.

The CLI maps these to exit codes: 2 for bad input or usage, 1 for a failed check or step,
3 for a run paused at a gate. Anything that is not a RelmanError is a bug and keeps its
traceback.
"""

from __future__ import annotations


class RelmanError(Exception):
    """A failure meant for people. `hint` says what to do next."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None, where: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.where = where

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class UsageError(RelmanError):
    """Bad input: a malformed version, a missing file, a corrupt config."""


class ConfigError(UsageError):
    """relman.toml or [tool.relman] is missing something or malformed."""


class VersionError(UsageError):
    """A version string that is not a CPython-style version, or an invalid transition."""


class CheckFailed(RelmanError):
    """A check ran and found a problem (exit 1)."""

    exit_code = 1


class StepFailed(RelmanError):
    """A release step failed; the run stays resumable (exit 1)."""

    exit_code = 1


class TransientError(RelmanError):
    """A failure worth retrying (network blip, server busy)."""

    exit_code = 1


class StepTimeout(StepFailed):
    """A step or a wait ran past its time limit."""


class RunPaused(RelmanError):
    """The run stopped at a gate nobody approved yet (exit 3)."""

    exit_code = 3


class JournalBroken(UsageError):
    """The journal does not match its own hash chain: edited, truncated, or written by hand."""


class LockHeld(UsageError):
    """Another process is running this release."""


class ExternalServiceError(RelmanError):
    """A remote service answered badly: HTTP error, malformed JSON, timeout."""

    exit_code = 1


class Cancelled(StepFailed):
    """A step's work was stopped: it ran past its time limit, or the run was interrupted."""


# What a failed network or git operation says when trying again later may well succeed.
TRANSIENT_MARKERS = (
    "connection reset", "connection refused", "connection timed out", "timed out", "timeout",
    "temporarily unavailable", "temporary failure", "try again", "network is unreachable", "no route to host",
    "broken pipe", "the remote end hung up", "early eof", "rpc failed", "unexpected disconnect",
    "could not read from remote repository", "ssl_read", "gnutls recv error", "http 429", "http 5",
    "502 bad gateway", "503 service unavailable", "504 gateway", "500 internal server error",
    "server busy", "couldn't connect", "could not resolve host", "operation too slow", "did not finish in",
)
# ... and what says trying again cannot help, even when a transient phrase is also present.
PERMANENT_MARKERS = (
    "permission denied (publickey", "authentication failed", "repository not found", "does not appear to be a git",
    "[rejected]", "non-fast-forward", "hook declined", "protected branch", "not found", "http 40", "http 41",
)


def retry_delay(attempt: int, first_s: float, factor: float, max_s: float) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based) before the next one:
    exponential backoff, capped. The one formula for the engine's step retries and the
    publishing clients' request retries."""
    return min(first_s * factor ** (attempt - 1), max_s)


def is_transient(error: BaseException) -> bool:
    """One rule for "worth retrying": `TransientError`, timeouts and connection failures,
    HTTP 429 and 5xx, git's "remote end hung up" and unreachable remotes. A rejected push, a
    denied key or a missing repository is permanent, however it is worded."""
    if isinstance(error, TransientError):
        return True
    if isinstance(error, (Cancelled, StepTimeout)):
        return False        # our own deadline: retrying would outlive it
    if isinstance(error, (TimeoutError, ConnectionError)):
        return True
    status = getattr(getattr(error, "response", None), "status_code", None)
    if isinstance(status, int):
        return status == 429 or 500 <= status < 600
    name = type(error).__name__
    if name in ("ConnectError", "ReadTimeout", "ConnectTimeout", "WriteTimeout", "PoolTimeout", "RemoteProtocolError",
                "ReadError", "WriteError"):
        return True         # httpx's transport errors, without importing httpx here
    text = str(error).lower()
    if any(marker in text for marker in PERMANENT_MARKERS):
        return False
    return any(marker in text for marker in TRANSIENT_MARKERS)


class StorageError(RelmanError):
    """The disk refused a write: no space left, over quota, read-only (exit 1; fix and re-run)."""

    exit_code = 1


# errno values that mean "the machine's storage said no", not "relman has a bug".
STORAGE_ERRNOS = frozenset({28, 122, 30})  # ENOSPC, EDQUOT, EROFS


def storage_error(error: OSError, path: object) -> StorageError:
    """A person's message for a refused write of `path`."""
    reason = {28: "no space left on the device", 122: "disk quota exceeded",
              30: "the file system is read-only"}.get(error.errno or 0, error.strerror or str(error))
    return StorageError(f"cannot write {path}: {reason}",
                        hint="free some space (or choose another folder), then run the same command again")

