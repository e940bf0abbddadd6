"""The service's manager user can do its job and nothing that would hand over the PBX."""

from __future__ import annotations

from tests.asterisk.ami import AmiSession
from tests.asterisk.lab import Asterisk, Lab


async def test_the_hotline_user_logs_in_and_can_resync(asterisk: Asterisk) -> None:
    session = await asterisk.ami("hotline", asterisk.secret)
    try:
        # FullyBooted needs read=system; the service waits for it after a PBX restart.
        await session.event("FullyBooted", timeout=5)
        assert (await session.action("Ping")).get("Response") == "Success"
        for action in ("CoreShowChannels", "QueueStatus", "Status"):
            assert (await session.action(action)).get("Response") == "Success", action
    finally:
        await session.close()


async def test_a_wrong_secret_is_refused(asterisk: Asterisk) -> None:
    session = await AmiSession.connect(asterisk.ami_port)
    try:
        reply = await session.login("hotline", "not-the-secret")
        assert reply.get("Response") == "Error", reply
    finally:
        await session.close()


async def test_the_hotline_user_is_refused_command_config_shell_and_moving_calls(asterisk: Asterisk) -> None:
    session = await asterisk.ami("hotline", asterisk.secret)
    try:
        command = await session.action("Command", Command="core show channels")
        config = await session.action("GetConfig", Filename="manager.conf")
        # No write `call`: the service watches calls, it never moves or ends one.
        redirect = await session.action("Redirect", Channel="PJSIP/8101-00000001", Context="agents", Exten="8101", Priority="1")
        hangup = await session.action("Hangup", Channel="PJSIP/8101-00000001")
        shell = await session.action("Originate", Channel="Local/s@caller-hold", Application="System", Data="touch /tmp/hotline-was-here", Async="true")
        hidden = await session.action("Originate", Channel="Local/s@caller-hold", Application="Wait", Data="${SHELL(id)}", Async="true")
        assert command.get("Response") == "Error" and "Permission denied" in command.get("Message", ""), command
        assert config.get("Response") == "Error" and "Permission denied" in config.get("Message", ""), config
        for reply in (redirect, hangup):
            assert reply.get("Response") == "Error" and "Permission denied" in reply.get("Message", ""), reply
        for reply in (shell, hidden):
            assert reply.get("Response") == "Error" and "Forbidden" in reply.get("Message", ""), reply
    finally:
        await session.close()


async def test_the_hotline_user_may_originate_and_manage_agents(asterisk: Asterisk, lab: Lab) -> None:
    """What callbacks and agent availability need: Originate into the dialplan, QueuePause."""
    session = await asterisk.ami("hotline", asterisk.secret)
    try:
        interface = await lab.add_agent("8031")
        paused = await session.action("QueuePause", Interface=interface, Paused="true", Reason="lunch")
        assert paused.get("Response") == "Success", paused
        placed = await session.action("Originate", Channel="Local/8031@agents", Context="caller-hold", Exten="s", Priority="1", Variable="HOLD=1", Async="true", ChannelId="hotline-cb-1")
        assert placed.get("Response") == "Success", placed
        done = await session.event("OriginateResponse", timeout=10, Uniqueid="hotline-cb-1")
        assert done.get("Response") == "Success", done
        assert "Timestamp" in done  # timestampevents = yes
    finally:
        await session.close()
