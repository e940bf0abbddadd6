"""Passwords for the browser console: argon2id (argon2-cffi's defaults), hashed and verified
in a worker thread, because one verification costs tens of milliseconds of CPU and the
event loop also carries the AMI stream and the routing answers."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from hotline.errors import BadRequest

MIN_LENGTH = 8
MAX_LENGTH = 200  # argon2 takes any length; the bound keeps a megabyte "password" out


class Passwords:
    """Hashes and checks passwords; the hasher's parameters are argon2-cffi's defaults
    (RFC 9106's low-memory profile), so `needs_rehash` notices when a release raises them."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self.hasher = hasher or PasswordHasher()

    async def hash(self, password: str) -> str:
        require_acceptable(password)
        return await asyncio.to_thread(self.hasher.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        """True when `password` is the one hashed; False for a wrong one or a damaged hash."""
        return await asyncio.to_thread(self._verify, password_hash, password)

    def needs_rehash(self, password_hash: str) -> bool:
        try:
            return self.hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):  # VerifyMismatchError is a VerificationError
            return False


def password_problem(password: object) -> str | None:
    """What is wrong with a new password, completing "the password ...", or None."""
    if not isinstance(password, str):
        return "must be a text"
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        return f"must be {MIN_LENGTH} to {MAX_LENGTH} characters (it has {len(password)})"
    return None


def require_acceptable(password: object) -> None:
    problem = password_problem(password)
    if problem is not None:
        raise BadRequest(f"the password {problem}", problem=problem)
