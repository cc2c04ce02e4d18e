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

from studyplanner.text import has_unstorable


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
    """A JSON body we refuse (400); `fields` names the fields at fault, as a form would."""

    def __init__(self, message: str, fields: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.fields = fields or {}

    def response(self) -> JsonResponse:
        extra = {"fields": self.fields} if self.fields else {}
        return json_error(str(self), 400, **extra)


# Deeper than any document this API takes (a plan is 4 levels deep), far below the depth at
# which the parser would exhaust Python's stack.
MAX_JSON_DEPTH = 20


def request_data(request, text_fields: tuple[str, ...] = ()):
    """Form fields, or the decoded JSON object for a JSON body (BadJSON if it isn't one).

    A JSON body is refused when it nests deeper than MAX_JSON_DEPTH, holds a NUL or a lone
    surrogate in any string or key, or gives one of `text_fields` as anything but text
    (`{"title": ["x"]}` must not become the title "['x']").
    """
    if request.content_type != "application/json":
        return request.POST
    try:
        data = json.loads(request.body or b"null")
    except RecursionError:
        raise BadJSON(_too_deep()) from None
    except (ValueError, UnicodeDecodeError) as error:
        raise BadJSON(f"The request body is not valid JSON ({error}).") from None
    if not isinstance(data, dict):
        raise BadJSON("The request body must be a JSON object.")
    _check_json(data)
    wrong = {
        name: [f"Must be text, not {_json_kind(data[name])}."]
        for name in text_fields
        if name in data and not isinstance(data[name], str)
    }
    if wrong:
        raise BadJSON("Some fields have the wrong type.", fields=wrong)
    return data


def _too_deep() -> str:
    return f"The request body nests deeper than {MAX_JSON_DEPTH} levels."


def _json_kind(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    return "a list" if isinstance(value, list) else "an object"


def _check_json(data) -> None:
    """Depth and storable text, walked without recursion (the body may be hostile)."""
    stack = [(data, 1, "")]
    while stack:
        value, depth, where = stack.pop()
        if isinstance(value, str):
            if has_unstorable(value):
                raise BadJSON(
                    f"The text at {where or 'the top'} contains a NUL character or an invalid "
                    "Unicode surrogate; remove it and try again.",
                    fields={where.split(".")[0].split("[")[0]: ["Contains invalid characters."]}
                    if where
                    else None,
                )
            continue
        if not isinstance(value, dict | list):
            continue
        if depth > MAX_JSON_DEPTH:
            raise BadJSON(_too_deep())
        if isinstance(value, dict):
            for key, item in value.items():
                path = f"{where}.{key}" if where else key
                if has_unstorable(key):
                    raise BadJSON("A key in the request body contains invalid characters.")
                stack.append((item, depth + 1, path))
        else:
            stack.extend((item, depth + 1, f"{where}[{i}]") for i, item in enumerate(value))
