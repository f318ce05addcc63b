"""Tokens whose `exp` lies absurdly far ahead are refused (finding 9): PyJWT itself accepts any
`exp` that int() takes, 10**400 and 1e308 included, and such a token never expires."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
from fastapi import HTTPException

from toolkit.web import auth
from toolkit.web.auth import issue_token, principal_from_token

SECRET = "s3cret-for-tests-only-long-enough-for-hs256"
HOUR = 3600


def now() -> int:
    # Read when a test runs, never at import: the whole suite collects long before this
    # module's tests run, and PyJWT reads the clock itself.
    return int(time.time())


def signed(payload: str, key: str = SECRET) -> str:
    """A token with the payload's JSON text as is: json.dumps cannot write 1e308 or 10**400
    the way a forger would."""
    def b64(raw: bytes) -> bytes:
        return base64.urlsafe_b64encode(raw).rstrip(b"=")

    signing_input = b64(b'{"alg":"HS256","typ":"JWT"}') + b"." + b64(payload.encode())
    signature = hmac.new(key.encode(), signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + b64(signature)).decode()


def claims(exp: str, iat: str | None = None) -> str:
    extra = f',"iat":{iat}' if iat is not None else ""
    return f'{{"sub":"u","roles":["platform_admin"],"exp":{exp}{extra}}}'


def refused(token: str, max_lifetime: int | None = None) -> str:
    """The 401's reason; without `max_lifetime`, under the default (24 h)."""
    with pytest.raises(HTTPException) as caught:
        if max_lifetime is None:
            principal_from_token(token, SECRET)
        else:
            principal_from_token(token, SECRET, max_lifetime)
    assert caught.value.status_code == 401
    return caught.value.detail


@pytest.mark.parametrize("exp", ["1" + "0" * 400, "1e308", "1e400", "9223372036854775808",
                                 "just past the maximum", "true"])
def test_an_exp_beyond_the_maximum_lifetime_is_refused(exp):
    if exp == "just past the maximum":
        exp = str(now() + 24 * HOUR + 120)
    assert "exp" in refused(signed(claims(exp)))


@pytest.mark.parametrize("iat", ["thirty days ago", "false"])
def test_a_token_issued_for_longer_than_the_maximum_is_refused(iat):
    if iat == "thirty days ago":
        iat = str(now() - 30 * 24 * HOUR)
    assert "iat" in refused(signed(claims(str(now() + HOUR), iat)))


def test_an_iat_in_the_future_is_refused():
    assert "not yet valid" in refused(signed(claims(str(now() + HOUR), str(now() + 600))))


def test_the_maximum_is_a_setting():
    token = signed(claims(str(now() + 2 * HOUR), str(now())))
    assert "exp" in refused(token, max_lifetime=HOUR)
    assert principal_from_token(token, SECRET, 2 * HOUR).user_id == "u"


def test_ordinary_tokens_pass():
    assert principal_from_token(signed(claims(str(now() + 24 * HOUR - 60))), SECRET)
    assert principal_from_token(signed(claims(str(now() + HOUR), str(now()))), SECRET)
    assert principal_from_token(issue_token(SECRET, "u", ["learner"]), SECRET).user_id == "u"
    assert json.loads(claims("1", "2")) == {"sub": "u", "roles": ["platform_admin"],
                                            "exp": 1, "iat": 2}


def test_a_remembered_token_still_expires():
    """Verified tokens are remembered (toolkit/web/auth.py): expiry is checked on every use."""
    token = signed(claims(str(now() + 1)))
    assert principal_from_token(token, SECRET).user_id == "u"
    assert principal_from_token(token, SECRET).user_id == "u"  # remembered
    while now() < json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))["exp"]:
        time.sleep(0.05)
    assert refused(token) == "token expired"
    assert refused(token) == "token expired"


def test_a_remembered_token_counts_only_under_its_secret_and_lifetime():
    token = signed(claims(str(now() + 2 * HOUR), str(now())))
    assert principal_from_token(token, SECRET, 2 * HOUR).user_id == "u"
    assert "exp" in refused(token, max_lifetime=HOUR)
    with pytest.raises(HTTPException) as caught:
        principal_from_token(token, "another-secret-for-tests-long-enough-for-hs256")
    assert caught.value.detail == "token signature is invalid"


def test_remembered_tokens_are_bounded(monkeypatch):
    monkeypatch.setattr(auth, "MAX_VERIFIED_TOKENS", 3)
    monkeypatch.setattr(auth, "_verified", {})
    tokens = [issue_token(SECRET, f"u{i}", ["learner"]) for i in range(5)]
    assert [principal_from_token(t, SECRET).user_id for t in tokens] == [
        f"u{i}" for i in range(5)]
    assert [key[0] for key in auth._verified] == tokens[2:]
