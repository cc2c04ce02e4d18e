"""Answering a question as a stream of events (SPEC §15):

    status {"stage": "retrieving"} → sources (exactly one, before any token)
    → status {"stage": "writing"} → token* → done | error

With a model (QUESTION_BUILDER, `auto` = when OPENROUTER_API_KEY is set) the answer is
written by MODEL_CHAT from the retrieved passages only, through the shared AI client (its
retries and typed errors). Offline it is extractive: the best passages' most relevant
sentences, quoted with their citations, and a line saying that no model is configured.

Every question is kept as a `Question` row, opened when the work starts and closed with its
outcome: succeeded, failed, or cancelled when the client went away (the upstream request is
closed by leaving the `async with` of the stream).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import ClassVar

from django.conf import settings
from django.utils import timezone

from ai import AIError, generate_text_stream
from questions.citations import MarkerFilter, cited_numbers
from questions.models import Question
from questions.retrieval import Source, retrieve
from quotas.service import Grant
from sessions_app.languages import COMMON_LANGUAGES
from sessions_app.models import StudySession
from sessions_app.passages import matched_spans, query_terms
from studyplanner.db import run_db
from studyplanner.metrics import record_finished
from studyplanner.text import strip_unstorable

logger = logging.getLogger(__name__)

NO_MODEL_LINE = (
    "No AI model is configured, so this answer quotes the most relevant sentences "
    "of your documents."
)
NOT_FOUND = "I couldn't find an answer to this question in your documents."
OFFLINE_SENTENCES = 3
_SENTENCE = re.compile(r"\S.*?(?:[.!?]+(?=\s|$)|$)")
# Offline, only passages ranked at least this close to the best one are quoted.
OFFLINE_MIN_SCORE = 0.5


# --- events ---------------------------------------------------------------------------------


@dataclass
class AskEvent:
    name: ClassVar[str]
    final: ClassVar[bool] = False

    def payload(self) -> dict:
        raise NotImplementedError


@dataclass
class Status(AskEvent):
    name = "status"
    stage: str
    message: str

    def payload(self) -> dict:
        return {"stage": self.stage, "message": self.message}


@dataclass
class Sources(AskEvent):
    name = "sources"
    sources: list[Source]
    stems: list[str] = field(default_factory=list)

    def payload(self) -> dict:
        return {"sources": [s.to_dict() for s in self.sources]}


@dataclass
class Token(AskEvent):
    name = "token"
    text: str

    def payload(self) -> dict:
        return {"text": self.text}


@dataclass
class Done(AskEvent):
    name = "done"
    final = True
    question: Question

    def payload(self) -> dict:
        return {
            "question": str(self.question.pk),
            "answer": self.question.answer,
            "citations": [c["n"] for c in self.question.citations],
        }


@dataclass
class Failed(AskEvent):
    name = "error"
    final = True
    message: str
    retryable: bool
    question: Question | None = None

    def payload(self) -> dict:
        return {"message": self.message, "retryable": self.retryable}


# --- the service ----------------------------------------------------------------------------


def question_builder() -> str:
    """ "openrouter" or "offline", as QUESTION_BUILDER says (`auto`: a key means the model)."""
    choice = settings.QUESTION_BUILDER
    if choice == "auto":
        choice = "openrouter" if settings.OPENROUTER_API_KEY else "offline"
    return choice


async def answer_question(
    session: StudySession,
    user,
    text: str,
    *,
    started: float | None = None,
    quota: Grant | None = None,
) -> AsyncIterator[AskEvent]:
    """The events of one answer (see the module docstring). `started` is the request's
    `time.monotonic()`, for the time to the first event. `quota` (the unit the view took
    for an AI answer) is given back when the model isn't asked or failed before writing."""
    started = time.monotonic() if started is None else started
    builder = question_builder()
    # Stored once the sources are out (one write less before the first answer), and in any
    # case when the answer ends, however it ends.
    question = Question(
        session=session,
        text=text,
        builder=builder,
        model=settings.MODEL_CHAT if builder == "openrouter" else "",
    )
    finished = False
    shown: list[str] = []
    try:
        yield Status("retrieving", "Searching your documents…")
        sources = await run_db(retrieve, session, text)
        stems = query_terms(text, session.language)
        question.sources = [s.to_dict() for s in sources]
        question.first_token_ms = _ms_since(started)
        yield Sources(sources, stems)
        await run_db(question.save)
        yield Status("writing", "Writing the answer…")
        markers = MarkerFilter({s.n for s in sources})
        if builder == "openrouter" and sources:
            async for piece in _model_answer(question, session, text, sources):
                # Issue 12: a model may emit NULs or lone surrogates, which can't be stored
                # or sent as UTF-8.
                if visible := markers.feed(strip_unstorable(piece)):
                    shown.append(visible)
                    yield Token(visible)
        else:
            if quota is not None:
                await quota.arefund()  # no passage to give the model: it isn't asked
            for piece in _offline_answer(text, sources, session.language, builder):
                if visible := markers.feed(strip_unstorable(piece)):
                    shown.append(visible)
                    yield Token(visible)
        if tail := markers.flush():
            shown.append(tail)
            yield Token(tail)
        answer = "".join(shown).strip()
        by_n = {s.n: s for s in sources}
        question.answer = answer
        question.citations = [
            {"n": n, "passage": str(by_n[n].passage_id)} for n in cited_numbers(answer)
        ]
        await _finish(question, Question.Outcome.SUCCEEDED, started)
        finished = True
        yield Done(question)
    except AIError as error:
        logger.warning("Answering question %s failed: %s", question.pk, error)
        await _finish(question, Question.Outcome.FAILED, started, error=str(error))
        finished = True
        if quota is not None and not shown:
            await quota.arefund()  # the model failed before it wrote anything
        yield Failed(error.user_message, error.retryable, question)
    finally:
        if not finished:
            # The client went away (or something broke): record it, even while cancelled.
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.shield(
                    _finish(question, Question.Outcome.CANCELLED, started, error="The client left.")
                )


async def _finish(question: Question, outcome: str, started: float, *, error: str = "") -> None:
    question.outcome = outcome
    question.error = error
    question.finished_at = timezone.now()
    question.duration_ms = _ms_since(started)
    await run_db(question.save)
    documents = {source.get("document") for source in question.sources}
    record_finished(
        "question",
        outcome=outcome,
        builder=question.builder,
        model=question.model,
        session_id=str(question.session_id),
        duration=question.duration_ms / 1000,
        first_event=None if question.first_token_ms is None else question.first_token_ms / 1000,
        documents=len(documents),
        prompt_tokens=question.prompt_tokens,
        completion_tokens=question.completion_tokens,
        cost=question.cost,
        error=error,
    )


def _ms_since(started: float) -> int:
    return max(0, round((time.monotonic() - started) * 1000))


# --- with a model -----------------------------------------------------------------------------

SYSTEM_PROMPT = """You answer a learner's question about their own course documents.
Use ONLY the numbered passages you are given; never use outside knowledge.
Cite each statement with the number of the passage it comes from in square brackets, like [1] \
or [2][3]. Cite only numbers that appear in the passages.
If the passages do not contain the answer, say plainly that you don't know from these \
documents, and nothing else.
Write in {language}. Be concise: a few sentences, plain text, no headings."""


def language_name(tag: str) -> str:
    names = {code.lower(): name for code, name in COMMON_LANGUAGES}
    tag_l = (tag or "en").lower()
    name = names.get(tag_l) or names.get(tag_l.split("-")[0])
    return f"{name} ({tag})" if name else tag


def build_prompts(question: str, sources: list[Source], language: str) -> tuple[str, str]:
    passages = []
    for s in sources:
        place = f", page {s.page}" if s.page else ""
        heading = f" — {s.heading}" if s.heading else ""
        passages.append(f"[{s.n}] ({s.name}{place}{heading})\n{s.text.strip()}")
    user = "Passages:\n\n" + "\n\n".join(passages) + f"\n\nQuestion: {question.strip()}"
    return SYSTEM_PROMPT.format(language=language_name(language)), user


async def _model_answer(
    question: Question, session: StudySession, text: str, sources: list[Source]
) -> AsyncIterator[str]:
    system, user = build_prompts(text, sources, session.language)
    async with generate_text_stream(system, user, settings.MODEL_CHAT) as stream:
        async for piece in stream:
            yield piece
    completion = stream.completion
    if completion is not None:
        question.model = completion.model or question.model
        question.prompt_tokens = completion.prompt_tokens
        question.completion_tokens = completion.completion_tokens
        if completion.cost is not None:
            question.cost = Decimal(str(completion.cost)).quantize(Decimal("0.000001"))


# --- offline: extractive ----------------------------------------------------------------------


def _offline_answer(question: str, sources: list[Source], language: str, builder: str) -> list[str]:
    """The pieces of an extractive answer: the most relevant sentences, quoted and cited."""
    stems = set(query_terms(question, language))
    candidates = []
    best = sources[0].score if sources else 0.0
    close = [s for s in sources if s.score >= OFFLINE_MIN_SCORE * best]
    seen = set()
    for source in close[:OFFLINE_SENTENCES]:
        for index, sentence in enumerate(_sentences(source.text)):
            if _is_heading(sentence) or sentence.casefold() in seen:
                continue  # a heading set as prose answers nothing; a quote once is enough
            found = {sentence[a:b].casefold() for a, b in matched_spans(sentence, stems, language)}
            if found:
                seen.add(sentence.casefold())
                candidates.append((-len(found), source.n, index, sentence, source.n))
    chosen = sorted(candidates)[:OFFLINE_SENTENCES]
    # Quote them in the order they were ranked; each with the source it comes from.
    lines = [f"“{sentence}” [{n}]" for *_, sentence, n in chosen]
    pieces = []
    if lines:
        pieces.append("From your documents:\n")
        pieces.extend(f"{line}\n" for line in lines)
    else:
        pieces.append(NOT_FOUND + "\n")
    if builder == "offline":
        pieces.append("\n" + NO_MODEL_LINE)
    return pieces


def _is_heading(sentence: str) -> bool:
    """A line in capitals (PDF text keeps headings such as "RECOVERING DATA ." as lines)."""
    letters = [c for c in sentence if c.isalpha()]
    return len(letters) >= 3 and all(c.isupper() for c in letters)


def _sentences(text: str) -> list[str]:
    """The sentences of a passage's prose: heading lines left out, a paragraph's wrapped
    lines joined before it is cut at sentence ends."""
    sentences = []
    for block in re.split(r"\n[ \t]*\n", text):
        lines = [line.strip() for line in block.split("\n")]
        prose = " ".join(line for line in lines if line and not line.startswith("#"))
        for match in _SENTENCE.finditer(prose):
            sentence = match.group().strip()
            if len(sentence) > 2:
                sentences.append(sentence)
    return sentences
