"""The offline builder: a plan from the document's own structure, merged by title
similarity. No network, no key, deterministic: the embedded default (SPEC §5)."""

import asyncio
from collections.abc import AsyncIterator

from plans.builders.base import FoldStep, SourceDocument, Usage
from plans.builders.offline.fold import fold_document, readable_name
from plans.schema import Plan

__all__ = ["OfflineBuilder", "fold_document", "readable_name"]


class OfflineBuilder:
    """The embedded default: the document's own structure, merged by title similarity."""

    name = "offline"

    def __init__(self):
        self.usage = Usage()

    async def fold(
        self, plan: Plan, document: SourceDocument, *, language: str
    ) -> AsyncIterator[FoldStep]:
        # Parsing a 300-page document takes a moment: keep it off the event loop.
        dropped: list[str] = []
        plans = await asyncio.to_thread(lambda: list(fold_document(plan, document, dropped)))
        for number, partial in enumerate(plans[:-1], start=1):
            yield FoldStep(partial, done=number / len(plans))
        yield FoldStep(plans[-1], final=True, done=1.0, dropped=tuple(dropped))
