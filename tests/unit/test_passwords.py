"""Passwords: argon2id with argon2-cffi's defaults, verified off the event loop, 8 to 200
characters, and a weaker old hash is noticed so log-in can rehash it."""

from __future__ import annotations

import asyncio

import pytest
from argon2 import PasswordHasher, Type

from hotline.errors import BadRequest
from hotline.users.passwords import Passwords, password_problem, require_acceptable

PASSWORD = "热线-passw0rd"


async def test_a_hash_is_argon2id_salted_and_verifies_only_its_password() -> None:
    passwords = Passwords()

    first, second = await passwords.hash(PASSWORD), await passwords.hash(PASSWORD)

    assert first.startswith("$argon2id$v=19$")
    assert first != second  # a salt of its own each time
    assert PASSWORD not in first
    assert await passwords.verify(first, PASSWORD)
    assert not await passwords.verify(first, PASSWORD + "x")
    assert not await passwords.verify(first, "")


@pytest.mark.parametrize("damaged", ["", "not a hash", "$argon2id$v=19$m=65536,t=3,p=4$AAAA", "$2b$12$abcdefghijklmnopqrstuv"])
async def test_a_damaged_hash_verifies_nothing_and_raises_nothing(damaged: str) -> None:
    assert not await Passwords().verify(damaged, PASSWORD)


async def test_verifying_leaves_the_event_loop_free() -> None:
    passwords = Passwords()
    password_hash = await passwords.hash(PASSWORD)
    verifying = asyncio.create_task(passwords.verify(password_hash, PASSWORD))
    turns = 0
    while not verifying.done():
        turns += 1
        await asyncio.sleep(0.001)
    # Run on the loop, the verification would have finished within its first turn.
    assert turns > 3
    assert verifying.result()


def test_a_hash_made_with_weaker_parameters_needs_rehashing() -> None:
    passwords = Passwords()
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    argon2i = PasswordHasher(type=Type.I).hash(PASSWORD)
    current = passwords.hasher.hash(PASSWORD)

    assert passwords.needs_rehash(weak)
    assert passwords.needs_rehash(argon2i)
    assert not passwords.needs_rehash(current)


@pytest.mark.parametrize("password", ["12345678", "密" * 8, "x" * 200, " spaces  count "])
def test_8_to_200_characters_are_accepted(password: str) -> None:
    assert password_problem(password) is None
    require_acceptable(password)


@pytest.mark.parametrize(
    "password, problem",
    [
        ("1234567", "must be 8 to 200 characters (it has 7)"),
        ("密码太短", "must be 8 to 200 characters (it has 4)"),
        ("", "must be 8 to 200 characters (it has 0)"),
        ("x" * 201, "must be 8 to 200 characters (it has 201)"),
        (12345678, "must be a text"),
        (None, "must be a text"),
    ],
)
def test_other_passwords_are_refused_with_the_reason(password: object, problem: str) -> None:
    assert password_problem(password) == problem
    with pytest.raises(BadRequest) as refused:
        require_acceptable(password)
    assert str(refused.value) == f"the password {problem}"


async def test_hashing_refuses_a_short_password_before_any_work() -> None:
    with pytest.raises(BadRequest):
        await Passwords().hash("short")
