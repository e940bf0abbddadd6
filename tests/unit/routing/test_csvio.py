"""Reading the customers CSV: every bad row with its line number and reason, Excel's habits tolerated."""

from __future__ import annotations

import pytest

from hotline.errors import BadRequest
from hotline.routing.csvio import decode, read_customers, split_numbers
from hotline.routing.customers import PhoneNumber, RowProblem, Tier

HEADER = "external_ref,name,tier,area,numbers,account_manager,notes\r\n"


def read(text: str) -> tuple[list[int], list[str]]:
    parsed = read_customers(text, default_area_code="0827")
    return [row.line for row in parsed.rows], [str(p) for p in parsed.problems]


def test_a_good_file_gives_one_row_per_customer() -> None:
    text = HEADER + 'H-1,巴中市人民医院,大客户,城网,0827-5551234; 139 1234 5678,王经理,"总机, 24 小时"\r\n,张三,vip,rural,5551235,,\r\n'
    parsed = read_customers(text, default_area_code="0827")
    assert parsed.problems == ()
    hospital, zhang = parsed.rows
    assert (hospital.line, hospital.data.tier, hospital.account_manager, hospital.data.notes) == (2, Tier.KEY_ACCOUNT, "王经理", "总机, 24 小时")
    assert hospital.data.numbers == (PhoneNumber("+868275551234"), PhoneNumber("+8613912345678"))
    assert (zhang.line, zhang.data.external_ref, zhang.account_manager) == (3, None, None)


def test_excels_byte_order_mark_is_dropped() -> None:
    text = decode(("\ufeff" + HEADER + ",张三,vip,rural,5551235,,\r\n").encode())
    assert read(text) == ([2], [])


def test_a_file_that_is_not_utf8_is_refused_with_a_hint() -> None:
    gbk = (HEADER + ",张三,vip,rural,5551235,,\r\n").encode("gbk")
    with pytest.raises(BadRequest, match="line 2: the file is not UTF-8"):
        decode(gbk)


@pytest.mark.parametrize("cell", ["13912345678;5551234", "13912345678 / 5551234", "13912345678；5551234", "13912345678、5551234", " 13912345678 ;; 5551234 ;"])
def test_numbers_are_split_on_semicolons_and_slashes(cell: str) -> None:
    assert split_numbers(cell) == ["13912345678", "5551234"]


def test_every_bad_row_is_reported_with_its_line_and_reason() -> None:
    text = HEADER + "\r\n".join(
        [
            "A,张三,gold,urban,13912345678,,",
            "B,李四,vip,moon,13912345679,,",
            "C,王五,vip,urban,12345x,,",
            "D,,vip,urban,13912345670,,",
            "E,赵六,vip,urban,,,",
            "F,钱七,vip,urban,13912345671,,,extra",
            "G,孙八,vip,urban,13912345672,,fine",
        ]
    )
    lines, problems = read(text)
    assert lines == [8]
    assert [p.split(":")[0] for p in problems] == ["line 2", "line 3", "line 4", "line 5", "line 6", "line 7"]
    assert "tier 'gold'" in problems[0] and "area 'moon'" in problems[1] and "'12345x' is not a phone number" in problems[2]
    assert problems[3] == "line 5: the name is missing"
    assert "at least one phone number" in problems[4]
    assert "8 fields, but the header has 7 columns" in problems[5]


def test_a_row_is_numbered_by_the_line_it_starts_on_and_blank_lines_count() -> None:
    text = HEADER + 'A,张三,vip,urban,13912345678,,"first line\nsecond line"\r\n\r\n,,,,,,\r\nB,李四,vip,urban,bad,,\r\n'
    assert read(text) == ([2], ["line 6: 'bad' is not a phone number: it contains 'abd'; only digits, a leading +, spaces, dashes, dots and parentheses are allowed"])


def test_columns_may_come_in_any_order_and_optional_ones_may_be_left_out() -> None:
    parsed = read_customers("Numbers, Name ,TIER,area\n13912345678,张三,专网,城郊\n", default_area_code="0827")
    assert [(r.data.name, r.data.tier.value, r.data.area.value) for r in parsed.rows] == [("张三", "private_network", "suburban")]


@pytest.mark.parametrize(
    "header, message",
    [
        ("", "the file is empty"),
        ("name,tier,area", "missing column 'numbers'"),
        ("name,tier,area,numbers,phone", "unknown column 'phone'"),
        ("name,tier,area,numbers,name", "column 'name' appears twice"),
    ],
)
def test_a_bad_header_refuses_the_whole_file(header: str, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        read_customers(header + "\n", default_area_code="0827")


def test_problems_sort_by_line() -> None:
    assert sorted([RowProblem(10, "b"), RowProblem(2, "z")]) == [RowProblem(2, "z"), RowProblem(10, "b")]
