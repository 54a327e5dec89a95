"""``POST /v1/partner/actions`` answered before FastAPI's routing.

Through FastAPI a single action cost ~0.9 ms of API CPU, 43 % of it in matching ~90 routes,
solving dependencies and wrapping the handler (py-spy, issue 3). This plain ASGI middleware
answers exactly that method on that path with what the FastAPI route calls — authentication,
the intake use case, the receipt, and ``backend.problems`` for every error — so the answer is
the same byte for byte. Anything else, other methods on this path included, goes on to FastAPI,
where the route stays registered and documented in OpenAPI.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from backend import problems
from backend.auth.signed import authenticate
from backend.deps import get_platform
from backend.partner_api import service
from backend.partner_api.router import receipt_response

PATH = "/v1/partner/actions"


class FastIntake:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # (A root path, which the platform never sets, is left to FastAPI's own path matching.)
        if (
            scope["type"] != "http"
            or scope["path"] != PATH
            or scope["method"] != "POST"
            or scope.get("root_path")
        ):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        response: Response | None
        try:
            platform = await get_platform(request)
            signed = await authenticate(request, platform)
            response = receipt_response(await service.report_actions(platform, signed))
        except Exception as exc:
            response = await problems.handle(request, exc)
            if response is None:
                raise  # to the app's handler of unexpected errors, as from any route
        await response(scope, receive, send)
