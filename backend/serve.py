"""``tanhui serve``: migrate, start the API with uvicorn, print where everything is."""

from __future__ import annotations

import json
import threading
import time

import httpx
import uvicorn
from rich.console import Console

from backend.app import create_app
from backend.heap import freeze_startup_heap
from backend.migrate import upgrade
from backend.settings import Settings

console = Console(stderr=True)


def _wait_ready(base_url: str, timeout_s: float = 30) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False


def _announce(settings: Settings, demo: bool, as_json: bool) -> None:
    base = settings.base_url
    if not _wait_ready(base):
        console.print("[red]the API did not become ready[/red]")
        return
    if not as_json:
        _banner(settings, demo)
    if demo:
        _demo(settings, as_json)
    if as_json:
        urls = {
            "api": base,
            "docs": f"{base}/docs",
            "openapi": f"{base}/openapi.json",
            "health": f"{base}/healthz",
            "registry": f"{base}/v1/registry/runs",
        }
        print(json.dumps(urls), flush=True)


def _banner(settings: Settings, demo: bool) -> None:
    base = settings.base_url
    console.print(
        "\n[bold green]Tanhui is running[/bold green]\n"
        f"  API             {base}/v1/partner/…\n"
        f"  API docs        {base}/docs   (OpenAPI: {base}/openapi.json)\n"
        f"  public registry {base}/v1/registry/runs   (proofs: {base}/v1/registry/proofs/<partner>/<event>)\n"
        f"  health          {base}/healthz\n"
        f"  database        {settings.effective_database_url.split('@')[-1]}\n"
        f"  redis           {settings.redis_url or 'embedded, ' + str(settings.var_dir / 'redis')}\n"
        "  admin token     tanhui token --role admin --sub you\n"
        + ("Seeding demo data (a week of traffic, then certification)…\n" if demo else "")
        + "Ctrl-C stops."
    )


def _demo(settings: Settings, as_json: bool) -> None:
    from backend.demo import certify_and_prove, describe, seed
    from backend.demo_shop import open_and_spend

    summary = seed(settings, settings.base_url, progress=not as_json)
    try:
        summary["certification"] = certify_and_prove(settings, settings.base_url)
        summary["shop"] = open_and_spend(settings, settings.base_url)
    except Exception as exc:  # the platform stays up; the demo's last step says what went wrong
        console.print(f"[red]demo certification or spending failed:[/red] {exc}")
    console.print(describe(summary))
    console.print(f"partner credentials in {summary['credentials_file']}")


def run(settings: Settings, demo: bool, as_json: bool = False) -> None:
    upgrade(settings.effective_database_url)
    threading.Thread(target=_announce, args=(settings, demo, as_json), daemon=True).start()
    app = create_app(settings)
    freeze_startup_heap()
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
