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
    # Several instances (PostgreSQL)
    "hotline_ami_takeovers_total": ("counter", "times this instance took the AMI lease"),
    "hotline_ami_leases_lost_total": ("counter", "times this instance lost the AMI lease while connected"),
    "hotline_call_events_fenced_total": ("counter", "call events heard but not stored: another instance owns AMI now"),
    "hotline_floor_changes_fenced_total": ("counter", "agent state changes heard but not stored: another instance owns AMI now"),
    "hotline_callback_events_fenced_total": ("counter", "callback events heard but not recorded: another instance owns AMI now"),
    "hotline_deadline_claims_contended_total": ("counter", "deadline scans that found due rows claimed by another instance"),
    "hotline_callback_claims_contended_total": ("counter", "callback claims that waited for another instance's claim"),
    "hotline_relay_sent_total": ("counter", "events sent to the other instances"),
    "hotline_relay_received_total": ("counter", "events received from the other instances"),
    "hotline_relay_reconnects_total": ("counter", "relay connections opened again after a fault"),
    "hotline_relay_gaps_total": ("counter", "relay gaps (LISTEN lost and back): pictures read again, pages reconnected"),
    "hotline_owner_requests_sent_total": ("counter", "floor actions and listen-ins passed to the AMI owner"),
    "hotline_owner_requests_served_total": ("counter", "floor actions and listen-ins done for another instance"),
    "hotline_owner_requests_unanswered_total": ("counter", "requests to the AMI owner that got no answer in time"),
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
