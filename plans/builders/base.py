"""The builder contract: what a plan builder gets, what it yields, how it fails.

A builder folds one document into the current plan (SPEC §5) and streams its work as
`FoldStep`s so the learner sees the plan grow; `plans.generation.build_plan` drives any
builder through this contract and knows nothing of how one works inside.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol

from plans.schema import Plan


class PlanGenerationError(Exception):
    """The builder could not produce a valid plan (after its one repair attempt)."""

    def __init__(self, user_message: str, *, retryable: bool = True):
        super().__init__(user_message)
        self.user_message = user_message
        self.retryable = retryable


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
    `section`/`sections` say which part of a long document is being read. On the final
    step, `dropped` names the titles the builder had to leave out to keep the plan within
    the bounds of SPEC §3 even after consolidating (SPEC §5: nothing is dropped silently).
    """

    plan: Plan
    final: bool = False
    done: float = 0.0
    section: int = 1
    sections: int = 1
    dropped: tuple[str, ...] = ()


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
