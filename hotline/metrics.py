"""Counters and gauges for /metrics, in Prometheus' text format. One instance per service."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

_HELP = {
    "hotline_ami_events_read_total": ("counter", "AMI events read from Asterisk"),
    "hotline_ami_malformed_frames_total": ("counter", "AMI frames skipped as malformed"),
    "hotline_ami_reconnects_total": ("counter", "AMI reconnect attempts"),
    "hotline_ami_resyncs_total": ("counter", "resyncs from CoreShowChannels and QueueStatus"),
    "hotline_calls_total": ("counter", "hotline calls captured"),
    "hotline_call_events_stored_total": ("counter", "call events stored"),
    "hotline_store_retries_total": ("counter", "database writes retried after an error"),
    "hotline_deadline_firings_total": ("counter", "deadline warnings, breaches and escalations fired"),
    "hotline_deadline_claim_errors_total": ("counter", "deadline scheduler rounds that failed"),
    "hotline_callbacks_placed_total": ("counter", "callback calls Asterisk accepted (Originate queued)"),
    "hotline_callback_attempts_ended_total": ("counter", "callback attempts whose outcome was recorded"),
    "hotline_callback_errors_total": ("counter", "callback dispatcher rounds that failed"),
    "hotline_floor_actions_total": ("counter", "agent state actions sent to Asterisk (log in/out, pause, ready, forced)"),
    "hotline_floor_state_changes_total": ("counter", "agent state changes stored"),
    "hotline_floor_wrapup_over_limit_total": ("counter", "after-call work past its limit, told to supervisors"),
    "hotline_floor_errors_total": ("counter", "floor agent rounds that failed"),
}


@dataclass
class Metrics:
    counters: dict[str, float] = field(default_factory=lambda: dict.fromkeys(_HELP, 0.0))
    gauges: dict[str, Callable[[], float]] = field(default_factory=dict)

    def inc(self, name: str, amount: float = 1.0) -> None:
        self.counters[name] = self.counters.get(name, 0.0) + amount

    def gauge(self, name: str, read: Callable[[], float]) -> None:
        self.gauges[name] = read

    def render(self) -> str:
        lines: list[str] = []
        for name, value in self.counters.items():
            kind, text = _HELP.get(name, ("counter", name))
            lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}", f"{name} {value:g}"]
        for name, read in self.gauges.items():
            lines += [f"# TYPE {name} gauge", f"{name} {float(read()):g}"]
        return "\n".join(lines) + "\n"
