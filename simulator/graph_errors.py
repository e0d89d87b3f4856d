"""Graph's error answers: {"error": {"code", "message", "innerError": {"date", "request-id", "client-request-id"}}}.

Clients classify failures by status and error code and report the request-id to support,
so the simulator answers every failure in exactly this shape.
"""

from __future__ import annotations

import time

from simulator.server import HttpRequest, HttpResponse, json_response

# Codes Graph uses for the statuses a fault can inject.
_FAULT_CODES = {
    400: ("BadRequest", "The request is invalid."),
    409: ("Conflict", "The request conflicts with the current state of the resource."),
    429: ("TooManyRequests", "Too many requests; the application is being throttled. Retry after the time in Retry-After."),
    500: ("InternalServerError", "An internal server error occurred while processing the request."),
    503: ("ServiceUnavailable", "The service is temporarily unavailable. Retry after some time."),
    504: ("GatewayTimeout", "The gateway did not receive a timely response from the downstream service."),
}


class GraphError(Exception):
    """A request Graph would refuse: carries the status, the error code and the message."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def fault_error(status: int) -> GraphError:
    """The error Graph sends for an injected status; unlisted statuses get "UnknownError"."""
    code, message = _FAULT_CODES.get(status, ("UnknownError", f"The request failed with status {status}."))
    return GraphError(status, code, message)


def throttled_error(scope: str, retry_after_seconds: int) -> GraphError:
    """The 429 of a limit: the app's rate for the tenant, or a mailbox's concurrent requests (Outlook's own code)."""
    if scope == "mailbox":
        error = GraphError(429, "ApplicationThrottled", "Application is over its MailboxConcurrency limit.")
    else:
        error = fault_error(429)
    error.headers["Retry-After"] = str(retry_after_seconds)
    return error


def graph_error_response(error: GraphError, request: HttpRequest) -> HttpResponse:
    """Render `error` for `request`, with the same ids the response headers carry."""
    payload = {
        "error": {
            "code": error.code,
            "message": error.message,
            "innerError": {
                "date": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()),
                "request-id": request.request_id,
                "client-request-id": request.client_request_id,
            },
        }
    }
    return json_response(error.status, payload, error.headers)
