"""API tokens: made by ``impasto token create``, checked by the web on ``Authorization: Bearer``.

A token is 32 random bytes (URL-safe text with a recognisable prefix). The store keeps only its
SHA-256 digest: the token has 256 bits of entropy, so a plain hash cannot be reversed by guessing,
and no slow password hash is needed (every API call checks one).
"""

from __future__ import annotations

import hashlib
import re
import secrets

PREFIX = "impasto_"
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def new_token() -> tuple[str, str]:
    """A fresh token and its digest (what the store keeps)."""
    token = PREFIX + secrets.token_urlsafe(32)
    return token, digest(token)


def digest(token: str) -> str:
    return hashlib.sha256(token.strip().encode()).hexdigest()


def check_name(name: str) -> str | None:
    """None for a good token name, else what is wrong with it."""
    if NAME_PATTERN.fullmatch(name):
        return None
    return (f"a token name is 1 to 64 letters, digits, '.', '_' or '-' (starting with a letter or digit), "
            f"got {name!r}")
