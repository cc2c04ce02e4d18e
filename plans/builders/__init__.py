"""Plan builders: given the current plan and one document, produce the updated plan.

`offline` reads the document's own structure (no network, deterministic); `openrouter`
asks a model through any OpenAI-compatible API. The contract both follow is in `base`.
"""

from django.conf import settings

from plans.builders.base import PlanBuilder
from plans.builders.offline import OfflineBuilder
from plans.builders.openrouter import OpenRouterBuilder


def select_builder() -> PlanBuilder:
    """The builder PLAN_BUILDER asks for (`auto`: OpenRouter when a key is set)."""
    choice = settings.PLAN_BUILDER
    if choice == "auto":
        choice = "openrouter" if settings.OPENROUTER_API_KEY else "offline"
    if choice == "openrouter":
        return OpenRouterBuilder()
    return OfflineBuilder()
