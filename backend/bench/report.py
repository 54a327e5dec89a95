"""The few lines a person reads after `make bench`; the JSON holds the rest."""

from __future__ import annotations

from typing import Any

from backend.bench.cpu import STOLEN

NOTICEABLE_STEAL = 0.05  # cores: runs here with nothing stolen showed 0.00-0.03


def _num(value: float | None, unit: str = "") -> str:
    return "n/a" if value is None else f"{value:,.1f}{unit}"


def _met(target: dict[str, Any]) -> str:
    return {True: "[green]met[/green]", False: "[red]not met[/red]", None: "[yellow]n/a[/yellow]"}[
        target.get("met")
    ]


def summary(result: dict[str, Any]) -> str:
    """Intake, settlement, single-action latency, memory and reconciliation, one line each (the
    certification phase's lines instead of or after them when it ran)."""
    lines = _platform_lines(result) if "intake" in result else []
    if "certification" in result:
        lines += _certification_lines(result["certification"], (result.get("targets") or {}))
    machine = result.get("machine") or {}
    start, end = machine.get("engine_us_per_action_at_start"), machine.get("engine_us_per_action_at_end")
    lines.append(
        f"machine     the engine's fixed workload: {_num(start, ' µs')} an action at the start, "
        f"{_num(end, ' µs')} at the end (calibrate.py: compare runs by it)"
    )
    stolen = _stolen(result)
    if stolen:
        taken = ", ".join(f"{phase} {cores:.2f}" for phase, cores in stolen.items())
        lines.append(f"            the hypervisor took cores ({taken}): this run's figures are lower bounds")
    return "\n".join([*lines, f"written to  {', '.join(result.get('written_to', []))}"])


def _stolen(result: dict[str, Any]) -> dict[str, float]:
    """Cores the hypervisor gave to other machines during each phase, where that was noticeable."""
    phases = {
        "intake": (result.get("intake") or {}).get("cpu_cores"),
        "settlement": (result.get("settlement") or {}).get("cpu_cores_while_waiting"),
        "single": (result.get("single") or {}).get("cpu_cores"),
    }
    stolen = {phase: (cores or {}).get(STOLEN) for phase, cores in phases.items()}
    return {phase: cores for phase, cores in stolen.items() if (cores or 0.0) >= NOTICEABLE_STEAL}


def _certification_lines(cert: dict[str, Any], targets: dict[str, Any]) -> list[str]:
    memory, checks = cert.get("memory") or {}, cert.get("checks") or {}
    failed = [name for name, ok in checks.items() if ok is False]
    return [
        f"certify     {cert.get('actions', 0):,} actions in {_num(cert.get('seconds'), ' s')}: "
        f"{_num(cert.get('actions_per_s'))} actions/s (issue {_num(cert.get('issue_seconds'), ' s')}, "
        f"of which leaves {_num(cert.get('hash_seconds'), ' s')}; "
        f"points {_num(cert.get('points_seconds'), ' s')}) "
        f"{_met(targets.get('certification_run', {}))}",
        f"            RSS {_num(memory.get('rss_before_mb'), ' MB')} before, peak "
        f"{_num(memory.get('peak_rss_mb'), ' MB')}, {_num(memory.get('rss_after_mb'), ' MB')} after; "
        f"{cert.get('tonnes', 0):,} t; checks {'ok' if checks.get('ok') else 'FAILED: ' + ', '.join(failed)}",
    ]


def _platform_lines(result: dict[str, Any]) -> list[str]:
    intake, settle = result.get("intake") or {}, result.get("settlement") or {}
    single, memory = result.get("single") or {}, result.get("memory") or {}
    check, targets = result.get("reconcile") or {}, result.get("targets") or {}
    latency = single.get("latency_ms") or {}
    batch_p99 = (intake.get("batch_latency_ms") or {}).get("p99")
    settled = "settled" if settle.get("settled") else f"NOT settled ({settle.get('reason')})"
    peaks = ", ".join(f"{name} {_num(mb, ' MB')}" for name, mb in (memory.get("peak_rss_mb") or {}).items())
    mismatches = "; ".join(check.get("mismatches", []))
    lines = [
        f"intake      {intake.get('accepted', 0):,} accepted in {_num(intake.get('seconds'), ' s')}: "
        f"{_num(intake.get('actions_per_s'))} actions/s "
        f"(rejected {intake.get('rejected', 0):,}, batch p99 {_num(batch_p99, ' ms')})",
        f"settlement  {settled}: {_num(settle.get('actions_per_s'))} actions/s end to end "
        f"{_met(targets.get('settled_actions_per_s', {}))}",
        f"single      {_num(single.get('achieved_rate'))} req/s: p50 {_num(latency.get('p50'), ' ms')}, "
        f"p99 {_num(latency.get('p99'), ' ms')}, max {_num(latency.get('max'), ' ms')} "
        f"{_met(targets.get('single_accept_p99_ms', {}))}",
        f"memory      peak {peaks or 'n/a'}; flat {memory.get('flat')} "
        f"{_met(targets.get('memory_flat', {}))}",
        f"reconcile   {'ok' if check.get('ok') else 'MISMATCH: ' + mismatches}",
    ]
    return lines
