"""Auditor exports and reports (bearer token, role ``auditor`` or ``admin``; docs/reports.md).
Nothing here changes anything."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import StreamingResponse

from backend.audit_api.export_schemas import PilotReportRead
from backend.auth.roles import bearer
from backend.auth.tokens import Principal
from backend.deps import PlatformDep
from backend.openapi import problem_responses
from backend.reports import downloads
from backend.reports.pilot import pilot_report
from backend.reports.writers import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE

router = APIRouter(prefix="/v1/audit", tags=["audit"])
Auditor = Annotated[Principal, Depends(bearer("auditor", "admin"))]
AUTH = ("invalid-token", "forbidden")
FILES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {CSV_MEDIA_TYPE: {}, XLSX_MEDIA_TYPE: {}},
        "description": "the file, as an attachment",
    }
}


def _send(file: downloads.Download) -> StreamingResponse:
    return StreamingResponse(
        file.chunks, media_type=file.media_type, headers={"content-disposition": file.disposition}
    )


@router.get(
    "/pilot/report",
    response_model=PilotReportRead,
    responses={**problem_responses(*AUTH, "invalid-request", signed=False), **FILES},
)
async def read_pilot_report(
    _: Auditor,
    platform: PlatformDep,
    year: Annotated[int, Query(ge=2000, le=9998, description="calendar year, Asia/Shanghai")],
    format: Annotated[
        Literal["json", "csv", "xlsx"], Query(description="csv and xlsx: (section, key, metric, value) rows")
    ] = "json",
) -> Any:
    """The Nan'ao pilot's year: its reductions by type and month, what was certified and issued, the
    tonnes retired for the pilot, sold and still held, and the progress to its target."""
    if format == "json":
        return PilotReportRead.model_validate((await pilot_report(platform.db, year)).as_json())
    return _send(await downloads.pilot_report_file(platform.db, year, format))


@router.get(
    "/exports/{name}.{fmt}",
    response_class=StreamingResponse,
    responses={**problem_responses(*AUTH, "not-found", signed=False), **FILES},
)
async def download_export(
    name: Annotated[str, Path(description="runs, ranges, retirements, partners or methodologies")],
    fmt: Annotated[str, Path(description="csv or xlsx")],
    _: Auditor,
    platform: PlatformDep,
) -> StreamingResponse:
    """An export, `name` one of `runs`, `ranges`, `retirements`, `partners`, `methodologies`, as
    `.csv` (streamed as it is read) or `.xlsx`; columns in docs/reports.md. Anything else is 404."""
    return _send(await downloads.export(platform.db, name, fmt))
