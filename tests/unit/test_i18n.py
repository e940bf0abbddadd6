"""The console's words (hotline/web/i18n.py): both languages say the same things with the
same placeholders, and every key the templates and the JavaScript look up is there, so a
typo shows here rather than as a raw key on an agent's screen."""

from __future__ import annotations

import re
from pathlib import Path

import jinja2
import pytest

from hotline.console.pops import ENDED, MISSED, RINGING, TALKING, TRANSFERRED
from hotline.events import Outcome
from hotline.tickets.lifecycle import TicketAction
from hotline.tickets.opening import HAND_SOURCES
from hotline.web.i18n import CATALOGUE, DEFAULT_LANGUAGE, LANGUAGES, MESSAGES, choose_language, placeholders, script_json, translator
from hotline.web.pages import ENUMS, PAGE_ROLES, TEMPLATES_DIR
from hotline.web.tickets import EXTENSION_STATES

WEB = Path(__file__).parents[2] / "hotline" / "web"
SCRIPTS = sorted((WEB / "static").glob("*.js"))
TEMPLATES = sorted(TEMPLATES_DIR.glob("*.html"))
KEY_SHAPE = r"[a-z_]+(?:\.[a-z_]+)+"
GROUPS = {key.split(".")[0] for key in MESSAGES}
# Values the API sends that are not in pages.ENUMS, with the label group the JS shows them by.
MORE_VALUES: dict[str, list[str]] = {
    "outcome": [o.value for o in Outcome],
    "action": [a.value for a in TicketAction],
    "stage": [RINGING, MISSED, TALKING, TRANSFERRED, ENDED],
    "source": ["call", *HAND_SOURCES],
    "deadline_state": ["pending", "met", "breached", "cancelled"],
    "deadline_event": ["warned", "breached"],  # console/feed.py
    "extension_state": list(EXTENSION_STATES),
    "event": [
        "opened", "call_linked", "classified", "noted", "replied", "forwarded", "acknowledged",
        "resolved", "followed_up", "closed", "extension_requested", "extension_approved", "extension_rejected",
    ],
}


def _line(text: str, at: int) -> int:
    return text.count("\n", 0, at) + 1


def _script_lookups() -> list[tuple[str, str]]:
    """(where, key) for each t("key") in the JavaScript, and each key-shaped string literal
    of a catalogue group (the pages keep some keys in lists and call t(key) on them)."""
    found = []
    for script in SCRIPTS:
        text = script.read_text(encoding="utf-8")
        for match in re.finditer(r"""\bt\(\s*(["'`])(.*?)\1""", text):
            found.append((f"{script.name}:{_line(text, match.start())}", match.group(2)))
        for match in re.finditer(rf"""(["'])({KEY_SHAPE})\1""", text):
            if match.group(2).split(".")[0] in GROUPS:
                found.append((f"{script.name}:{_line(text, match.start())}", match.group(2)))
    return found


def _label_groups() -> list[tuple[str, str]]:
    """(where, group) for each label("group", ...) and enumSelect("group", ...) in the
    JavaScript, and each data-enum="group" in the templates (admin.js fills those)."""
    found = []
    for path in [*SCRIPTS, *TEMPLATES]:
        text = path.read_text(encoding="utf-8")
        pattern = r"""\b(?:label|enumSelect)\(\s*["']([a-z_]+)["']|data-enum="([a-z_]+)\""""
        for match in re.finditer(pattern, text):
            found.append((f"{path.name}:{_line(text, match.start())}", match.group(1) or match.group(2)))
    return found


# --- the two languages ---------------------------------------------------------------------


def test_both_languages_have_exactly_the_same_keys() -> None:
    assert LANGUAGES[0] == DEFAULT_LANGUAGE == "zh-CN"
    assert set(CATALOGUE["zh-CN"]) == set(CATALOGUE["en"]) == set(MESSAGES)


@pytest.mark.parametrize("key", sorted(MESSAGES))
def test_every_message_is_written_in_both_languages_with_the_same_placeholders(key: str) -> None:
    chinese, english = CATALOGUE["zh-CN"][key], CATALOGUE["en"][key]

    assert chinese.strip() and english.strip()
    assert placeholders(chinese) == placeholders(english)


def test_the_chinese_catalogue_is_in_chinese() -> None:
    """A line copied without its translation would show English on a Chinese page."""
    han, latin = re.compile(r"[\u4e00-\u9fff]"), re.compile(r"[A-Za-z]")
    words = {key: re.sub(r"\{\w+\}", "", text) for key, text in CATALOGUE["zh-CN"].items()}
    untranslated = [key for key, text in words.items() if latin.search(text) and not han.search(text) and key != "lang.other"]
    assert untranslated == []
    assert not han.search(CATALOGUE["en"]["lang.switch"])


def test_a_placeholder_is_filled_in_either_language() -> None:
    assert translator("zh-CN")("header.user", name="张三", role="坐席") == "张三（坐席）"
    assert translator("en")("pop.manager_value", name="Wang", extension="8009") == "Wang (ext. 8009)"
    with pytest.raises(KeyError):
        translator("en")("no.such.key")


# --- what the JavaScript and the templates look up -----------------------------------------------


def test_the_scanners_see_the_lookups() -> None:
    """The patterns below find what they are meant to: a change of the scripts' calling
    style would otherwise make every lookup test pass on nothing."""
    keys = {key for _, key in _script_lookups()}
    groups = {group for _, group in _label_groups()}
    assert {"common.failed", "ws.connecting", "call.state", "ticket.category", "sla.chart.deadlines"} <= keys
    assert {"status", "deadline", "call_state", "role", "category", "stage", "outcome"} <= groups


def test_every_key_the_javascript_uses_is_in_the_catalogue() -> None:
    missing = [(where, key) for where, key in _script_lookups() if key not in MESSAGES]
    assert missing == []


def test_the_javascript_looks_words_up_only_through_t_and_label() -> None:
    """A key the scanner cannot read (t(someVariable)) must come from a list of literal keys
    it does read: those are the only dynamic calls, each checked above."""
    dynamic = []
    for script in SCRIPTS:
        text = script.read_text(encoding="utf-8")
        for match in re.finditer(r"""\bt\(\s*([^"'`\s)][^,)]*)""", text):
            dynamic.append((script.name, match.group(1)))
    assert sorted(dynamic) == [("console.js", "key"), ("supervisor.js", "key"), ("supervisor.js", "key"), ("tickets.js", "key")]


def test_every_key_the_templates_use_is_in_the_catalogue() -> None:
    missing = []
    for template in TEMPLATES:
        text = template.read_text(encoding="utf-8")
        for match in re.finditer(r"""\bt(?:_zh)?\(\s*'([^']*)'\s*[,)]""", text):
            if match.group(1) not in MESSAGES:
                missing.append((f"{template.name}:{_line(text, match.start())}", match.group(1)))
        for match in re.finditer(r"""\bt(?:_zh)?\(\s*'([a-z_]+\.)'\s*~""", text):
            if not any(key.startswith(match.group(1)) for key in MESSAGES):
                missing.append((f"{template.name}:{_line(text, match.start())}", match.group(1)))
    assert missing == []


def test_every_label_group_the_pages_use_exists() -> None:
    unknown = [(where, group) for where, group in _label_groups() if group not in GROUPS]
    assert unknown == []


def test_every_enum_the_pages_offer_is_used_by_a_label_group() -> None:
    used = {group for _, group in _label_groups()}
    assert set(ENUMS) <= used


@pytest.mark.parametrize("group, value", [(group, value) for group, values in ENUMS.items() for value in values])
def test_every_enum_value_offered_has_its_label(group: str, value: str) -> None:
    assert f"{group}.{value}" in MESSAGES


@pytest.mark.parametrize("group, value", [(group, value) for group, values in MORE_VALUES.items() for value in values])
def test_every_value_the_api_sends_has_its_label(group: str, value: str) -> None:
    assert f"{group}.{value}" in MESSAGES


@pytest.mark.parametrize("page", sorted(PAGE_ROLES))
def test_every_page_and_role_has_a_name(page: str) -> None:
    assert f"page.{page}" in MESSAGES
    assert all(f"role.{role.value}" in MESSAGES for role in PAGE_ROLES[page])


@pytest.mark.parametrize("template", [path.name for path in TEMPLATES])
def test_every_template_compiles(template: str) -> None:
    jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES_DIR), autoescape=True).get_template(template)


# --- choosing the language ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "asked, remembered, chosen",
    [
        (None, None, "zh-CN"),
        ("en", None, "en"),
        ("EN", None, "en"),
        (None, "en", "en"),
        ("zh-CN", "en", "zh-CN"),
        ("fr", "en", "en"),
        (None, "klingon", "zh-CN"),
    ],
)
def test_the_language_is_asked_then_remembered_then_chinese(asked: str | None, remembered: str | None, chosen: str) -> None:
    # Chinese first: the office PCs' browsers may well be set to English; the agents are
    # Chinese-speaking, so only an explicit ?lang= (remembered in a cookie) gives English.
    assert choose_language(asked, remembered) == chosen


def test_script_json_cannot_close_the_script_element() -> None:
    text = script_json({"name": "</script><!-- & \u2028"})

    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert '"\\u003c/script\\u003e\\u003c!-- \\u0026 \\u2028"' in text
