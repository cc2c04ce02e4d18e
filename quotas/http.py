"""The refusal API and event-stream clients get when a quota is spent (SPEC §16)."""

from django.http import JsonResponse

from quotas.service import QuotaExceeded


def too_many(exceeded: QuotaExceeded) -> JsonResponse:
    """429 with Retry-After (seconds to UTC midnight) and {"error", "retry_after", "limit",
    "used"}."""
    response = JsonResponse(
        {
            "error": exceeded.message,
            "retry_after": exceeded.retry_after,
            "limit": exceeded.limit,
            "used": exceeded.used,
        },
        status=429,
    )
    response["Retry-After"] = str(exceeded.retry_after)
    return response
