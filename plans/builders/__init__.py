"""Plan builders: given the current plan and one document, produce the updated plan.

`offline` reads the document's own structure (no network, deterministic); `openrouter`
asks a model through any OpenAI-compatible API. Both stream their work as `FoldStep`s so
the learner sees the plan grow, and `plans.builder.build_plan` drives either one.
"""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol

from django.conf import settings

from plans.schema import Plan


@dataclass(frozen=True)
class SourceDocument:
    """What a builder gets of one document.

    `text` is the extracted text (see sessions_app.models.Document.content_text for its
    markers); `outline` holds headings found by extraction — PDF bookmarks or DOCX heading
    styles — as [{"level": 1, "title": "Limits", "page": 3}, ...] (page may be None).
    """

    name: str
    text: str
    outline: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class FoldStep:
    """One step of folding a document in: a partial plan, or (final=True) the result.

    `done` estimates how much of the document is done (0..1) for the progress bar;
    `section`/`sections` say which part of a long document is being read.
    """

    plan: Plan
    final: bool = False
    done: float = 0.0
    section: int = 1
    sections: int = 1


@dataclass
class Usage:
    """What the provider reported for a run, summed over its calls."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost: float | None = None
    model: str = ""

    def add(self, prompt_tokens, completion_tokens, cost, model) -> None:
        if prompt_tokens is not None:
            self.prompt_tokens = (self.prompt_tokens or 0) + prompt_tokens
        if completion_tokens is not None:
            self.completion_tokens = (self.completion_tokens or 0) + completion_tokens
        if cost is not None:
            self.cost = (self.cost or 0.0) + cost
        if model:
            self.model = model


class PlanBuilder(Protocol):
    name: str
    usage: Usage

    def fold(
        self, plan: Plan, document: SourceDocument, *, language: str
    ) -> AsyncIterator[FoldStep]:
        """Fold `document` into `plan`; the last step is final and holds a valid plan."""
        ...


class OfflineBuilder:
    """The embedded default: the document's own structure, merged by title similarity."""

    name = "offline"

    def __init__(self):
        self.usage = Usage()

    async def fold(
        self, plan: Plan, document: SourceDocument, *, language: str
    ) -> AsyncIterator[FoldStep]:
        from plans.builders.offline import fold_document

        # Parsing a 300-page document takes a moment: keep it off the event loop.
        plans = await asyncio.to_thread(lambda: list(fold_document(plan, document)))
        for number, partial in enumerate(plans[:-1], start=1):
            yield FoldStep(partial, done=number / len(plans))
        yield FoldStep(plans[-1], final=True, done=1.0)


def select_builder() -> PlanBuilder:
    """The builder PLAN_BUILDER asks for (`auto`: OpenRouter when a key is set)."""
    choice = settings.PLAN_BUILDER
    if choice == "auto":
        choice = "openrouter" if settings.OPENROUTER_API_KEY else "offline"
    if choice == "openrouter":
        from plans.builders.openrouter import OpenRouterBuilder

        return OpenRouterBuilder()
    return OfflineBuilder()
