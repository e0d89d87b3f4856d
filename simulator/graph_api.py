"""Graph's one endpoint here: POST /v1.0/users/{userId}/onlineMeetings/createOrGet.

Checks run in the order a caller meets them on real Graph: the route, the bearer token,
/me (delegated only), the body, then the organizer (does the user exist, and does an
application access policy let this app act for them), and finally create-or-get.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from urllib.parse import unquote

from simulator.create_or_get import parse_create_or_get
from simulator.edm_datetime import now_ticks
from simulator.graph_errors import GraphError, graph_error_response
from simulator.identity import ManagedIdentityEndpoint
from simulator.meeting_document import new_meeting_document
from simulator.meeting_store import MeetingStore, meeting_key
from simulator.server import HttpRequest, HttpResponse, json_response

# Successful Graph answers carry OData's parameters; a client must not compare Content-Type exactly.
ODATA_CONTENT_TYPE = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
_OBJECT_ID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# Graph matches path segments case-insensitively and accepts the namespace-qualified action name.
_CREATE_OR_GET_PATH = re.compile(
    r"/v1\.0/(?:(?P<me>me)|users/(?P<user>[^/]+))/onlineMeetings/(?:microsoft\.graph\.)?createOrGet",
    re.IGNORECASE,
)


class GraphApi:
    """The createOrGet surface: authorization, organizers, validation and the meeting store."""

    def __init__(
        self,
        *,
        identity: ManagedIdentityEndpoint,
        store: MeetingStore,
        tenant_id: str,
        known_organizers: Iterable[str] | None,
        dial_in: bool,
        base_url: Callable[[], str],
    ) -> None:
        self._identity = identity
        self._store = store
        self._tenant_id = tenant_id
        self._known = None if known_organizers is None else frozenset(user.lower() for user in known_organizers)
        self._denied: set[str] = set()
        self._dial_in = dial_in
        self._base_url = base_url

    def deny(self, user_id: str) -> None:
        """Behave as if no application access policy covers `user_id`: createOrGet answers 403."""
        self._denied.add(user_id.lower())

    def handle(self, request: HttpRequest) -> HttpResponse:
        """Answer one Graph request, in Graph's success or error format."""
        try:
            return self._create_or_get(request)
        except GraphError as error:
            return graph_error_response(error, request)

    def _create_or_get(self, request: HttpRequest) -> HttpResponse:
        user_segment = _route(request)
        base_url = self._base_url()
        audience = base_url.removesuffix("/v1.0")
        problem = self._identity.check_bearer(request.headers.get("authorization"), audience)
        if problem is not None:
            raise GraphError(401, "InvalidAuthenticationToken", problem)
        if user_segment is None:
            raise GraphError(400, "BadRequest", "/me request is only valid with delegated authentication flow.")
        params = parse_create_or_get(request.headers.get("content-type"), request.body, now_ticks())
        organizer_id = self._organizer(user_segment)
        created, meeting = self._store.create_or_get(
            meeting_key(self._tenant_id, organizer_id, params.external_id),
            lambda: new_meeting_document(
                params,
                organizer_id=organizer_id,
                tenant_id=self._tenant_id,
                graph_base_url=base_url,
                dial_in=self._dial_in,
                created_ticks=now_ticks(),
            ),
        )
        return json_response(201 if created else 200, meeting, {"Content-Type": ODATA_CONTENT_TYPE})

    def _organizer(self, user_id: str) -> str:
        """The organizer's canonical (lower-case) object id, if the app may act for them."""
        organizer_id = user_id.lower()
        # With application permissions onlineMeetings addresses users by object id only.
        if not _OBJECT_ID.fullmatch(user_id) or (self._known is not None and organizer_id not in self._known):
            raise GraphError(404, "NotFound", f"The user '{user_id}' was not found in the tenant {self._tenant_id}.")
        if organizer_id in self._denied:
            raise GraphError(
                403,
                "Forbidden",
                f"Application is not allowed to perform operations on the user '{user_id}', "
                "neither is allowed access through RSC permission evaluation.",
            )
        return organizer_id


def _route(request: HttpRequest) -> str | None:
    """The user segment of a createOrGet path (None for /me); GraphError 404 for other paths, 405 for other methods."""
    match = _CREATE_OR_GET_PATH.fullmatch(request.path)
    if match is None:
        raise GraphError(
            404,
            "NotFound",
            f"Resource not found for the path '{request.path}'. "
            "createOrGet is POST /v1.0/users/{userId}/onlineMeetings/createOrGet.",
        )
    if request.method != "POST":
        raise GraphError(
            405,
            "MethodNotAllowed",
            f"The HTTP method '{request.method}' is not allowed on createOrGet; it is an action and takes POST.",
            {"Allow": "POST"},
        )
    return None if match["me"] else unquote(match["user"])
