"""Response headers every page and API answer needs (issue 12).

Pages and the API share URLs (content negotiation on Accept), so every answer varies on
Accept, and nothing personal may be kept by a cache between: answers to a logged-in user
and JSON answers are `Cache-Control: private, no-store` (event streams keep the
`no-cache` of their own contract). Sync and async, so the streams stay on the event loop.
"""

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.utils.cache import patch_cache_control, patch_vary_headers


def _patch(request, response, authenticated: bool):
    patch_vary_headers(response, ("Accept",))
    content_type = response.get("Content-Type", "")
    if content_type.startswith("text/event-stream"):
        return response  # the SSE contract sets its own Cache-Control (SPEC §7)
    if authenticated or content_type.startswith("application/json"):
        patch_cache_control(response, private=True, no_store=True)
    return response


class PrivateNegotiatedResponses:
    async_capable = True
    sync_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self.__acall__(request)
        response = self.get_response(request)
        return _patch(request, response, _authenticated(request))

    async def __acall__(self, request):
        response = await self.get_response(request)
        user = getattr(request, "_cached_user", None)
        if user is None and hasattr(request, "auser"):
            user = await request.auser()
        return _patch(request, response, bool(user and user.is_authenticated))


def _authenticated(request) -> bool:
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated)
