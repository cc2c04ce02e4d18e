"""Web glue every app shares: content negotiation, JSON errors, request bodies, login (SPEC §6).

Pages and the API share URLs: `Accept: application/json` (or a JSON body with no
preference for HTML) gets JSON; an anonymous page request is sent to the login page while
an anonymous JSON or event-stream request gets 401; another user's session is 404.
"""

import json
from functools import wraps
from inspect import iscoroutinefunction

from django.contrib.auth.views import redirect_to_login
from django.http import JsonResponse
from django_htmx.http import HttpResponseClientRedirect


def wants_json(request) -> bool:
    preferred = request.get_preferred_type(["text/html", "application/json"])
    if preferred == "application/json":
        return True
    accept = request.headers.get("Accept", "")
    return request.content_type == "application/json" and "text/html" not in accept


def wants_event_stream(request) -> bool:
    return "text/event-stream" in request.headers.get("Accept", "")


def json_error(message: str, status: int, **extra) -> JsonResponse:
    return JsonResponse({"error": message, **extra}, status=status)


def _anonymous_response(request):
    if wants_json(request) or wants_event_stream(request):
        return json_error("Authentication required: log in first.", 401)
    if getattr(request, "htmx", False):
        # A fragment request: send the whole page to the login form, not the fragment.
        return HttpResponseClientRedirect(redirect_to_login(request.get_full_path()).url)
    return redirect_to_login(request.get_full_path())


def login_required(view):
    """Like Django's, but answers 401 instead of a redirect to API and SSE clients."""
    if iscoroutinefunction(view):

        @wraps(view)
        async def async_wrapper(request, *args, **kwargs):
            user = await request.auser()
            if not user.is_authenticated:
                return _anonymous_response(request)
            return await view(request, *args, **kwargs)

        return async_wrapper

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return _anonymous_response(request)
        return view(request, *args, **kwargs)

    return wrapper


class BadJSON(ValueError):
    pass


def request_data(request):
    """Form fields, or the decoded JSON object for a JSON body (BadJSON if it isn't one)."""
    if request.content_type != "application/json":
        return request.POST
    try:
        data = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError) as error:
        raise BadJSON(f"The request body is not valid JSON ({error}).") from None
    except RecursionError:  # nested deeper than the parser goes: "[[[[…"
        raise BadJSON("The request body is not valid JSON (nested too deeply).") from None
    if not isinstance(data, dict):
        raise BadJSON("The request body must be a JSON object.")
    return data
