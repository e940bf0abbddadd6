"""Settings: defaults, the TOML file, HOTLINE_* overrides, and the problems a user is shown."""

import json
import tomllib
from datetime import time, timedelta
from pathlib import Path

import pytest

from hotline.config import (
    AmiSettings,
    DatabaseSettings,
    Settings,
    describe,
    load_settings,
)
from hotline.errors import BadRequest, ConfigError, HotlineError, NotFound
from hotline.tickets.standard import FaultKind, Policy, RepairGroup
from hotline.tickets.workdays import WorkCalendar

EXAMPLE = Path(__file__).parents[2] / "hotline.example.toml"


@pytest.fixture
def write_config(tmp_path: Path):
    def write(text: str) -> Path:
        path = tmp_path / "hotline.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


def problems_of(path: Path | None = None, **environ: str) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        load_settings(path, environ)
    return raised.value.problems


def test_nothing_given_means_the_defaults_and_the_demo_pbx() -> None:
    settings = load_settings(None, {})

    assert settings == Settings()
    assert settings.demo_pbx
    assert settings.hotline.numbers == ("96655",)
    assert settings.database.url == "sqlite+aiosqlite:///hotline.db"


def test_the_example_file_spells_out_every_key_with_its_default() -> None:
    document = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))

    assert document == describe(Settings())
    assert load_settings(EXAMPLE, {}) == Settings()


def test_the_file_sets_values(write_config) -> None:
    path = write_config(
        """
        [ami]
        host = "pbx.example"
        secret = "s3cret"
        ping_interval = 20
        [hotline]
        numbers = ["96655", "4008001234"]
        [log]
        format = "json"
        """
    )

    settings = load_settings(path, {})

    assert settings.ami == AmiSettings(host="pbx.example", secret="s3cret", ping_interval=20.0)
    assert not settings.demo_pbx
    assert settings.hotline.numbers == ("96655", "4008001234")
    assert settings.log.format == "json"


@pytest.mark.parametrize(
    "variable, text, section, key, expected",
    [
        ("HOTLINE_AMI_HOST", "10.0.0.5", "ami", "host", "10.0.0.5"),
        ("HOTLINE_AMI_PORT", "5039", "ami", "port", 5039),
        ("HOTLINE_AMI_USERNAME", "crm", "ami", "username", "crm"),
        ("HOTLINE_AMI_SECRET", "s3cret", "ami", "secret", "s3cret"),
        ("HOTLINE_AMI_PING_TIMEOUT", "2.5", "ami", "ping_timeout", 2.5),
        ("HOTLINE_AMI_CONNECT_TIMEOUT", "3", "ami", "connect_timeout", 3.0),
        ("HOTLINE_DATABASE_URL", "sqlite+aiosqlite:///other.db", "database", "url", "sqlite+aiosqlite:///other.db"),
        ("HOTLINE_WEB_HOST", "0.0.0.0", "web", "host", "0.0.0.0"),
        ("HOTLINE_WEB_PORT", "9000", "web", "port", 9000),
        ("HOTLINE_WEB_SECURE_COOKIES", "true", "web", "secure_cookies", True),
        ("HOTLINE_WEB_SECURE_COOKIES", " Off ", "web", "secure_cookies", False),
        ("HOTLINE_HOTLINE_NUMBERS", "96655, 4008001234,", "hotline", "numbers", ("96655", "4008001234")),
        ("HOTLINE_LOG_FORMAT", "console", "log", "format", "console"),
        ("HOTLINE_LOG_LEVEL", "DEBUG", "log", "level", "debug"),
        ("HOTLINE_ROUTING_AGI_HOST", "0.0.0.0", "routing", "agi_host", "0.0.0.0"),
        ("HOTLINE_ROUTING_AGI_PORT", "4574", "routing", "agi_port", 4574),
        ("HOTLINE_ROUTING_BUDGET_MS", "150", "routing", "budget_ms", 150),
        ("HOTLINE_ROUTING_DEFAULT_AREA_CODE", "028", "routing", "default_area_code", "028"),
        ("HOTLINE_ROUTING_VIP_QUEUE", "gold", "routing", "vip_queue", "gold"),
        ("HOTLINE_ROUTING_PRIVATE_NETWORK_PRIORITY", "8", "routing", "private_network_priority", 8),
        ("HOTLINE_ROUTING_FIRST_TRY", "Account_Manager", "routing", "first_try", ("account_manager",)),
        ("HOTLINE_ROUTING_FIRST_TRY", "", "routing", "first_try", ()),
        ("HOTLINE_ROUTING_WORK_DAYS", "mon, tue,sat", "routing", "work_days", ("mon", "tue", "sat")),
        ("HOTLINE_ROUTING_WORK_START", "8:00", "routing", "work_start", "08:00"),
        ("HOTLINE_ROUTING_AFTER_HOURS_TIERS", "", "routing", "after_hours_tiers", ()),
        ("HOTLINE_TICKETS_WARN_FRACTION", "0.75", "tickets", "warn_fraction", 0.75),
        ("HOTLINE_TICKETS_ESCALATE_EVERY", "1h30min", "tickets", "escalate_every", "1h30min"),
        ("HOTLINE_TICKETS_CLOSE_OF_BUSINESS", "18:00", "tickets", "close_of_business", "18:00"),
        ("HOTLINE_TICKETS_STANDARD", '{"forward": "15min"}', "tickets", "standard", {"forward": "15min"}),
    ],
)
def test_an_environment_variable_overrides_its_key(variable, text, section, key, expected) -> None:
    # A secret always, since ami.host needs one.
    settings = load_settings(None, {"HOTLINE_AMI_SECRET": "pw", variable: text})

    assert getattr(getattr(settings, section), key) == expected


def test_every_key_has_an_environment_variable() -> None:
    # Strings work for every key's type, so one value per key proves the name is derived.
    values = {
        "port": "1234", "numbers": "1234", "url": "sqlite:///x.db", "format": "json", "level": "error",
        "agi_port": "4574", "budget_ms": "50", "default_area_code": "028", "first_try": "ticket_owner",
        "timezone": "UTC", "work_days": "sat", "work_start": "07:00", "work_end": "23:00",
        "after_hours_tiers": "private_network",
        "warn_fraction": "0.5", "escalate_every": "5min", "close_of_business": "18:00",
        "standard": '{"reply": "20min"}', "holidays": "2027-01-01", "extra_workdays": "2027-01-30",
        "secure_cookies": "yes",
        "enabled": "no", "agent_channel": "Local/{extension}@agents", "outbound_channel": "Local/{number}@customers",
        "ring_seconds": "20", "max_concurrent": "4", "max_attempts": "5", "window_start": "08:00", "window_end": "21:00",
        "working_days_only": "yes", "modes": '{"follow_up": "agent_first"}',
        "login_queues": "hotline,vip", "member_interface": "Local/{extension}@agents/n", "member_name": "坐席{extension}",
        "pause_reasons": "小休,开会", "wrapup_reason": "整理", "wrapup_after_calls": "no", "wrapup_limit": "3min",
        "answer_threshold_seconds": "20", "short_abandon_seconds": "5", "repeat_days": "7", "target_answer_rate": "0.9",
        "target_service_level": "0.7", "target_lost_rate": "0.1", "supervisor_phone": "Local/{extension}@agents",
        **{f"retry_{outcome}": "7min" for outcome in ("busy", "no_answer", "rejected", "congestion", "failed")},
        **{f"{tier}_priority": "7" for tier in ("vip", "key_account", "private_network", "regular")},
    }
    environ = {
        f"HOTLINE_{section}_{key}".upper(): values.get(key, "7" if isinstance(default, float) else "x")
        for section, keys in describe(Settings()).items()
        for key, default in keys.items()
    }

    changed = describe(load_settings(None, environ))

    for section, keys in describe(Settings()).items():
        for key, default in keys.items():
            assert changed[section][key] != default, f"{section}.{key}"


def test_the_environment_beats_the_file(write_config) -> None:
    path = write_config('[web]\nport = 8081\nhost = "0.0.0.0"\n')

    settings = load_settings(path, {"HOTLINE_WEB_PORT": "8082"})

    assert settings.web.port == 8082
    assert settings.web.host == "0.0.0.0"


def test_the_file_is_found_through_hotline_config(write_config) -> None:
    path = write_config('[web]\nport = 8081\n')

    assert load_settings(environ={"HOTLINE_CONFIG": str(path)}).web.port == 8081


def test_the_process_environment_is_read_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTLINE_WEB_PORT", "8083")

    assert load_settings().web.port == 8083


def test_a_missing_file_is_one_line_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"

    assert problems_of(missing) == [f"config file {missing}: not found"]


def test_a_file_that_cannot_be_read_is_one_line_naming_it(tmp_path: Path) -> None:
    [problem] = problems_of(tmp_path)

    assert problem.startswith(f"config file {tmp_path}: cannot be read")


def test_bad_toml_names_the_line_and_column(write_config) -> None:
    path = write_config('[ami]\nhost = "pbx"\nport = = 5038\n')

    assert problems_of(path) == [f"config file {path}: invalid TOML at line 3, column 8: Invalid value"]


def test_unknown_sections_and_keys_are_typos_and_named(write_config) -> None:
    path = write_config('[ami]\nhots = "pbx"\n[amii]\nport = 1\n[web]\nport = 8080\n')

    assert problems_of(path) == [
        f"config file {path}: unknown key ami.hots (did you mean ami.host?)",
        f"config file {path}: unknown section [amii] (did you mean [ami]?)",
    ]


def test_a_port_out_of_range_names_the_variable_the_user_set() -> None:
    assert problems_of(HOTLINE_AMI_PORT="70000") == [
        'ami.port (HOTLINE_AMI_PORT): "70000" is not a port number (1-65535)'
    ]


@pytest.mark.parametrize(
    "line, problem",
    [
        ("port = 0", "web.port (in {path}): 0 is not a port number (1-65535)"),
        ('port = "8080"', 'web.port (in {path}): "8080" is not a whole number'),
        ("port = true", "web.port (in {path}): true is not a whole number"),
        ("port = 80.5", "web.port (in {path}): 80.5 is not a whole number"),
        ("host = 127", "web.host (in {path}): 127 is not a string"),
        ('secure_cookies = "true"', 'web.secure_cookies (in {path}): "true" is not true or false'),
        ("secure_cookies = 1", "web.secure_cookies (in {path}): 1 is not true or false"),
    ],
)
def test_a_file_value_of_the_wrong_type_or_range_is_named(write_config, line, problem) -> None:
    path = write_config(f"[web]\n{line}\n")

    assert problems_of(path) == [problem.format(path=path)]


@pytest.mark.parametrize(
    "variable, text, problem",
    [
        ("HOTLINE_WEB_PORT", "http", '"http" is not a whole number'),
        ("HOTLINE_WEB_SECURE_COOKIES", "sometimes", '"sometimes" is not true or false'),
        ("HOTLINE_AMI_PING_INTERVAL", "often", '"often" is not a number'),
        ("HOTLINE_AMI_PING_INTERVAL", "0", '"0" is not a positive number of seconds'),
        ("HOTLINE_AMI_PING_TIMEOUT", "-1", '"-1" is not a positive number of seconds'),
        ("HOTLINE_AMI_RECONNECT_MIN", "nan", '"nan" is not a positive number of seconds'),
        ("HOTLINE_AMI_RECONNECT_MAX", "inf", '"inf" is not a positive number of seconds'),
        ("HOTLINE_LOG_FORMAT", "xml", '"xml" is not one of: auto, json, console'),
        ("HOTLINE_LOG_LEVEL", "loud", '"loud" is not one of: debug, info, warning, error, critical'),
        ("HOTLINE_HOTLINE_NUMBERS", " , ", '" , " is empty; give at least one number, e.g. 96655'),
        ("HOTLINE_HOTLINE_NUMBERS", "96655,9665S", '"96655,9665S" has entries that are not all digits: "9665S"'),
        ("HOTLINE_ROUTING_AGI_PORT", "0", '"0" is not a port number (1-65535)'),
        ("HOTLINE_ROUTING_BUDGET_MS", "0", '"0" is not a number of milliseconds (1-60000)'),
        ("HOTLINE_ROUTING_BUDGET_MS", "0.3", '"0.3" is not a whole number'),
        ("HOTLINE_ROUTING_DEFAULT_AREA_CODE", "827", '"827" is not a Chinese area code (0 and 2-3 digits, e.g. "0827")'),
        ("HOTLINE_ROUTING_VIP_QUEUE", "vip queue", '"vip queue" is not a queue name (letters, digits, - _ and ., at most 64)'),
        ("HOTLINE_ROUTING_VIP_QUEUE", "", '"" is not a queue name (letters, digits, - _ and ., at most 64)'),
        ("HOTLINE_ROUTING_REGULAR_PRIORITY", "-1", '"-1" is not a queue priority (0-1000, higher is answered first)'),
        ("HOTLINE_ROUTING_FIRST_TRY", "manager", '"manager" has entries that are not one of ticket_owner, account_manager: "manager"'),
        ("HOTLINE_ROUTING_TIMEZONE", "Asia/Bazhong", '"Asia/Bazhong" is not a known time zone, e.g. "Asia/Shanghai"'),
        ("HOTLINE_ROUTING_WORK_DAYS", "", '"" is empty; give some of: mon, tue, wed, thu, fri, sat, sun'),
        ("HOTLINE_ROUTING_WORK_START", "8.30", '"8.30" is not a time of day written HH:MM, e.g. "08:30"'),
        ("HOTLINE_ROUTING_WORK_END", "24:00", '"24:00" is not a time of day written HH:MM, e.g. "08:30"'),
        ("HOTLINE_ROUTING_AFTER_HOURS_TIERS", "gold", '"gold" has entries that are not one of vip, key_account, private_network, regular: "gold"'),
    ],
)
def test_an_environment_value_that_does_not_fit_is_named(variable, text, problem) -> None:
    [line] = problems_of(**{variable: text})

    key = variable.removeprefix("HOTLINE_").lower().replace("_", ".", 1)
    assert line == f"{key} ({variable}): {problem}"


def test_hotline_numbers_in_the_file_must_be_strings(write_config) -> None:
    path = write_config("[hotline]\nnumbers = [96655]\n")

    assert problems_of(path) == [
        f'hotline.numbers (in {path}): [96655] is not a list of strings, e.g. ["96655"]'
    ]


def test_a_real_pbx_needs_the_ami_secret() -> None:
    assert problems_of(HOTLINE_AMI_HOST="pbx.example") == [
        "ami.secret is required when ami.host is set "
        "(give it in the config file or as HOTLINE_AMI_SECRET)"
    ]
    assert load_settings(None, {"HOTLINE_AMI_HOST": "pbx", "HOTLINE_AMI_SECRET": "x"}).ami.secret == "x"


def test_reconnect_delays_must_grow() -> None:
    assert problems_of(HOTLINE_AMI_RECONNECT_MIN="40") == [
        "ami.reconnect_min (HOTLINE_AMI_RECONNECT_MIN): 40 must not be more than "
        "ami.reconnect_max (default): 30"
    ]


def test_working_hours_must_start_before_they_end(write_config) -> None:
    path = write_config('[routing]\nwork_start = "18:00"\n')

    assert problems_of(path) == [
        f"routing.work_start (in {path}): 18:00 must be before routing.work_end (default): 17:30"
    ]


def test_routing_settings_in_the_file_are_checked_one_line_each(write_config) -> None:
    path = write_config('[routing]\nbudget_ms = 300.5\nwork_days = "mon"\nvip_priority = 10\n')

    assert problems_of(path) == [
        f"routing.budget_ms (in {path}): 300.5 is not a whole number",
        f'routing.work_days (in {path}): "mon" is not a list of strings, '
        'e.g. ["mon", "tue", "wed", "thu", "fri"]',
    ]


def test_a_refused_key_is_not_reported_again_by_a_rule_across_keys() -> None:
    assert problems_of(HOTLINE_AMI_RECONNECT_MIN="40", HOTLINE_AMI_RECONNECT_MAX="soon") == [
        'ami.reconnect_max (HOTLINE_AMI_RECONNECT_MAX): "soon" is not a number'
    ]


@pytest.mark.parametrize(
    "given, effective",
    [
        ("sqlite+aiosqlite:///hotline.db", "sqlite+aiosqlite:///hotline.db"),
        ("sqlite:///var/lib/hotline.db", "sqlite+aiosqlite:///var/lib/hotline.db"),
        ("sqlite://", "sqlite+aiosqlite://"),
        ("postgresql://hotline:pw@db:5432/hotline", "postgresql+asyncpg://hotline:pw@db:5432/hotline"),
        ("postgresql+asyncpg://hotline@db/hotline", "postgresql+asyncpg://hotline@db/hotline"),
    ],
)
def test_database_urls_run_on_the_async_drivers(given, effective) -> None:
    assert load_settings(None, {"HOTLINE_DATABASE_URL": given}).database.url == effective


@pytest.mark.parametrize(
    "given, problem",
    [
        ("mysql://hotline:pw@db/hotline", '"mysql://hotline:***@db/hotline" uses mysql'),
        ("postgresql+psycopg://h:pw@db/h", '"postgresql+psycopg://h:***@db/h" uses postgresql+psycopg'),
        ("db.example:5432", '"db.example:5432" is not a database URL'),
    ],
)
def test_an_unsupported_database_url_is_named_without_its_password(given, problem) -> None:
    [line] = problems_of(HOTLINE_DATABASE_URL=given)

    assert line.startswith(f"database.url (HOTLINE_DATABASE_URL): {problem}")
    assert "pw" not in line


def test_every_problem_is_reported_at_once(write_config) -> None:
    path = write_config('[web]\nport = 99999\n[log]\nlevel = "loud"\n')

    with pytest.raises(ConfigError) as raised:
        load_settings(path, {"HOTLINE_AMI_HOST": "pbx", "HOTLINE_AMI_PORT": "x"})

    assert len(raised.value.problems) == 4
    assert str(raised.value) == "\n".join(raised.value.problems)
    assert raised.value.error_id == "config_invalid"
    assert raised.value.details == {"problems": raised.value.problems}


def test_the_secret_never_shows(write_config) -> None:
    settings = load_settings(
        None,
        {
            "HOTLINE_AMI_HOST": "pbx",
            "HOTLINE_AMI_SECRET": "hunter2",
            "HOTLINE_DATABASE_URL": "postgresql://hotline:dbpass@db/hotline",
        },
    )
    path = write_config("[ami]\nsecret = 12345\n")

    assert "hunter2" not in repr(settings) and "dbpass" not in repr(settings)
    assert describe(settings)["ami"]["secret"] == "********"
    assert describe(settings)["database"]["url"] == "postgresql+asyncpg://hotline:***@db/hotline"
    assert problems_of(path) == [f"ami.secret (in {path}): the value (hidden) is not a string"]


def test_an_unset_secret_is_described_as_empty() -> None:
    assert describe(Settings())["ami"]["secret"] == ""


def test_describe_is_plain_data() -> None:
    described = describe(Settings())

    assert json.loads(json.dumps(described)) == described
    assert described["hotline"] == {"numbers": ["96655"]}
    assert described["ami"]["port"] == 5038


def test_settings_cannot_be_changed_after_loading() -> None:
    with pytest.raises(AttributeError):
        Settings().ami.host = "pbx"  # type: ignore[misc]
    assert DatabaseSettings().url == "sqlite+aiosqlite:///hotline.db"


def test_an_error_message_defaults_to_its_docstring_and_keeps_details() -> None:
    error = NotFound(ticket=12)

    assert str(error) == error.message == "The requested item does not exist."
    assert error.details == {"ticket": 12}
    assert (error.error_id, BadRequest.error_id, HotlineError.error_id) == (
        "not_found",
        "bad_request",
        "hotline_error",
    )
    assert str(BadRequest("ticket 12 is closed")) == "ticket 12 is closed"


def test_an_error_without_a_docstring_borrows_its_parents() -> None:
    class Undocumented(HotlineError):
        error_id = "undocumented"

    assert Undocumented().message == "Something went wrong in the hotline service."


def test_ticket_settings_give_the_policy_the_calendar_and_the_escalation_step(write_config) -> None:
    path = write_config(
        """
        [tickets]
        warn_fraction = 0.5
        escalate_every = "15min"
        work_start = "09:00"
        close_of_business = "18:00"
        standard = { forward = "15min", repair = { urban = { general = "6h" } } }
        """
    )

    tickets = load_settings(path, {}).tickets

    policy = tickets.policy()
    assert (policy.forward, policy.reply, policy.warn_fraction) == (timedelta(minutes=15), timedelta(minutes=30), 0.5)
    assert policy.repair[RepairGroup.URBAN, FaultKind.GENERAL].fix == timedelta(hours=6)
    assert (tickets.calendar().work_start, tickets.calendar().close_of_business) == (time(9), time(18))
    assert tickets.escalation_interval == timedelta(minutes=15)


def test_the_default_ticket_settings_are_the_standards() -> None:
    tickets = Settings().tickets

    assert tickets.policy() == Policy()
    assert tickets.calendar() == WorkCalendar()
    assert tickets.escalation_interval == timedelta(minutes=10)


def test_bad_standard_overrides_are_one_line_each_naming_the_file(write_config) -> None:
    path = write_config('[tickets]\nstandard = { forward = "soon", repair = { urbn = { general = "4h" } } }\n')

    assert problems_of(path) == [
        f'tickets.standard.forward (in {path}): \'soon\' is not a duration such as "10min", "4h" or "1h30min"',
        f"tickets.standard.repair.urbn (in {path}): unknown key (did you mean urban?)",
    ]


@pytest.mark.parametrize(
    "variable, text, problem",
    [
        ("HOTLINE_TICKETS_WARN_FRACTION", "1.5", 'tickets.warn_fraction (HOTLINE_TICKETS_WARN_FRACTION): "1.5" is not a fraction between 0 and 1, e.g. 0.8'),
        ("HOTLINE_TICKETS_ESCALATE_EVERY", "0min", 'tickets.escalate_every (HOTLINE_TICKETS_ESCALATE_EVERY): "0min" is not a duration such as "10min", "4h" or "1h30min" (longer than zero)'),
        ("HOTLINE_TICKETS_STANDARD", "forward=15min", 'tickets.standard (HOTLINE_TICKETS_STANDARD): "forward=15min" is not a JSON object, e.g. {"forward": "15min"}'),
        ("HOTLINE_TICKETS_STANDARD", '{"warn_fraction": 0.5}', "tickets.standard.warn_fraction (HOTLINE_TICKETS_STANDARD): set tickets.warn_fraction instead"),
        ("HOTLINE_TICKETS_CLOSE_OF_BUSINESS", "08:00", "tickets.work_start (default): 08:30 must be before tickets.close_of_business (HOTLINE_TICKETS_CLOSE_OF_BUSINESS): 08:00"),
    ],
)
def test_bad_ticket_settings_are_named(variable, text, problem) -> None:
    assert problems_of(None, **{variable: text}) == [problem]


def test_an_administrator_enters_a_year_the_calendar_package_does_not_know() -> None:
    from datetime import date as _date

    settings = load_settings(environ={"HOTLINE_TICKETS_HOLIDAYS": "2027-01-01,2027-02-05", "HOTLINE_TICKETS_EXTRA_WORKDAYS": "2027-01-30"})
    calendar = settings.tickets.calendar()
    assert not calendar.is_working_day(_date(2027, 1, 1))  # a Friday entered as a holiday
    assert calendar.is_working_day(_date(2027, 1, 30))  # a Saturday entered as a swapped working day
    assert calendar.is_working_day(_date(2027, 1, 4))  # an ordinary Monday


def test_a_holiday_that_is_not_a_date_is_one_clear_problem() -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(environ={"HOTLINE_TICKETS_HOLIDAYS": "2027-13-01"})
    assert raised.value.problems == ['tickets.holidays (HOTLINE_TICKETS_HOLIDAYS): "2027-13-01" has entries that are not dates (YYYY-MM-DD): "2027-13-01"']
