"""Routing the library's log records (fcrctl.* loggers) to stderr as fcrctl: lines, by -q/-v"""

from __future__ import annotations

import sys


def configure_logging(*, quiet: bool, verbose: int) -> None:
    """Route the library's log records (``fcrctl.*`` loggers) to stderr as ``fcrctl: ...`` lines.

    -q shows errors only, the default adds warnings, -v info, -vv debug.
    """
    import logging

    class StderrHandler(logging.Handler):
        """Writes to whatever ``sys.stderr`` is at the time (tests swap it per invocation)."""

        def emit(self, record: logging.LogRecord) -> None:
            try:
                label = "warning: " if record.levelno == logging.WARNING else ""
                label = "error: " if record.levelno >= logging.ERROR else label
                sys.stderr.write(f"fcrctl: {label}{record.getMessage()}\n")
            except Exception:  # a log line must never fail the command
                self.handleError(record)

    logger = logging.getLogger("fcrctl")
    if not any(h.get_name() == "fcrctl-cli" for h in logger.handlers):
        handler = StderrHandler()
        handler.set_name("fcrctl-cli")
        logger.addHandler(handler)
        logger.propagate = False
    levels = (logging.WARNING, logging.INFO, logging.DEBUG)
    logger.setLevel(logging.ERROR if quiet else levels[min(verbose, 2)])
