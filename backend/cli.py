"""``tanhui``: run, administer and demonstrate the platform. Every command has ``--json`` for scripts."""

from __future__ import annotations

import asyncio
import getpass
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from backend import audit
from backend import reconcile as reconciliation
from backend.admin_api import methodologies as methodology_admin
from backend.admin_api import partners as partner_admin
from backend.audit_api.schemas import AuditEntryRead
from backend.auth.tokens import ROLES, TokenService
from backend.context import Platform
from backend.errors import AppError, InvalidMethodology
from backend.migrate import upgrade
from backend.settings import Settings, get_settings
from points_engine.errors import EngineError

app = typer.Typer(help="Tanhui (碳惠): Shantou's carbon-inclusion platform.", no_args_is_help=True)
partner_app = typer.Typer(help="Partners and their keys.", no_args_is_help=True)
app.add_typer(partner_app, name="partner")
methodology_app = typer.Typer(help="Methodology versions: list, publish.", no_args_is_help=True)
app.add_typer(methodology_app, name="methodology")
audit_app = typer.Typer(help="The audit log: read it, verify its hash chain.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
console = Console(stderr=True)
T = TypeVar("T")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _with_platform(work: Callable[[Platform], Awaitable[T]]) -> T:
    settings = get_settings()
    upgrade(settings.effective_database_url)  # outside the loop: Alembic runs its own

    async def main() -> T:
        platform = await Platform.open(settings)
        try:
            return await work(platform)
        finally:
            await platform.close()

    try:
        return asyncio.run(main())
    except (AppError, EngineError) as exc:
        console.print(f"[red]error[/red] ({exc.code}): {escape(exc.detail)}")
        raise typer.Exit(2) from exc


def _emit(data: Any, as_json: bool, human: str) -> None:
    if as_json:
        print(json.dumps(data, ensure_ascii=False))
    else:
        console.print(human)


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


@app.command()
def migrate(as_json: JsonOpt = False) -> None:
    """Bring the database to the newest schema (PostgreSQL or SQLite)."""
    settings = get_settings()
    upgrade(settings.effective_database_url)
    where = settings.effective_database_url.split("@")[-1]
    _emit({"database": where, "migrated": True}, as_json, f"migrated {where}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    demo: Annotated[bool, typer.Option(help="Seed demo partners, citizens and actions once up.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Run the API (and, unless TANHUI_WORKERS=false, the background workers); prints the URLs."""
    from backend.serve import run

    settings = get_settings()
    if host:
        settings.host = host
    if port:
        settings.port = port
    run(settings, demo=demo, as_json=as_json)


@app.command()
def worker() -> None:
    """Run settlement workers and webhook delivery as a process of their own (production: one or
    more beside `tanhui serve` with TANHUI_WORKERS=false). Stops cleanly on SIGTERM or Ctrl-C."""
    from backend.settlement.process import run_worker

    run_worker(get_settings())


@app.command()
def demo(
    base_url: Annotated[
        str | None, typer.Option(help="A running Tanhui; default: this installation's.")
    ] = None,
    citizens: Annotated[int, typer.Option(help="City citizens (shared by the demo partners).")] = 1000,
    nanao_citizens: Annotated[int, typer.Option(help="Citizens of the Nan'ao pilot cohort.")] = 700,
    days: Annotated[int, typer.Option(min=1, max=6, help="Days of traffic, ending yesterday.")] = 6,
    certify: Annotated[bool, typer.Option(help="Then certify, retire for the pilot, prove.")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Seed demo partners, citizens and a week of actions through the real HTTP API (with the SDK);
    then certify both books, retire a tonne for the Nan'ao pilot and verify a proof offline; then
    open the demo merchants and spend one citizen's points at one of them, through the API."""
    from backend.demo import certify_and_prove, describe, seed
    from backend.demo_shop import open_and_spend

    settings = get_settings()
    url = base_url or settings.base_url
    summary = seed(
        settings, url, citizens=citizens, nanao_citizens=nanao_citizens, days=days, progress=not as_json
    )
    if certify:
        summary["certification"] = certify_and_prove(settings, url)
        summary["shop"] = open_and_spend(settings, url)
    _emit(summary, as_json, describe(summary))


@app.command()
def bench(
    batches: Annotated[int, typer.Option(help="Signed batches sent through intake.")] = 200,
    batch_size: Annotated[int, typer.Option(help="Actions per batch (at most 1,000).")] = 1000,
    clients: Annotated[int, typer.Option(help="Client processes sending the load.")] = 2,
    connections: Annotated[int, typer.Option(help="Concurrent batch requests per client.")] = 2,
    rate: Annotated[float, typer.Option(help="Single-action requests per second (open loop).")] = 1000.0,
    single_seconds: Annotated[float, typer.Option(help="Seconds of the single-action phase.")] = 20.0,
    workers: Annotated[
        str, typer.Option(help="`tanhui worker` processes (a number), or 'inprocess' (inside serve).")
    ] = "1",
    api: Annotated[int, typer.Option(help="`tanhui serve` processes, one port each.")] = 1,
    settle_timeout: Annotated[float, typer.Option(help="Seconds to wait for settlement at most.")] = 300.0,
    keep_db: Annotated[bool, typer.Option(help="Keep the bench database and Redis keys.")] = False,
    out: Annotated[
        Path | None, typer.Option(help="JSON to write (default var/bench/bench-<time>.json, latest.json).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Simulator seed.")] = 1,
    cache: Annotated[
        bool, typer.Option(help="Reuse generated actions and bound users (var/bench/cache, a template db).")
    ] = True,
    certify_actions: Annotated[
        int,
        typer.Option(help="Settled actions to generate and certify in one run (0: no certification phase)."),
    ] = 0,
    certify_only: Annotated[
        bool,
        typer.Option(help="Only the certification phase (no platform, no intake); needs --certify-actions."),
    ] = False,
    redeem_seconds: Annotated[
        float, typer.Option(help="Seconds of reservations + redemptions at --redeem-rate (0: no such phase).")
    ] = 0.0,
    redeem_rate: Annotated[
        float, typer.Option(help="Redemptions per second in the redemption phase.")
    ] = 200.0,
    redeem_only: Annotated[
        bool, typer.Option(help="Only the redemption phase (its own platform); needs --redeem-seconds.")
    ] = False,
    setting: Annotated[
        list[str] | None,
        typer.Option(help="NAME=VALUE for the platform's processes (repeatable), e.g. settle_linger_ms=250."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """End-to-end benchmark on TANHUI_DATABASE_URL's server (a fresh database) and TANHUI_REDIS_URL:
    intake actions/s, settled actions/s, single-action accept latency, peak RSS, reconciled counts."""
    from backend.bench import BenchError, BenchOptions, execute
    from backend.bench.report import summary

    try:
        options = BenchOptions(
            batches=batches, batch_size=batch_size, clients=clients, connections=connections, rate=rate,
            single_seconds=single_seconds, workers=workers, api=api, settle_timeout=settle_timeout,
            keep_db=keep_db, out=out, seed=seed, cache=cache, certify_actions=certify_actions,
            certify_only=certify_only, redeem_seconds=redeem_seconds, redeem_rate=redeem_rate,
            redeem_only=redeem_only, settings=tuple(setting or ()),
        )  # fmt: skip
        result = execute(options, console)
    except BenchError as exc:
        console.print(f"[red]error[/red]: {exc}")
        raise typer.Exit(2) from exc
    _emit(result, as_json, summary(result))


@app.command()
def token(
    role: Annotated[str, typer.Option(help=f"One of {', '.join(ROLES)}.")],
    sub: Annotated[str, typer.Option(help="Who the token is for (operator name, merchant id, citizen id).")],
    ttl: Annotated[int | None, typer.Option(help="Seconds of validity.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Mint a bearer token for scripts and consoles."""
    if role not in ROLES:
        console.print(f"[red]error[/red]: role must be one of {', '.join(ROLES)}")
        raise typer.Exit(2)
    settings: Settings = get_settings()
    ttl = ttl or (settings.citizen_token_ttl_s if role == "citizen" else settings.operator_token_ttl_s)
    tokens = TokenService(settings.secret("jwt_key"), settings.jwt_issuer)
    jwt = tokens.mint(sub, role, ttl, int(time.time()))  # type: ignore[arg-type]
    _emit({"access_token": jwt, "token_type": "Bearer", "expires_in": ttl, "role": role}, as_json, jwt)


@partner_app.command("create")
def partner_create(
    partner_id: str,
    types: Annotated[str, typer.Option(help="Comma-separated: trip,waste_sorting,clean_plate.")],
    regions: Annotated[str, typer.Option(help="Comma-separated division codes, e.g. 440507,440523.")],
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Create a partner and its first key; the secret is printed once."""
    issued = _with_platform(
        lambda p: partner_admin.create_partner(
            p, partner_id, _split(types), _split(regions), name, actor=_operator()
        )
    )
    _emit(
        issued.as_dict(),
        as_json,
        f"partner {partner_id}: key {issued.key_id}, secret {issued.secret} (shown once)",
    )


@partner_app.command("list")
def partner_list(as_json: JsonOpt = False) -> None:
    """Every partner, its permissions and keys (never a secret)."""
    partners = _with_platform(partner_admin.list_partners)
    lines = [
        f"{p['partner_id']:<20} types={','.join(p['types'])} regions={','.join(p['regions'])} "
        f"keys={','.join(k['key_id'] + ':' + k['status'] for k in p['keys'])}"
        for p in partners
    ]
    _emit(partners, as_json, "\n".join(lines) or "no partners")


@partner_app.command("rotate-key")
def partner_rotate_key(partner_id: str, as_json: JsonOpt = False) -> None:
    """Issue the partner's next key; the current one stays valid until revoked."""
    issued = _with_platform(lambda p: partner_admin.rotate_key(p, partner_id, actor=_operator()))
    _emit(
        issued.as_dict(),
        as_json,
        f"partner {partner_id}: key {issued.key_id}, secret {issued.secret} (shown once)",
    )


@partner_app.command("revoke-key")
def partner_revoke_key(partner_id: str, key_id: str, as_json: JsonOpt = False) -> None:
    """Revoke a key; requests signed with it fail at once."""
    _with_platform(lambda p: partner_admin.revoke_key(p, partner_id, key_id, actor=_operator()))
    _emit({"partner_id": partner_id, "key_id": key_id, "status": "revoked"}, as_json, f"revoked {key_id}")


@partner_app.command("set-webhook")
def partner_set_webhook(
    partner_id: str,
    url: Annotated[str | None, typer.Argument(help="Callback URL; omit with --clear.")] = None,
    clear: Annotated[bool, typer.Option(help="Stop deliveries.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Set the URL that receives signed callbacks (action.settled, points.expiring); prints its
    signing secret once."""
    if not url and not clear:
        console.print("[red]error[/red]: give a URL or --clear")
        raise typer.Exit(2)
    secret = _with_platform(
        lambda p: partner_admin.set_webhook(p, partner_id, None if clear else url, actor=_operator())
    )
    _emit(
        {"partner_id": partner_id, "url": url, "secret": secret},
        as_json,
        f"webhook {url or 'cleared'} {secret or ''}",
    )


def _operator() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name in this environment
        return "cli"


@methodology_app.command("publish")
def methodology_publish(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, readable=True, help="The version document, as versions/*.json."
        ),
    ],
    by: Annotated[str | None, typer.Option(help="Who publishes (default: cli:<login>).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Publish a new methodology version: in force from its effective_from on every process, never changed.

    It must start more than 10 minutes from now and after the latest version, under a new name, and
    price every key the latest prices."""

    async def work(p: Platform) -> Any:
        try:
            document = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InvalidMethodology(f"{file}: {exc}") from exc
        return await methodology_admin.publish_methodology(p, document, by or _operator())

    summary = methodology_admin.summary(_with_platform(work))
    _emit(
        summary,
        as_json,
        f"published {summary['version']}, in force from {summary['effective_from']}",
    )


@methodology_app.command("list")
def methodology_list(as_json: JsonOpt = False) -> None:
    """Every methodology version, bundled and published, oldest first."""
    summaries = [methodology_admin.summary(e) for e in _with_platform(methodology_admin.list_methodologies)]
    lines = [
        f"{s['version']:<10} from {s['effective_from']}  {s['source']}"
        + (f" by {s['published_by']} at {s['published_at']}" if s["published_by"] else "")
        for s in summaries
    ]
    _emit(summaries, as_json, "\n".join(lines))


@app.command("certify")
def certify_command(
    book: Annotated[str, typer.Option(help="shantou or nanao")],
    period: Annotated[str, typer.Option(help="A month in Asia/Shanghai: YYYY-MM.")],
    as_json: JsonOpt = False,
) -> None:
    """Certify what settled in BOOK and PERIOD since its last run: issue whole tonnes as a serial range,
    carry the grams over, make the points available. Says so, and issues nothing, when nothing is new."""
    from backend.bench.ui import progress
    from backend.certification.runs import certify
    from backend.errors import NothingToCertify

    async def work(p: Platform) -> Any:
        with progress(console) as bars:
            tasks: dict[str, Any] = {}

            def advance(phase: str, done: int, total: int) -> None:
                label = {"hash": "hashing actions", "points": "moving points"}.get(phase, phase)
                if phase not in tasks:
                    tasks[phase] = bars.add_task(label, total=max(total, 1), note="")
                bars.update(tasks[phase], completed=done, total=max(total, 1))

            try:
                return await certify(
                    p.db, book, period, actor=_operator(), progress=None if as_json else advance
                )
            except NothingToCertify as exc:
                return exc

    result = _with_platform(work)
    if isinstance(result, AppError):
        _emit({"issued": False, "detail": result.detail}, as_json, f"nothing new to certify: {result.detail}")
        return
    run = {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in result.as_dict().items()}
    human = (
        f"{run['run_id']}: {run['tree_size']:,} actions, {run['reduction_g']:,} g "
        f"(+{run['carry_in_g']:,} g carried in) → {run['tonnes']:,} t, {run['carry_out_g']:,} g carried on\n"
        f"  serial {run['serial'] or '(none: under one tonne)'}\n  root   {run['root']}"
    )
    _emit({"issued": True, **run}, as_json, human)


@app.command("expire")
def expire_command(as_json: JsonOpt = False) -> None:
    """Expire available points past their validity (oldest first) and queue `points.expiring` notices
    of what expires within 30 days; a second run on the same Shanghai day changes nothing."""
    from backend.bench.ui import progress
    from backend.expiry import sweep

    async def work(p: Platform) -> Any:
        with progress(console) as bars:
            task = bars.add_task("citizens", total=None, note="", visible=not as_json)
            return await sweep(p, progress=lambda done, total: bars.update(task, completed=done, total=total))

    report = _with_platform(work).as_dict()
    expired = ", ".join(f"{n:,} {book}" for book, n in report["expired"].items()) or "none"
    human = (
        f"{report['day']}: {report['citizens']:,} citizens with points, {report['expired_citizens']:,} "
        f"had points expire ({expired}); {report['notices']:,} notices queued"
    )
    _emit(report, as_json, human)


def _anchor(value: str) -> tuple[int, str]:
    seq, _, digest = value.partition(":")
    if not seq.strip().isdigit() or len(digest) != 64:
        raise typer.BadParameter("expected SEQ:HASH, e.g. 42:<64 hex digits>")
    return int(seq), digest.lower()


@audit_app.command("verify")
def audit_verify(
    anchor: Annotated[
        list[str] | None,
        typer.Option(help="SEQ:HASH of a head kept elsewhere: it must still be in the chain."),
    ] = None,
    chain_only: Annotated[bool, typer.Option("--chain-only", help="Verify the hash chain only.")] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="An accepted action still unsettled after an hour is a finding.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Recompute the audit log's hash chain, every certification run's Merkle tree, and reconcile
    runs, serial ranges, the ledger and per-partner totals; exits 1, naming each row, when anything
    disagrees (docs/audit.md)."""
    anchors = dict(_anchor(a) for a in anchor or [])
    if chain_only:
        report = _with_platform(lambda p: audit.verify(p.db, anchors=anchors))
        head = f"{report.rows} rows, head {report.head_seq}:{report.head_hash}"
        lines = [f"audit log: {report.problem_count} problem(s)"]
        lines += [escape(f"seq {p.seq}: {p.code}: {p.detail}") for p in report.problems]
        if report.problem_count > len(report.problems):
            lines.append(f"… and {report.problem_count - len(report.problems)} more")
        _emit(report.as_json(), as_json, f"audit log ok: {head}" if report.ok else "\n".join([*lines, head]))
        if not report.ok:
            raise typer.Exit(1)
        return
    columns = (TextColumn("{task.description:<9}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True, disable=as_json) as bars:
        tasks = {name: bars.add_task(name, total=None) for name in reconciliation.CHECKS}

        def progress(check: str, done: int, total: int | None) -> None:
            bars.update(tasks[check], completed=done, total=total)

        done = _with_platform(
            lambda p: reconciliation.reconcile(p.db, anchors=anchors, strict=strict, progress=progress)
        )
    chain = done.chain
    lines = [
        f"{name:<9} {'ok' if c.ok else f'{c.findings} finding(s)':<14} {c.checked} checked"
        for name, c in done.checks.items()
    ]
    lines += [escape(str(f)) for f in done.findings]  # row contents shown as they are, never as markup
    if done.finding_count > len(done.findings):
        lines.append(f"… and {done.finding_count - len(done.findings)} more")
    lines.append(f"audit log: {chain.rows} rows, head {chain.head_seq}:{chain.head_hash}")
    lines.append("all checks agree" if done.ok else f"{done.finding_count} finding(s)")
    _emit(done.as_json(), as_json, "\n".join(lines))
    if not done.ok:
        raise typer.Exit(1)


@audit_app.command("log")
def audit_log(
    after: Annotated[int, typer.Option(help="Show entries after this seq.")] = 0,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many entries.")] = 100,
    as_json: JsonOpt = False,
) -> None:
    """Audit entries after --after, oldest first: who did what to what, and when."""
    rows = _with_platform(lambda p: audit.page(p.db, after, limit))
    entries = [AuditEntryRead.of(r).model_dump() for r in rows]
    lines = [
        escape(
            f"{e['seq']:>6} {e['at']} {e['actor']:<16} {e['action']:<24} {e['subject']} "
            + json.dumps(e["details"], ensure_ascii=False)
        )  # what is logged is shown as it is, never as console markup
        for e in entries
    ]
    _emit(entries, as_json, "\n".join(lines) or "no entries")
