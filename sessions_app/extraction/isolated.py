"""Run `extract_document` in a child process with a wall-clock and a memory limit.

A crafted file can make a reader work for minutes or take gigabytes (a DOCX of a million
empty paragraphs, a PDF whose pages share one huge content stream). Read in a child process,
it costs at most EXTRACTION_TIMEOUT seconds (then the child is killed) and
EXTRACTION_MAX_MEMORY_MB of address space (`resource.setrlimit(RLIMIT_AS)` in the child:
past it allocations fail and the child ends), and the process that asked stays responsive.

Children come from a `forkserver` that has already imported the readers, so a child starts
in milliseconds. The child doesn't load the project's settings: the limits it needs are
passed to it, so a test's `override_settings` reaches it too.
"""

import logging
import multiprocessing
import resource
import time
import traceback
from pathlib import Path

from django.conf import settings

from sessions_app.extraction.results import ExtractedDocument, ExtractionFailed

logger = logging.getLogger(__name__)

# The settings the readers consult (besides the limits applied here).
READER_SETTINGS = (
    "MAX_UPLOAD_MB",
    "MAX_PDF_PAGES",
    "MAX_DOCUMENT_CHARS",
    "DOCX_MAX_UNCOMPRESSED_MB",
    "DOCX_MAX_COMPRESSION_RATIO",
    "DOCX_MAX_PARAGRAPHS",
    "PDF_MAX_PAGE_CONTENT_KB",
    "PDF_MAX_CONTENT_MB",
)


def took_too_long(seconds: float) -> str:
    return (
        f"This file took too long to read (more than {seconds:g} seconds), so we stopped. "
        "It may be very large or unusually built: split it, or save it again as PDF, "
        "and upload the new copy."
    )


def needed_too_much_memory(megabytes: int) -> str:
    return (
        f"This file needs more memory to read than we allow ({megabytes:,} MB), so we "
        "stopped. It may be very large or unusually built: split it, or save it again as "
        "PDF, and upload the new copy."
    )


_context = multiprocessing.get_context("forkserver")
# The readers, and the module uvicorn's script imports: a child re-runs the parent's main
# script (multiprocessing's "prepare"), which is cheap when what it imports is loaded.
_context.set_forkserver_preload(["sessions_app.extraction.isolated", "uvicorn.main"])


def _child(conn, path: str, name: str, limits: dict, memory_bytes: int, cpu_seconds: int):
    """In the child: limits first, then read; one message back to the parent."""
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    # A backstop for a child whose parent died (a killed worker): it can't outlive its
    # wall-clock budget by much, even with nobody left to kill it.
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
    if settings.configured:
        for key, value in limits.items():
            setattr(settings, key, value)
    else:
        settings.configure(**limits)
    from sessions_app.extraction import extract_document

    try:
        message = ("ok", extract_document(path, name))
    except ExtractionFailed as failed:
        message = ("failed", failed.reason)
    except MemoryError:
        message = ("memory", None)
    except Exception:
        message = ("crash", traceback.format_exc())
    try:
        conn.send(message)
    except MemoryError:
        conn.send(("memory", None))


def extract_isolated(path: str | Path, original_name: str) -> ExtractedDocument:
    """`extract_document` in a child process; ExtractionFailed also when a limit is hit.

    Raises RuntimeError (with the child's traceback) when the reader crashed: a bug.
    """
    timeout = settings.EXTRACTION_TIMEOUT
    memory_mb = settings.EXTRACTION_MAX_MEMORY_MB
    limits = {key: getattr(settings, key) for key in READER_SETTINGS}
    receiver, sender = _context.Pipe(duplex=False)
    child = _context.Process(
        target=_child,
        args=(sender, str(path), original_name, limits, memory_mb * 1024 * 1024, int(timeout) + 1),
        daemon=True,
    )
    started = time.monotonic()
    child.start()
    sender.close()  # ours: the child holds its own end; EOF when the child is gone
    try:
        if not receiver.poll(timeout):
            child.kill()
            logger.warning("Extraction of %r killed after %.1f s", original_name, timeout)
            raise ExtractionFailed(took_too_long(timeout))
        try:
            kind, value = receiver.recv()
        except (EOFError, OSError):
            child.join(5)
            if time.monotonic() - started >= timeout:
                raise ExtractionFailed(took_too_long(timeout)) from None
            # Killed by the kernel or crashed in C code, which in a reader means it ran
            # out of the memory it may use.
            logger.warning(
                "Extraction of %r ended without an answer (exit code %s)",
                original_name,
                child.exitcode,
            )
            raise ExtractionFailed(needed_too_much_memory(memory_mb)) from None
    finally:
        receiver.close()
        if child.is_alive():
            child.kill()
        child.join(5)
    if kind == "ok":
        return value
    if kind == "failed":
        raise ExtractionFailed(value)
    if kind == "memory":
        logger.info("Extraction of %r ran out of memory (%d MB)", original_name, memory_mb)
        raise ExtractionFailed(needed_too_much_memory(memory_mb))
    raise RuntimeError(f"The reader crashed on {original_name!r}:\n{value}")
