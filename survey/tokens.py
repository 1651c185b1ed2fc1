"""How secret tokens (answer edit links, invitations, API tokens, sessions) are stored."""

from __future__ import annotations

import hashlib


def hash_token(token: str) -> str:
    """Tokens are stored as SHA-256 so a database leak reveals no working link."""
    return hashlib.sha256(token.encode()).hexdigest()
