"""create_app(): wiring only."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request

from backend import openapi, problems
from backend.admin_api.campaign_routes import router as admin_campaigns
from backend.admin_api.certification_routes import router as admin_certification
from backend.admin_api.merchant_routes import router as admin_merchants
from backend.admin_api.pilot_routes import router as admin_pilot
from backend.admin_api.registry_routes import router as admin_registry
from backend.admin_api.router import router as admin_router
from backend.audit_api.exports import router as audit_exports
from backend.audit_api.router import router as audit_router
from backend.citizen_api.campaign_routes import router as citizen_campaigns
from backend.citizen_api.privacy_routes import router as citizen_privacy
from backend.citizen_api.redemption_routes import router as citizen_redemption
from backend.citizen_api.router import router as citizen_router
from backend.context import Platform
from backend.merchant_api.router import router as merchant_router
from backend.partner_api.fast_route import FastIntake
from backend.partner_api.router import router as partner_router
from backend.partner_api.schemas import (
    ActionBatch,
    ActionBodyIn,
    BindingCreate,
    CitizenTokenCreate,
    WebhookUpdate,
)
from backend.public_api.methodologies import router as public_methodologies
from backend.registry_api.proofs import router as registry_proofs
from backend.registry_api.router import router as registry_router
from backend.request_ids import RequestIds
from backend.settings import Settings, get_settings
from backend.settlement.process import background_services
from backend.settlement.worker import Worker

DESCRIPTION = """Tanhui (碳惠), the carbon-inclusion platform of Shantou.

Partners report citizens' green actions (signed server-to-server calls, contract v1);
the points engine turns them into reductions, points and certified credits."""


def create_app(settings: Settings | None = None, platform: Platform | None = None) -> FastAPI:
    """The ASGI app. Given a ``platform`` the caller owns it; otherwise the app opens and closes its own."""
    settings = settings or (platform.settings if platform else get_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = platform is None
        app.state.platform = platform or await Platform.open(settings)
        stop = asyncio.Event()
        workers = None
        if settings.workers:  # the embedded default: settlement inside the API process
            worker = Worker(app.state.platform, services=background_services())
            workers = asyncio.create_task(worker.run(stop), name="settlement-worker")
        try:
            yield
        finally:
            stop.set()
            if workers is not None:
                await workers
            if own:
                await app.state.platform.close()

    telemetry = settings.telemetry
    app = FastAPI(
        title="Tanhui",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        telemetry={"tracing": telemetry, "metrics": telemetry, "logs": telemetry},
    )
    if platform is not None:
        app.state.platform = platform
    problems.install(app)
    openapi.install(app, [ActionBatch, ActionBodyIn, BindingCreate, CitizenTokenCreate, WebhookUpdate])
    app.include_router(partner_router)
    app.include_router(admin_router)
    app.include_router(audit_router)
    app.include_router(public_methodologies)
    app.include_router(admin_certification)
    app.include_router(admin_registry)
    app.include_router(admin_pilot)
    app.include_router(audit_exports)
    app.include_router(registry_router)
    app.include_router(registry_proofs)
    app.include_router(citizen_router)
    app.include_router(admin_campaigns)
    app.include_router(citizen_campaigns)
    app.include_router(citizen_privacy)
    app.include_router(citizen_redemption)
    app.include_router(merchant_router)
    app.include_router(admin_merchants)

    app.add_middleware(FastIntake)  # inside RequestIds: its answers carry the request id too
    app.add_middleware(RequestIds)

    @app.get("/healthz", tags=["ops"])
    async def healthz(request: Request) -> dict[str, str]:
        """Liveness and readiness: the database and Redis answer."""
        p: Platform = request.app.state.platform
        await p.redis.ping()
        async with p.db.read() as conn:
            await conn.exec_driver_sql("SELECT 1")
        return {"status": "ok"}

    return app
