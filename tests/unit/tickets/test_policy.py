"""Reading the standard's limits from configuration: every mistake is one line, with its key."""

import pytest

from hotline.errors import ConfigError
from hotline.tickets.standard import Policy

NOT_A_DURATION = 'is not a duration such as "10min", "4h" or "1h30min"'
NOT_A_TIME = 'is not a time of day written HH:MM, e.g. "17:00"'
GROUPS = "private_network, key_account_vip, urban, suburban, rural"
CATEGORIES = "inquiry, fault_report, complaint, business, restoration, other"


def problems_of(given: dict, where: str = "standard") -> list[str]:
    with pytest.raises(ConfigError) as raised:
        Policy.from_mapping(given, where=where)
    return raised.value.problems


# given -> the one line the administrator reads
BAD_VALUES = [
    ({"forwrd": "10min"}, "standard.forwrd: unknown key (did you mean forward?)"),
    ({"forward": "soon"}, f"standard.forward: 'soon' {NOT_A_DURATION}"),
    ({"forward": 10}, f"standard.forward: 10 {NOT_A_DURATION}"),
    ({"forward": "10ms"}, f"standard.forward: '10ms' {NOT_A_DURATION}"),
    ({"reply": "0min"}, "standard.reply: '0min' must be longer than zero"),
    (
        {"warn_fraction": 1.5},
        "standard.warn_fraction: 1.5 is not a fraction between 0 and 1, e.g. 0.8",
    ),
    (
        {"warn_fraction": True},
        "standard.warn_fraction: True is not a fraction between 0 and 1, e.g. 0.8",
    ),
    ({"repair": "4h"}, f"standard.repair: must be a table of {GROUPS}"),
    ({"repair": {"city": {}}}, f"standard.repair.city: unknown key (one of: {GROUPS})"),
    (
        {"repair": {"urban": {"genral": "4h"}}},
        "standard.repair.urban.genral: unknown key (did you mean general?)",
    ),
    (
        {"repair": {"urban": {"major": {"fix": "1d", "respnd": "5min"}}}},
        "standard.repair.urban.major.respnd: unknown key (did you mean respond?)",
    ),
    (
        {"repair": {"urban": {"major": {"respond": "x"}}}},
        f"standard.repair.urban.major.respond: 'x' {NOT_A_DURATION}",
    ),
    (
        {"restoration_cutoff": {"rural": "4pm"}},
        f"standard.restoration_cutoff.rural: '4pm' {NOT_A_TIME}",
    ),
    (
        {"installation_days": {"individual": 0}},
        "standard.installation_days.individual: 0 is not a whole number of days (1 or more)",
    ),
    (
        {"installation_days": {"individual": 2.5}},
        "standard.installation_days.individual: 2.5 is not a whole number of days (1 or more)",
    ),
    (
        {"follow_up_every": ["complaint", "gossip"]},
        f"standard.follow_up_every: ['complaint', 'gossip'] is not a list of: {CATEGORIES}",
    ),
    (
        {"follow_up_every": "complaint"},
        f"standard.follow_up_every: 'complaint' is not a list of: {CATEGORIES}",
    ),
]


@pytest.mark.parametrize("given, problem", BAD_VALUES)
def test_a_bad_value_names_its_key(given: dict, problem: str) -> None:
    assert problems_of(given) == [problem]


def test_every_bad_key_is_reported_at_once_under_the_callers_section() -> None:
    given = {
        "forward": "soon",
        "repair": {"rural": {"duct": "-1h"}},
        "installation_days": {"rural": "4"},
    }

    assert problems_of(given, where="tickets.standard") == [
        f"tickets.standard.forward: 'soon' {NOT_A_DURATION}",
        f"tickets.standard.repair.rural.duct: '-1h' {NOT_A_DURATION}",
        "tickets.standard.installation_days.rural: '4' is not a whole number of days (1 or more)",
    ]
