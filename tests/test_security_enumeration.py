"""Survey keys and tokens cannot be guessed, and a wrong guess teaches nothing."""

import base64
import secrets

import sqlalchemy as sa

from survey.db import db
from survey.models import ApiToken, Response
from survey.tokens import hash_token


def bits_of(urlsafe: str) -> int:
    padded = urlsafe + "=" * (-len(urlsafe) % 4)
    return len(base64.urlsafe_b64decode(padded)) * 8


def test_survey_keys_carry_128_random_bits(make_survey):
    keys = {make_survey("nps").public_key for _ in range(100)}
    assert len(keys) == 100
    assert all(bits_of(key) >= 128 for key in keys)


def test_unknown_keys_look_the_same_whatever_their_shape(client, make_survey):
    make_survey("nps")
    shaped_like_a_key = secrets.token_urlsafe(16)
    pages = [client.get(f"/s/{probe}") for probe in (shaped_like_a_key, "x", "a" * 200)]
    assert {page.status_code for page in pages} == {404}
    assert len({page.get_data() for page in pages}) == 1
    api = [client.post(f"/api/v1/surveys/{probe}/responses", json={"score": 5}) for probe in (shaped_like_a_key, "x")]
    assert {reply.status_code for reply in api} == {404}
    assert len({reply.get_data() for reply in api}) == 1


def test_invitation_and_unsubscribe_links_for_unknown_tokens_are_plain_404s(client):
    for path in (f"/i/{secrets.token_urlsafe(32)}", f"/i/{secrets.token_urlsafe(32)}/7",
                 f"/u/{secrets.token_urlsafe(32)}", "/i/short"):
        assert client.get(path).status_code == 404
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Response)) == 0


def test_api_tokens_are_stored_only_as_hashes(app):
    from survey.auth.operations import TOKEN_PREFIX, create_api_token, create_user

    user = create_user("reader@example.com", "analyst", "a long enough password 123")
    row, raw = create_api_token(user, "ci")
    stored = db.session.scalars(sa.select(ApiToken.token_hash)).all()
    assert stored == [hash_token(raw)] and raw not in stored
    assert raw.startswith(TOKEN_PREFIX) and bits_of(raw[len(TOKEN_PREFIX):]) >= 256
