"""The command line of the simulators: bind, replay a day or run at a rate, print a summary."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date, datetime, timedelta
from typing import Any

from .base import SHANGHAI, Traffic
from .fraud import FRAUD_KINDS, SUPPORTED, inject, replay_request
from .registry import GENERATORS, KINDS
from .report import Progress
from .run import replay_day, run_at_rate


def _yesterday() -> date:
    # A whole day in the past: the API refuses actions from the future and older than 7 days.
    return datetime.now(SHANGHAI).date() - timedelta(days=1)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m partners.simulators", description=__doc__)
    p.add_argument("kind", choices=KINDS, help="the partner kind to simulate")
    p.add_argument("--base-url", default=os.environ.get("TANHUI_BASE_URL", "http://127.0.0.1:8000"))
    p.add_argument("--partner", default=os.environ.get("TANHUI_PARTNER"), help="partner id")
    p.add_argument("--key-id", default=os.environ.get("TANHUI_KEY_ID"))
    p.add_argument("--secret", default=os.environ.get("TANHUI_SECRET"), help="or env TANHUI_SECRET")
    p.add_argument("--day", type=date.fromisoformat, default=None, help="YYYY-MM-DD (default: yesterday)")
    p.add_argument("--citizens", type=int, default=200)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--population-seed", type=int, default=None, help="who the citizens are (default: --seed)")
    p.add_argument("--rate", type=float, default=None, help="actions/s; without it, replay the day at once")
    p.add_argument("--duration", type=float, default=60.0, help="seconds a --rate run lasts at most")
    p.add_argument("--fraud", default="", help=f"comma-separated: {','.join(FRAUD_KINDS)}")
    p.add_argument("--fraud-count", type=int, default=1, help="cases per fraud kind")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--dump", action="store_true", help="print the actions as JSON lines; send nothing")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    day = args.day or _yesterday()
    frauds = [f.strip() for f in args.fraud.split(",") if f.strip()]
    unsupported = [f for f in frauds if f not in SUPPORTED[args.kind]]
    if unsupported:
        sys.exit(
            f"{args.kind} supports --fraud {','.join(SUPPORTED[args.kind])}, not {','.join(unsupported)}"
        )
    traffic_frauds = [f for f in frauds if f != "replay"]
    if args.dump:
        for action in _traffic(args, day, traffic_frauds).actions:
            print(json.dumps(action, ensure_ascii=False))
        return 0
    if not (args.partner and args.key_id and args.secret):
        sys.exit(
            "--partner, --key-id and --secret (or TANHUI_PARTNER, TANHUI_KEY_ID, TANHUI_SECRET) are required"
        )

    from partners.sdk import ApiError, Credentials, TanhuiClient

    creds = Credentials(partner_id=args.partner, key_id=args.key_id, secret=args.secret)
    progress = None if args.quiet else Progress(f"[{args.kind}]")
    try:
        with TanhuiClient(args.base_url, creds) as client:
            if args.rate:
                summary = run_at_rate(
                    client,
                    args.kind,
                    day,
                    rate=args.rate,
                    duration=args.duration,
                    citizens=args.citizens,
                    seed=args.seed,
                    population_seed=args.population_seed,
                    frauds=traffic_frauds,
                    progress=progress,
                )
                first = GENERATORS[args.kind].day(
                    day, args.citizens, args.seed, population_seed=args.population_seed
                )
            else:
                first = _traffic(args, day, traffic_frauds)
                if progress is not None:
                    progress.total = len(first.actions)
                summary = replay_day(client, first, progress=progress)
        if "replay" in frauds and first.actions:
            summary["replay"] = _replay(args.base_url, creds, first)
    except ApiError as error:
        print(f"stopped: {error}", file=sys.stderr)
        return 1
    summary.update(
        kind=args.kind, partner=args.partner, day=day.isoformat(), seed=args.seed, citizens=args.citizens
    )
    print(json.dumps(summary, ensure_ascii=False, indent=2) if args.json else _text(summary))
    return 0


def _traffic(args: argparse.Namespace, day: date, frauds: list[str]) -> Traffic:
    generator = GENERATORS[args.kind]
    traffic = generator.day(day, args.citizens, args.seed, population_seed=args.population_seed)
    if frauds:
        traffic = inject(
            traffic,
            args.kind,
            frauds,
            day=day,
            seed=args.seed,
            population_seed=args.population_seed,
            citizens=args.citizens,
            count=args.fraud_count,
        )
    return traffic


def _replay(base_url: str, creds: Any, traffic: Traffic) -> dict[str, Any]:
    action = traffic.actions[0]  # already reported: the first send answers 202 (duplicate)
    result = replay_request(base_url, creds, [action])
    mobile = dict(traffic.bindings).get(action["user"])
    return {
        "kind": "replay",
        "expect": "401",
        "user": action["user"],
        "mobile": mobile,
        "event_ids": list(result.event_ids),
        "first_status": result.first_status,
        "second_status": result.second_status,
        "problem_type": result.problem_type,
        "caught": result.caught,
    }


def _text(s: dict[str, Any]) -> str:
    target = f", target {s['target_rate']:,.0f}/s" if "target_rate" in s else ""
    lines = [
        f"{s['kind']} as {s['partner']}: {s['actions']:,} actions of {s['day']} "
        f"(seed {s['seed']}, {s['citizens']:,} citizens{target})",
        f"  bound {s.get('bindings', 0):,} users: {s.get('bindings_created', 0):,} new, "
        f"{s.get('binding_errors', 0):,} refused"
        + (f" ({s['binding_error_sample']})" if s.get("binding_error_sample") else ""),
        f"  accepted {s['accepted']:,}  duplicates {s['duplicates']:,}  rejected {s['rejected']:,}  "
        f"in {s['seconds']:.1f} s = {s['actions_per_s'] or 0:,.0f} actions/s "
        f"(+{s.get('binding_seconds', 0):.1f} s binding)",
    ]
    lines += [f"  rejected as {kind}: {n:,}" for kind, n in sorted(s["problems"].items())]
    for case in s["fraud"]:
        caught = ", ".join(case["event_ids"][:3]) + (" …" if len(case["event_ids"]) > 3 else "")
        lines.append(f"  fraud {case['kind']} (expect {case['expect']}): {caught} — {case['detail']}")
    if "replay" in s:
        r = s["replay"]
        lines.append(f"  fraud replay (expect 401): answered {r['first_status']} then {r['second_status']}")
    return "\n".join(lines)
