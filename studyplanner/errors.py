"""Error pages that answer API clients in JSON and people in HTML."""

from django.http import JsonResponse
from django.shortcuts import render

from studyplanner.http import wants_event_stream, wants_json


def _is_api(request) -> bool:
    return wants_json(request) or wants_event_stream(request)


def bad_request(request, exception=None):
    """Requests Django refuses before any view runs (too many fields or files, bad host)."""
    message = "The request could not be read: it is malformed or too large."
    if _is_api(request):
        return JsonResponse({"error": message}, status=400)
    return render(request, "400.html", {"message": message}, status=400)


def not_found(request, exception=None):
    if _is_api(request):
        return JsonResponse({"error": "Not found."}, status=404)
    return render(request, "404.html", status=404)


def server_error(request):
    if _is_api(request):
        return JsonResponse(
            {"error": "Something went wrong on our side. Please try again."}, status=500
        )
    return render(request, "500.html", status=500)


def csrf_failure(request, reason=""):
    if _is_api(request):
        return JsonResponse(
            {
                "error": "CSRF check failed: send the csrftoken cookie's value "
                "in an X-CSRFToken header."
            },
            status=403,
        )
    return render(request, "403_csrf.html", status=403)
