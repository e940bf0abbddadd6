"""Typed settings: built-in defaults, overridden by a TOML file, overridden by HOTLINE_* variables.

Every problem found is collected into one ConfigError, one line per problem.
"""

import contextlib
import dataclasses
import difflib
import functools
import json
import math
import os
import re
import tomllib
import typing
import zoneinfo
from collections.abc import Callable, Mapping
from datetime import date, time, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from hotline.errors import ConfigError
from hotline.tickets.standard import Policy
from hotline.tickets.standard_config import _duration
from hotline.tickets.workdays import WorkCalendar

if TYPE_CHECKING:
    from hotline.callbacks.model import CallbackKind, Mode
    from hotline.callbacks.policy import CallingWindow, RetryPolicy

ENV_PREFIX = "HOTLINE_"
CONFIG_ENV = "HOTLINE_CONFIG"
SECRET_MASK = "********"

LOG_FORMATS = ("auto", "json", "console")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
TIERS = ("vip", "key_account", "private_network", "regular")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FIRST_TRY_SOURCES = ("ticket_owner", "account_manager")

# SQLAlchemy's sync driver names we rewrite to the async driver the service runs on.
_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}
_URL_HINT = "use sqlite+aiosqlite:///path.db or postgresql+asyncpg://user:password@host/dbname"


class _Invalid(ValueError):
    """A value a check refuses; the text completes the sentence '<value> ...'."""


class _Problems(_Invalid):
    """A table a check refuses, with one whole line per problem ("path: what is wrong")."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("; ".join(lines))
        self.lines = lines


Check = Callable[[Any], Any]
"""Takes a typed value, returns the value to keep (maybe normalised) or raises _Invalid."""


def _port(value: int) -> int:
    if not 1 <= value <= 65535:
        raise _Invalid("is not a port number (1-65535)")
    return value


def _seconds(value: float) -> float:
    if not (math.isfinite(value) and value > 0):
        raise _Invalid("is not a positive number of seconds")
    return value


def _one_of(allowed: tuple[str, ...]) -> Check:
    def check(value: str) -> str:
        # Case-insensitive because LOG_LEVEL=INFO is how most people write it.
        if value.lower() not in allowed:
            raise _Invalid(f"is not one of: {', '.join(allowed)}")
        return value.lower()

    return check


def _dialled_numbers(value: tuple[str, ...]) -> tuple[str, ...]:
    if not value:
        raise _Invalid("is empty; give at least one number, e.g. 96655")
    bad = [number for number in value if not re.fullmatch(r"[0-9]+", number)]
    if bad:
        raise _Invalid(f"has entries that are not all digits: {', '.join(map(_quoted, bad))}")
    return value


def _one_or_more_of(allowed: tuple[str, ...], *, may_be_empty: bool = False) -> Check:
    def check(value: tuple[str, ...]) -> tuple[str, ...]:
        if not value and not may_be_empty:
            raise _Invalid(f"is empty; give some of: {', '.join(allowed)}")
        bad = [item for item in value if item.lower() not in allowed]
        if bad:
            shown = ", ".join(map(_quoted, bad))
            raise _Invalid(f"has entries that are not one of {', '.join(allowed)}: {shown}")
        return tuple(dict.fromkeys(item.lower() for item in value))

    return check


def _queue_name(value: str) -> str:
    # Goes into a channel variable and then Queue(): no spaces, commas or quotes.
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", value):
        raise _Invalid("is not a queue name (letters, digits, - _ and ., at most 64)")
    return value


def _priority(value: int) -> int:
    if not 0 <= value <= 1000:
        raise _Invalid("is not a queue priority (0-1000, higher is answered first)")
    return value


def _milliseconds(value: int) -> int:
    if not 1 <= value <= 60_000:
        raise _Invalid("is not a number of milliseconds (1-60000)")
    return value


def _clock_time(value: str) -> str:
    found = re.fullmatch(r"([01]?[0-9]|2[0-3]):([0-5][0-9])", value.strip())
    if found is None:
        raise _Invalid('is not a time of day written HH:MM, e.g. "08:30"')
    return f"{int(found[1]):02d}:{found[2]}"


def _fraction(value: float) -> float:
    if not 0 < value < 1:
        raise _Invalid("is not a fraction between 0 and 1, e.g. 0.8")
    return value


def _dates(value: tuple[str, ...]) -> tuple[str, ...]:
    bad = []
    for item in value:
        try:
            date.fromisoformat(item)
        except ValueError:
            bad.append(item)
    if bad:
        raise _Invalid(f"has entries that are not dates (YYYY-MM-DD): {', '.join(map(_quoted, bad))}")
    return tuple(value)


def _duration_text(value: str) -> str:
    problems: list[str] = []
    if _duration(value, "", problems) is None:
        raise _Invalid('is not a duration such as "10min", "4h" or "1h30min" (longer than zero)')
    return value


def _standard_table(value: Mapping[str, Any]) -> Mapping[str, Any]:
    """Overrides of the service standard's limits, read the way Policy.from_mapping reads them."""
    if "warn_fraction" in value:
        raise _Problems(["tickets.standard.warn_fraction: set tickets.warn_fraction instead"])
    try:
        Policy.from_mapping(value, where="tickets.standard")
    except ConfigError as exc:
        raise _Problems(exc.problems) from None
    return MappingProxyType(dict(value))


def _area_code(value: str) -> str:
    if not re.fullmatch(r"0[1-9][0-9]{1,2}", value):
        raise _Invalid('is not a Chinese area code (0 and 2-3 digits, e.g. "0827")')
    return value


def _time_zone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise _Invalid('is not a known time zone, e.g. "Asia/Shanghai"') from None
    return value


def _database_url(value: str) -> str:
    try:
        url = make_url(value)
    except (ArgumentError, ValueError):
        raise _Invalid(f"is not a database URL ({_URL_HINT})") from None
    driver = _ASYNC_DRIVERS.get(url.drivername)
    if driver is None:
        raise _Invalid(f"uses {url.drivername}, which the hotline does not support ({_URL_HINT})")
    return url.set(drivername=driver).render_as_string(hide_password=False)


def hide_url_password(url: str) -> str:
    """The URL with its password replaced, for anything a person or a log will read."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        # Not parseable, so hide whatever sits where a password would.
        return re.sub(r":[^:@/]*@", ":***@", url)


def _mask_secret(value: object) -> object:
    # An empty secret stays visible: "not set" is what check-config is asked about.
    return SECRET_MASK if value else value


def _setting(
    default: Any, *, check: Check | None = None, redact: Callable[[Any], Any] | None = None
) -> Any:
    """A settings field; `redact` marks a value that must never be shown as it is."""
    return dataclasses.field(
        default=default, repr=redact is None, metadata={"check": check, "redact": redact}
    )


@dataclasses.dataclass(frozen=True)
class AmiSettings:
    host: str = _setting("")  # empty: no Asterisk, the service runs the built-in demo PBX
    port: int = _setting(5038, check=_port)
    username: str = _setting("hotline")
    secret: str = _setting("", redact=_mask_secret)
    ping_interval: float = _setting(10.0, check=_seconds)
    ping_timeout: float = _setting(5.0, check=_seconds)
    reconnect_min: float = _setting(0.5, check=_seconds)
    reconnect_max: float = _setting(30.0, check=_seconds)
    connect_timeout: float = _setting(5.0, check=_seconds)


@dataclasses.dataclass(frozen=True)
class DatabaseSettings:
    url: str = _setting(
        "sqlite+aiosqlite:///hotline.db", check=_database_url, redact=hide_url_password
    )

    def __repr__(self) -> str:
        return f"DatabaseSettings(url={hide_url_password(self.url)!r})"


@dataclasses.dataclass(frozen=True)
class ClusterSettings:
    """Several instances on one PostgreSQL (SQLite runs one instance only). One instance
    owns the AMI connection at a time; when it dies another takes over within
    `takeover_seconds` (its lease runs for 60 % of it and is renewed every 20 %; the
    others look every 10 %). Hosts' clocks must agree to well under that (NTP)."""

    takeover_seconds: float = _setting(10.0, check=_seconds)
    instance_name: str = _setting("")  # in logs and /healthz; empty: host:pid

    @property
    def lease_ttl(self) -> timedelta:
        return timedelta(seconds=self.takeover_seconds * 0.6)

    @property
    def poll(self) -> timedelta:
        return timedelta(seconds=self.takeover_seconds * 0.1)


@dataclasses.dataclass(frozen=True)
class WebSettings:
    host: str = _setting("127.0.0.1")
    port: int = _setting(8080, check=_port)
    # The session cookie only over HTTPS: set it when a TLS proxy serves the console.
    secure_cookies: bool = _setting(False)


@dataclasses.dataclass(frozen=True)
class HotlineSettings:
    numbers: tuple[str, ...] = _setting(("96655",), check=_dialled_numbers)


@dataclasses.dataclass(frozen=True)
class RoutingSettings:
    agi_host: str = _setting("127.0.0.1")
    agi_port: int = _setting(4573, check=_port)
    agi_header_timeout: float = _setting(2.0, check=_seconds)
    budget_ms: int = _setting(300, check=_milliseconds)
    default_area_code: str = _setting("0827", check=_area_code)
    default_queue: str = _setting("hotline", check=_queue_name)
    vip_queue: str = _setting("vip", check=_queue_name)
    vip_priority: int = _setting(10, check=_priority)
    key_account_queue: str = _setting("key-account", check=_queue_name)
    key_account_priority: int = _setting(10, check=_priority)
    private_network_queue: str = _setting("private-network", check=_queue_name)
    private_network_priority: int = _setting(5, check=_priority)
    regular_queue: str = _setting("hotline", check=_queue_name)
    regular_priority: int = _setting(0, check=_priority)
    first_try: tuple[str, ...] = _setting(
        FIRST_TRY_SOURCES, check=_one_or_more_of(FIRST_TRY_SOURCES, may_be_empty=True)
    )
    timezone: str = _setting("Asia/Shanghai", check=_time_zone)
    work_days: tuple[str, ...] = _setting(WEEKDAYS[:5], check=_one_or_more_of(WEEKDAYS))
    work_start: str = _setting("08:30", check=_clock_time)
    work_end: str = _setting("17:30", check=_clock_time)
    after_hours_queue: str = _setting("hotline", check=_queue_name)
    after_hours_tiers: tuple[str, ...] = _setting(
        ("vip", "key_account", "regular"), check=_one_or_more_of(TIERS, may_be_empty=True)
    )


@dataclasses.dataclass(frozen=True)
class TicketsSettings:
    warn_fraction: float = _setting(0.8, check=_fraction)
    escalate_every: str = _setting("10min", check=_duration_text)
    work_start: str = _setting("08:30", check=_clock_time)
    close_of_business: str = _setting("17:30", check=_clock_time)
    # A table of the standard's limits to change, e.g. {forward = "15min"}; the rest keep
    # the standard's values. From the environment: a JSON object.
    standard: Mapping[str, Any] = dataclasses.field(
        default_factory=lambda: MappingProxyType({}), metadata={"check": _standard_table, "redact": None}
    )

    def policy(self) -> Policy:
        return Policy.from_mapping({**self.standard, "warn_fraction": self.warn_fraction}, where="tickets.standard")

    # China's official calendar comes from chinesecalendar, which learns a year only after
    # the State Council publishes it: these let an administrator enter a year it does not
    # know yet (or correct one). Dates as YYYY-MM-DD; an override beats the package.
    holidays: tuple[str, ...] = _setting((), check=_dates)
    extra_workdays: tuple[str, ...] = _setting((), check=_dates)

    def calendar(self) -> WorkCalendar:
        overrides = {date.fromisoformat(d): False for d in self.holidays} | {date.fromisoformat(d): True for d in self.extra_workdays}
        return WorkCalendar(work_start=_time_of(self.work_start), close_of_business=_time_of(self.close_of_business), overrides=overrides)

    @property
    def escalation_interval(self) -> timedelta:
        interval = _duration(self.escalate_every, "tickets.escalate_every", [])
        assert interval is not None, "checked when the settings were loaded"
        return interval


def _time_of(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


CALLBACK_KINDS = ("abandoned", "after_hours", "manual", "vip_monthly", "follow_up", "sampled")
CALLBACK_MODES = ("agent_first", "survey")


def _channel_template(*fields: str) -> Check:
    def check(value: str) -> str:
        try:
            value.format(**{f: "1" for f in fields})
        except (KeyError, IndexError, ValueError) as exc:
            raise _Invalid(f"is not a channel template: only {', '.join('{' + f + '}' for f in fields)} may be filled in ({exc})") from None
        if "/" not in value or not all("{" + f + "}" in value for f in fields):
            raise _Invalid(f"must name a technology and contain {', '.join('{' + f + '}' for f in fields)}, e.g. PJSIP/{'{' + fields[0] + '}'}")
        return value

    return check


def _modes(value: Mapping[str, Any]) -> Mapping[str, Any]:
    for kind, mode in value.items():
        if kind not in CALLBACK_KINDS:
            raise _Invalid(f"unknown callback kind {kind!r}: one of {', '.join(CALLBACK_KINDS)}")
        if mode not in CALLBACK_MODES:
            raise _Invalid(f"{kind} = {mode!r}: the mode is one of {', '.join(CALLBACK_MODES)}")
    return value


def _positive(value: int) -> int:
    if value < 1:
        raise _Invalid(f"must be at least 1, not {value}")
    return value


@dataclasses.dataclass(frozen=True)
class CallbacksSettings:
    """Callbacks the service places through Asterisk (asterisk-config/: hotline-callback,
    hotline-survey). Agent-first rings `agent_channel`, then the dialplan dials the
    customer; a survey calls `outbound_channel` straight into the survey."""

    enabled: bool = _setting(True)
    agent_channel: str = _setting("PJSIP/{extension}", check=_channel_template("extension"))
    outbound_channel: str = _setting("PJSIP/{number}@carrier", check=_channel_template("number"))
    # Whose phone rings first for a callback with no agent of its own (a lost caller).
    default_agent_extension: str = _setting("8101")
    ring_seconds: int = _setting(30, check=_positive)
    max_concurrent: int = _setting(2, check=_positive)
    max_attempts: int = _setting(3, check=_positive)
    # Nobody is called outside this window (local time, routing.timezone); with
    # working_days_only, not on weekends and holidays either (China's calendar).
    window_start: str = _setting("09:00", check=_clock_time)
    window_end: str = _setting("20:00", check=_clock_time)
    working_days_only: bool = _setting(False)
    # The wait before trying again, per outcome (until max_attempts calls were made).
    retry_busy: str = _setting("10min", check=_duration_text)
    retry_no_answer: str = _setting("30min", check=_duration_text)
    retry_rejected: str = _setting("60min", check=_duration_text)
    retry_congestion: str = _setting("5min", check=_duration_text)
    retry_failed: str = _setting("15min", check=_duration_text)
    # Mode per kind, e.g. {follow_up = "agent_first"}; the rest keep hotline.callbacks.model.DEFAULT_MODES.
    modes: Mapping[str, Any] = dataclasses.field(
        default_factory=lambda: MappingProxyType({}), metadata={"check": _modes, "redact": None}
    )

    def window(self) -> "CallingWindow":
        from hotline.callbacks.policy import CallingWindow

        return CallingWindow(_time_of(self.window_start), _time_of(self.window_end), working_days_only=self.working_days_only)

    def retry(self) -> "RetryPolicy":
        from hotline.callbacks.model import Outcome
        from hotline.callbacks.policy import RetryPolicy

        waits = {Outcome.BUSY: self.retry_busy, Outcome.NO_ANSWER: self.retry_no_answer, Outcome.REJECTED: self.retry_rejected, Outcome.CONGESTION: self.retry_congestion, Outcome.FAILED: self.retry_failed}
        spacing = {outcome: _duration(text, f"callbacks.retry_{outcome.value}", []) for outcome, text in waits.items()}
        return RetryPolicy(self.max_attempts, {o: w for o, w in spacing.items() if w is not None})

    def mode_of(self, kind: "CallbackKind") -> "Mode":
        from hotline.callbacks.model import DEFAULT_MODES, Mode

        return Mode(self.modes.get(kind.value, DEFAULT_MODES.get(kind, Mode.AGENT_FIRST)))


def _texts(value: tuple[str, ...]) -> tuple[str, ...]:
    if not value or any(not item.strip() or len(item) > 40 for item in value):
        raise _Invalid("must list one or more names of 1 to 40 characters")
    return tuple(value)


def _pause_reasons(value: tuple[str, ...]) -> tuple[str, ...]:
    """Pause reasons go to Asterisk, which keeps 79 bytes of one (26 Chinese characters)."""
    value = _texts(value)
    if any(len(item.encode()) > 79 for item in value):
        raise _Invalid("each reason must be at most 79 bytes in UTF-8 (26 Chinese characters): Asterisk keeps no more")
    return value


def _pause_reason(value: str) -> str:
    return _pause_reasons((value,))[0]


def _seconds_whole(value: int) -> int:
    if value < 0 or value > 600:
        raise _Invalid(f"must be a whole number of seconds from 0 to 600, not {value}")
    return value


def _days_count(value: int) -> int:
    if value < 1 or value > 90:
        raise _Invalid(f"must be a whole number of days from 1 to 90, not {value}")
    return value


@dataclasses.dataclass(frozen=True)
class FloorSettings:
    """The floor (kpis.md): agents' states on Asterisk's queues, the figures and their
    targets. Every target is a default the operator may change."""

    # 签入: the queues an agent logs in to, as which member (templates: {extension}).
    login_queues: tuple[str, ...] = _setting(("hotline",), check=_texts)
    member_interface: str = _setting("PJSIP/{extension}", check=_channel_template("extension"))
    member_name: str = _setting("agent-{extension}")
    # 示忙 reasons an agent picks from; after-call work (话后整理) is a pause with its own reason.
    pause_reasons: tuple[str, ...] = _setting(("小休", "就餐", "培训"), check=_pause_reasons)
    wrapup_reason: str = _setting("话后整理", check=_pause_reason)
    # After each answered hotline call the agent is paused in after-call work, which they
    # end; past wrapup_limit the supervisors are told.
    wrapup_after_calls: bool = _setting(True)
    wrapup_limit: str = _setting("2min", check=_duration_text)
    # The figures: 15秒接通率's threshold, a short abandon not counted as lost (0: every one),
    # 重复来电 within this many days.
    answer_threshold_seconds: int = _setting(15, check=_seconds_whole)
    short_abandon_seconds: int = _setting(0, check=_seconds_whole)
    repeat_days: int = _setting(3, check=_days_count)
    target_answer_rate: float = _setting(0.95, check=_fraction)
    target_service_level: float = _setting(0.80, check=_fraction)
    target_lost_rate: float = _setting(0.05, check=_fraction)
    # 监听 / 耳语 / 强插: the supervisor's own phone is called (Originate) into ChanSpy.
    supervisor_phone: str = _setting("PJSIP/{extension}", check=_channel_template("extension"))

    @property
    def wrapup_limit_interval(self) -> timedelta:
        interval = _duration(self.wrapup_limit, "floor.wrapup_limit", [])
        assert interval is not None, "checked when the settings were loaded"
        return interval


@dataclasses.dataclass(frozen=True)
class LogSettings:
    format: str = _setting("auto", check=_one_of(LOG_FORMATS))  # auto: console on a TTY, else json
    level: str = _setting("info", check=_one_of(LOG_LEVELS))


@dataclasses.dataclass(frozen=True)
class Settings:
    ami: AmiSettings = dataclasses.field(default_factory=AmiSettings)
    database: DatabaseSettings = dataclasses.field(default_factory=DatabaseSettings)
    cluster: ClusterSettings = dataclasses.field(default_factory=ClusterSettings)
    web: WebSettings = dataclasses.field(default_factory=WebSettings)
    hotline: HotlineSettings = dataclasses.field(default_factory=HotlineSettings)
    routing: RoutingSettings = dataclasses.field(default_factory=RoutingSettings)
    tickets: TicketsSettings = dataclasses.field(default_factory=TicketsSettings)
    callbacks: CallbacksSettings = dataclasses.field(default_factory=CallbacksSettings)
    floor: FloorSettings = dataclasses.field(default_factory=FloorSettings)
    log: LogSettings = dataclasses.field(default_factory=LogSettings)

    @property
    def demo_pbx(self) -> bool:
        return self.ami.host == ""


class _Key(NamedTuple):
    section: str
    name: str
    type: Any
    field: dataclasses.Field[Any]

    @property
    def dotted(self) -> str:
        return f"{self.section}.{self.name}"

    @property
    def env(self) -> str:
        return f"{ENV_PREFIX}{self.section}_{self.name}".upper()


@functools.cache
def _schema() -> dict[str, tuple[type, tuple[_Key, ...]]]:
    """Section name -> (its dataclass, its keys): the one source for file, env and describe."""
    schema: dict[str, tuple[type, tuple[_Key, ...]]] = {}
    for section, section_type in typing.get_type_hints(Settings).items():
        hints = typing.get_type_hints(section_type)
        keys = tuple(
            _Key(section, f.name, hints[f.name], f) for f in dataclasses.fields(section_type)
        )
        schema[section] = (section_type, keys)
    return schema


class _Given(NamedTuple):
    """A value as the user wrote it, and where: an env variable name or 'in <file>'."""

    value: object
    origin: str
    from_env: bool


_GivenValues = dict[tuple[str, str], _Given]


def load_settings(
    path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Defaults, then the TOML file (`path`, else $HOTLINE_CONFIG, else none), then HOTLINE_*."""
    environ = os.environ if environ is None else environ
    if path is None:
        path = environ.get(CONFIG_ENV) or None
    given: _GivenValues = {}
    problems: list[str] = []
    if path is not None:
        problems += _take_file(_read_toml(Path(path)), str(path), given)
    _take_environ(environ, given)
    settings, refused, invalid = _build(given)
    problems += refused
    for involved, rule in _RULES:
        if not involved & invalid and (problem := rule(settings, given)):
            problems.append(problem)
    if problems:
        raise ConfigError(problems)
    return settings


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except FileNotFoundError as exc:
        raise ConfigError([f"config file {path}: not found"]) from exc
    except OSError as exc:
        raise ConfigError([f"config file {path}: cannot be read ({exc.strerror or exc})"]) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError([f"config file {path}: not UTF-8 text (byte {exc.start})"]) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"config file {path}: {_toml_problem(exc)}"]) from exc


def _toml_problem(exc: tomllib.TOMLDecodeError) -> str:
    # tomllib puts the place at the end of its message: "... (at line 3, column 7)".
    found = re.fullmatch(r"(.*) \((at line \d+, column \d+|at end of document)\)", str(exc), re.S)
    if found is None:
        return f"invalid TOML: {exc}"
    message, place = found.groups()
    return f"invalid TOML {place}: {message}"


def _take_file(document: dict[str, Any], path: str, given: _GivenValues) -> list[str]:
    """Record the file's values; return its unknown sections and keys (typo protection)."""
    problems = []
    schema = _schema()
    for section, table in document.items():
        if section not in schema:
            hint = _did_you_mean(section, schema, "[{}]")
            problems.append(f"config file {path}: unknown section [{section}]{hint}")
            continue
        if not isinstance(table, dict):
            problems.append(f"config file {path}: {section} must be a table, written [{section}]")
            continue
        known = {key.name for key in schema[section][1]}
        for name, value in table.items():
            if name in known:
                given[section, name] = _Given(value, f"in {path}", from_env=False)
            else:
                hint = _did_you_mean(name, known, f"{section}.{{}}")
                problems.append(f"config file {path}: unknown key {section}.{name}{hint}")
    return problems


def _did_you_mean(word: str, choices: typing.Iterable[str], spelling: str) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {spelling.format(close[0])}?)" if close else ""


def _take_environ(environ: Mapping[str, str], given: _GivenValues) -> None:
    for _, keys in _schema().values():
        for key in keys:
            if key.env in environ:
                given[key.section, key.name] = _Given(environ[key.env], key.env, from_env=True)


def _build(given: _GivenValues) -> tuple[Settings, list[str], set[str]]:
    """Typed settings from what was given (defaults elsewhere); the problems; the keys refused."""
    sections: dict[str, Any] = {}
    problems: list[str] = []
    invalid: set[str] = set()
    for section, (section_type, keys) in _schema().items():
        values = {}
        for key in keys:
            if (item := given.get((section, key.name))) is None:
                continue
            try:
                values[key.name] = _accept(key, item)
            except _Problems as exc:
                invalid.add(key.dotted)
                problems += [_placed(line, item.origin) for line in exc.lines]
            except _Invalid as exc:
                invalid.add(key.dotted)
                problems.append(f"{key.dotted} ({item.origin}): {_shown(key, item.value)} {exc}")
        sections[section] = section_type(**values)
    return Settings(**sections), problems, invalid


def _placed(line: str, origin: str) -> str:
    """ "tickets.standard.reply: ..." -> "tickets.standard.reply (in FILE): ..." """
    path, sep, rest = line.partition(": ")
    return f"{path} ({origin}): {rest}" if sep else f"{line} ({origin})"


def _accept(key: _Key, item: _Given) -> object:
    value = _convert(key.type, item.value, item.from_env, example=key.field.default)
    check: Check | None = key.field.metadata["check"]
    return value if check is None else check(value)


def _convert(kind: Any, raw: object, from_env: bool, example: object = None) -> object:
    """The value as `kind`: env strings are parsed, TOML values must already be that type."""
    if kind is bool:
        return _flag(raw, from_env)
    if kind is int or kind is float:
        return _number(kind, raw, from_env)
    if typing.get_origin(kind) is tuple:
        if from_env and isinstance(raw, str):
            return tuple(part.strip() for part in raw.split(",") if part.strip())
        if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
            return tuple(raw)
        # The key's own default is the example, so work_days is not shown a phone number.
        raise _Invalid(f"is not a list of strings, e.g. {_quoted(list(example or ()))}")
    if kind is str:
        if isinstance(raw, str):
            return raw
        raise _Invalid("is not a string")
    if typing.get_origin(kind) is Mapping:
        return _table_of(raw, from_env)
    raise TypeError(f"no conversion to {kind!r}: add one for this new setting type")


def _table_of(raw: object, from_env: bool) -> Mapping[str, Any]:
    if from_env and isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise _Invalid('is not a JSON object, e.g. {"forward": "15min"}') from None
    if isinstance(raw, dict):
        return raw
    raise _Invalid('is not a table, e.g. {forward = "15min"}' if not from_env else 'is not a JSON object, e.g. {"forward": "15min"}')


def _number(kind: type[int] | type[float], raw: object, from_env: bool) -> int | float:
    if from_env and isinstance(raw, str):
        with contextlib.suppress(ValueError):
            return kind(raw)
    # TOML's true is an int to Python, and 80.5 must not become port 80.
    elif not isinstance(raw, bool) and isinstance(raw, int if kind is int else int | float):
        return kind(raw)
    raise _Invalid("is not a whole number" if kind is int else "is not a number")


_FLAGS = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False, "0": False}


def _flag(raw: object, from_env: bool) -> bool:
    if isinstance(raw, bool):
        return raw
    if from_env and isinstance(raw, str) and raw.strip().lower() in _FLAGS:
        return _FLAGS[raw.strip().lower()]
    raise _Invalid("is not true or false")


def _quoted(value: object) -> str:
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


def _shown(key: _Key, value: object) -> str:
    redact = key.field.metadata["redact"]
    if redact is None:
        return _quoted(value)
    shown = redact(value)
    return "the value (hidden)" if shown == SECRET_MASK else _quoted(shown)


def _where(key: str, given: _GivenValues) -> str:
    section, _, name = key.partition(".")
    item = given.get((section, name))
    return f"{key} ({item.origin if item else 'default'})"


def _secret_needed(settings: Settings, given: _GivenValues) -> str | None:
    if settings.ami.host and not settings.ami.secret:
        return (
            "ami.secret is required when ami.host is set "
            "(give it in the config file or as HOTLINE_AMI_SECRET)"
        )
    return None


def _in_order(first: str, second: str, *, strict: bool) -> Callable[[Settings, _GivenValues], str | None]:
    """A rule across two keys: `first` not more than (strict: before) `second`."""

    def check(settings: Settings, given: _GivenValues) -> str | None:
        low, high = _dotted(settings, first), _dotted(settings, second)
        if low < high or (low == high and not strict):
            return None
        relation = "must be before" if strict else "must not be more than"
        return f"{_where(first, given)}: {_number_or_text(low)} {relation} {_where(second, given)}: {_number_or_text(high)}"

    return check


def _dotted(settings: Settings, dotted: str) -> Any:
    section, key = dotted.split(".")
    return getattr(getattr(settings, section), key)


def _number_or_text(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


# Rules across keys; a rule is skipped when one of its keys was already refused,
# so one mistake is reported once.
_RULES: tuple[tuple[frozenset[str], Callable[[Settings, _GivenValues], str | None]], ...] = (
    (frozenset({"ami.host", "ami.secret"}), _secret_needed),
    (frozenset({"ami.reconnect_min", "ami.reconnect_max"}), _in_order("ami.reconnect_min", "ami.reconnect_max", strict=False)),
    (frozenset({"routing.work_start", "routing.work_end"}), _in_order("routing.work_start", "routing.work_end", strict=True)),
    (frozenset({"tickets.work_start", "tickets.close_of_business"}), _in_order("tickets.work_start", "tickets.close_of_business", strict=True)),
    (frozenset({"callbacks.window_start", "callbacks.window_end"}), _in_order("callbacks.window_start", "callbacks.window_end", strict=True)),
)


def describe(settings: Settings) -> dict[str, dict[str, object]]:
    """The effective settings as plain data (for `hotline check-config`), secrets hidden."""
    described: dict[str, dict[str, object]] = {}
    for section, (_, keys) in _schema().items():
        part = getattr(settings, section)
        described[section] = {key.name: _plain(key, getattr(part, key.name)) for key in keys}
    return described


def _plain(key: _Key, value: object) -> object:
    redact = key.field.metadata["redact"]
    if redact is not None:
        value = redact(value)
    return _plain_value(value)


def _plain_value(value: object) -> object:
    if isinstance(value, Mapping):
        return {name: _plain_value(item) for name, item in value.items()}
    return list(value) if isinstance(value, tuple | list) else value
