"""The OpenAI-compatible client every AI feature shares (SPEC §5): plans, questions, ...

    text = await generate_text(system_prompt, user_prompt, model=settings.MODEL_CHAT)

    async with generate_text_stream(system_prompt, user_prompt, model=...) as stream:
        async for piece in stream:
            ...

Every failure is an `AIError` that says whether trying again can help and what a learner
may be told. `ai/client.py` holds the client and its retry policy, one attempt is made by
`completion.py` or `stream.py` over the shared connections of `transport.py`, and
`errors.py` is a leaf that imports nothing else from this package.
"""

from ai.client import AIClient, generate_text, generate_text_stream, get_client
from ai.completion import Completion
from ai.errors import (
    AIAuthenticationError,
    AIBadRequestError,
    AIConnectionError,
    AICreditsError,
    AIError,
    AIForbiddenError,
    AINotFoundError,
    AIOutputTruncatedError,
    AIProviderError,
    AIRateLimitError,
    AIStreamError,
    AITimeoutError,
    AITruncatedError,
)
from ai.stream import TextStream
from ai.transport import close_clients

__all__ = [
    "AIAuthenticationError",
    "AIBadRequestError",
    "AIClient",
    "AIConnectionError",
    "AICreditsError",
    "AIError",
    "AIForbiddenError",
    "AINotFoundError",
    "AIOutputTruncatedError",
    "AIProviderError",
    "AIRateLimitError",
    "AIStreamError",
    "AITimeoutError",
    "AITruncatedError",
    "Completion",
    "TextStream",
    "close_clients",
    "generate_text",
    "generate_text_stream",
    "get_client",
]
