"""One error hierarchy for every layer. Each class carries its public exit code.

Exit codes are public API (README, man page): they never change meaning.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    UNEXPECTED = 1
    BAD_INPUT = 2
    PARTIAL = 3
    NOT_FOUND = 4
    GONE = 5
    CONFLICT = 6
    PRECONDITION_FAILED = 7
    CORRUPT = 8
    UNSUPPORTED = 9
    NOT_A_REPOSITORY = 10
    LOCKED = 11
    AUTH = 12
    UNAVAILABLE = 13
    INTERRUPTED = 130


class FcrctlError(Exception):
    """Base class: a message a user can act on, and the exit code that goes with it."""

    exit_code: ExitCode = ExitCode.UNEXPECTED
    kind: str = "error"

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"error": self.kind, "message": self.message, "exit_code": int(self.exit_code)}
        if self.path is not None:
            out["path"] = self.path
        return out


class BadInput(FcrctlError):
    """The request itself is wrong: malformed RDF, bad path, unknown format..."""

    exit_code = ExitCode.BAD_INPUT
    kind = "bad_input"


class PartialFailure(FcrctlError):
    exit_code = ExitCode.PARTIAL
    kind = "partial_failure"


class NotFound(FcrctlError):
    exit_code = ExitCode.NOT_FOUND
    kind = "not_found"


class Gone(FcrctlError):
    """The resource was deleted and a tombstone remains (purge it to reuse the path)."""

    exit_code = ExitCode.GONE
    kind = "gone"


class TransactionGone(Gone):
    kind = "transaction_gone"


class Conflict(FcrctlError):
    exit_code = ExitCode.CONFLICT
    kind = "conflict"


class PreconditionFailed(FcrctlError):
    exit_code = ExitCode.PRECONDITION_FAILED
    kind = "precondition_failed"


class CorruptData(FcrctlError):
    exit_code = ExitCode.CORRUPT
    kind = "corrupt"


class ChecksumMismatch(CorruptData):
    """An upload's declared digest differs from its content (nothing was stored)."""

    kind = "checksum_mismatch"


class Unsupported(FcrctlError):
    """The backend cannot do this (see its Capabilities)."""

    exit_code = ExitCode.UNSUPPORTED
    kind = "unsupported"


class NotARepository(FcrctlError):
    exit_code = ExitCode.NOT_A_REPOSITORY
    kind = "not_a_repository"


class Locked(FcrctlError):
    exit_code = ExitCode.LOCKED
    kind = "locked"


class ReadOnly(FcrctlError):
    exit_code = ExitCode.BAD_INPUT
    kind = "read_only"


class AuthError(FcrctlError):
    exit_code = ExitCode.AUTH
    kind = "auth"


class Unavailable(FcrctlError):
    exit_code = ExitCode.UNAVAILABLE
    kind = "unavailable"


class Interrupted(FcrctlError):
    exit_code = ExitCode.INTERRUPTED
    kind = "interrupted"


class Forbidden(AuthError):
    """Authenticated, but access control does not allow it (HTTP 403)."""

    kind = "forbidden"


class NoSpace(FcrctlError):
    """The disk (or quota) holding the repository is full: the write did not happen."""

    exit_code = ExitCode.UNAVAILABLE
    kind = "no_space"


def from_os_error(exc: OSError, doing: str) -> FcrctlError | None:
    """The fcrctl error an OSError from the storage means (full disk, read-only file system), or
    None when it means nothing a user can act on. ``doing``: what failed, e.g. "writing to /repo"."""
    import errno

    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return NoSpace(f"{doing} failed: no space left on the device: free some space and run the command again")
    if exc.errno == errno.EROFS:
        return ReadOnly(f"{doing} failed: the file system is read-only")
    return None
