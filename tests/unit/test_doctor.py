"""The doctor's verdict (pure): what a session showed -> findings, and the report's last lines."""

from __future__ import annotations

from hotline.doctor import Observed, Report, Verdict, diagnose

ALL_ACTIONS = frozenset({"Ping", "QueueStatus", "CoreShowChannels", "Originate", "QueueAdd", "QueueRemove", "QueuePause", "ShowDialPlan"})
SHIPPED_CONTEXTS = [("hotline-callback", "13800000000", ""), ("hotline-survey", "s", ""), ("hotline-spy", "listen", ""), ("hotline-spy", "whisper", ""), ("hotline-spy", "barge", "")]


def well() -> Observed:
    """What the shipped user shows, probes and all."""
    seen = Observed(banner="11.0.0", listed=ALL_ACTIONS, contexts=list(SHIPPED_CONTEXTS), queues=[("hotline", True)])
    seen.tested |= {"call", "dialplan", "agent"}
    seen.hear([
        {"Event": "FullyBooted", "Privilege": "system,all"},
        {"Event": "Newchannel", "Privilege": "call,all", "Timestamp": "1.0"},
        {"Event": "VarSet", "Privilege": "dialplan,all", "Timestamp": "1.1"},
        {"Event": "QueueMemberAdded", "Privilege": "agent,all", "Timestamp": "1.2"},
    ])  # fmt: skip
    return seen


def verdicts(seen: Observed) -> dict[str, Verdict]:
    return {f.subject: f.verdict for f in diagnose(seen, "hotline")}


def test_the_shipped_rights_are_healthy_with_user_unchecked() -> None:
    found = verdicts(well())
    assert found.pop("read user") is Verdict.UNCHECKED
    assert set(found.values()) == {Verdict.OK}


def test_every_class_of_an_event_is_proven_and_list_items_prove_nothing() -> None:
    seen = Observed()
    seen.hear([{"Event": "Odd", "Privilege": "system,call,all", "Timestamp": "1"}, {"Event": "QueueParams", "Queue": "hotline"}])
    assert seen.heard == {"system", "call"}


def test_events_without_a_timestamp_name_timestampevents_in_general() -> None:
    seen = well()
    seen.hear([{"Event": "Hangup", "Privilege": "call,all"}])
    [finding] = [f for f in diagnose(seen, "hotline") if f.subject == "timestampevents"]
    assert finding.verdict is Verdict.PROBLEM and "Hangup" in finding.text
    assert "set timestampevents = yes in [general] of manager.conf" in finding.fix


def test_queue_actions_missing_with_queuestatus_mean_app_queue_is_not_loaded() -> None:
    seen = well()
    seen.listed = ALL_ACTIONS - {"QueueStatus", "QueueAdd", "QueueRemove", "QueuePause"}
    problems = [f for f in diagnose(seen, "hotline") if f.verdict is Verdict.PROBLEM]
    assert [f.subject for f in problems] == ["write（无需类别 no class）", "write agent"]
    assert all("load = app_queue.so" in f.fix and f.grant is None for f in problems)


def test_rights_the_service_never_uses_are_warned_of_but_healthy() -> None:
    seen = well()
    seen.listed |= {"Command", "ModuleLoad"}
    report = Report("pbx:5038", "hotline", tuple(diagnose(seen, "hotline")))
    warned = [f for f in report.findings if f.verdict is Verdict.WARNING]
    assert [f.subject for f in warned] == ["write command", "write system"]
    assert report.healthy and "all is well" in report.render().splitlines()[-1]


def test_a_missing_context_or_extension_says_what_to_copy() -> None:
    seen = well()
    seen.contexts = [(c, e, "Did not find context hotline-survey" if c == "hotline-survey" else "Did not find extension barge@hotline-spy" if e == "barge" else "") for c, e, _ in SHIPPED_CONTEXTS]
    found = {f.subject: f for f in diagnose(seen, "hotline")}
    assert found["context hotline-survey"].verdict is Verdict.PROBLEM and "no such context" in found["context hotline-survey"].text
    assert "no extension barge" in found["context hotline-spy"].text
    assert "copy [hotline-spy] from asterisk-config/extensions.conf" in found["context hotline-spy"].fix
    assert found["context hotline-callback"].verdict is Verdict.OK


def test_the_report_ends_with_one_edit_for_every_missing_class() -> None:
    seen = well()
    seen.listed -= {"Originate"}
    seen.heard -= {"agent", "system"}
    report = Report("pbx:5038", "hotline", tuple(diagnose(seen, "hotline")))
    *_, edit, result = report.render().splitlines()
    assert not report.healthy
    assert "in [hotline] of manager.conf: add system, agent to read =; add originate to write =;" in edit
    assert result.endswith("result: 3 problem(s) found: fix them as shown after →, then run again")
