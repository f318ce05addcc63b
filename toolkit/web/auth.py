"""Bearer JWT → the caller (CONTRACT, "Read API"). Missing or bad token → 401."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Annotated

import jwt
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from toolkit.settings import DEFAULT_JWT_MAX_LIFETIME_SECONDS

ROLES = frozenset({"learner", "mentor", "cohort_admin", "enterprise_admin", "platform_admin"})
ALGORITHMS = ["HS256"]

bearer = HTTPBearer(auto_error=False, description="HS256 JWT signed with HUB_JWT_SECRET")


@dataclass(frozen=True)
class Principal:
    user_id: str
    roles: frozenset[str]
    enterprise_id: str | None = None
    cohort_ids: frozenset[str] = field(default_factory=frozenset)


def unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


# Tokens this process has verified, with their principal and `exp`. A client sends the same
# token with every request until it expires, and verifying it (base64, HMAC, JSON, claims) was
# ~15% of a read's CPU (py-spy). Only a token that passed every check is kept, under the secret
# and maximum lifetime it passed with; its expiry is checked again on every use, and every other
# check can only pass again later (`nbf` and `iat` lie further in the past, `exp` nearer).
# Bounded, oldest evicted first; only tokens signed with the secret get in.
MAX_VERIFIED_TOKENS = 4096
_verified: dict[tuple[str, str, int], tuple[Principal, int]] = {}


def principal_from_token(token: str, secret: str,
                         max_lifetime_seconds: int = DEFAULT_JWT_MAX_LIFETIME_SECONDS) -> Principal:
    """Validate signature, expiry, lifetime and claims; raises a 401 saying what is wrong."""
    key = (token, secret, max_lifetime_seconds)
    known = _verified.get(key)
    if known is not None:
        if time.time() < known[1]:  # PyJWT's rule: expired once `int(exp) <= now`
            return known[0]
        _verified.pop(key, None)
    principal, expires = verify_token(token, secret, max_lifetime_seconds)
    if _verified and len(_verified) >= MAX_VERIFIED_TOKENS:
        _verified.pop(next(iter(_verified)), None)
    _verified[key] = (principal, expires)
    return principal


def verify_token(token: str, secret: str, max_lifetime_seconds: int) -> tuple[Principal, int]:
    """Every check of `principal_from_token`, done now: (principal, `exp` as PyJWT reads it)."""
    try:
        # `exp` is required: a token without one would stay valid forever if it leaked.
        claims = jwt.decode(
            token, secret, algorithms=ALGORITHMS, options={"require": ["sub", "exp"]}
        )
    except jwt.ExpiredSignatureError:
        raise unauthorized("token expired") from None
    except jwt.InvalidSignatureError:
        raise unauthorized("token signature is invalid") from None
    except jwt.InvalidAlgorithmError:
        raise unauthorized("token algorithm is not accepted (HS256 only)") from None
    except jwt.MissingRequiredClaimError as exc:
        raise unauthorized(f"token lacks the {exc.claim!r} claim") from None
    except jwt.PyJWTError as exc:
        raise unauthorized(f"token is malformed: {exc}") from None
    refuse_long_lifetime(claims, max_lifetime_seconds, time.time())
    sub, roles = claims.get("sub"), claims.get("roles", [])
    if not isinstance(sub, str) or not sub or "\x00" in sub:
        raise unauthorized("token 'sub' must be a non-empty string without NUL")
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise unauthorized("token 'roles' must be a list of strings")
    unknown = set(roles) - ROLES
    if unknown:
        raise unauthorized(f"token names unknown roles: {sorted(unknown)}")
    cohort_ids = claims.get("cohort_ids", [])
    enterprise_id = claims.get("enterprise_id")
    if not isinstance(cohort_ids, list) or not all(isinstance(c, str) for c in cohort_ids):
        raise unauthorized("token 'cohort_ids' must be a list of strings")
    if enterprise_id is not None and not isinstance(enterprise_id, str):
        raise unauthorized("token 'enterprise_id' must be a string")
    return Principal(sub, frozenset(roles), enterprise_id, frozenset(cohort_ids)), int(
        claims["exp"])


def refuse_long_lifetime(claims: dict, max_lifetime_seconds: int, now: float) -> None:
    """PyJWT accepts any `exp` that int() takes (10**400, 1e308): such a token never expires.
    Refuse one that ends further than the maximum lifetime from now, or from its `iat`."""
    exp, iat = claims["exp"], claims.get("iat")
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        raise unauthorized("token 'exp' must be a number")
    if exp > now + max_lifetime_seconds:
        raise unauthorized(f"token 'exp' lies more than {max_lifetime_seconds} s ahead "
                           "(HUB_JWT_MAX_LIFETIME_SECONDS)")
    if iat is not None and (isinstance(iat, bool) or not isinstance(iat, int | float)
                            or exp - iat > max_lifetime_seconds):
        raise unauthorized(f"token lives longer than {max_lifetime_seconds} s from its 'iat' "
                           "(HUB_JWT_MAX_LIFETIME_SECONDS)")


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise unauthorized("missing bearer token")
    settings = request.app.state.settings
    return principal_from_token(credentials.credentials, settings.jwt_secret,
                                settings.jwt_max_lifetime_seconds)


def issue_token(secret: str, sub: str, roles: list[str], *, enterprise_id: str | None = None,
                cohort_ids: list[str] | None = None, ttl_seconds: int = 3600) -> str:
    """A signed token (demo, tests and operators' curl examples)."""
    claims = {"sub": sub, "roles": roles, "iat": int(time.time()),
              "exp": int(time.time()) + ttl_seconds}
    if enterprise_id is not None:
        claims["enterprise_id"] = enterprise_id
    if cohort_ids is not None:
        claims["cohort_ids"] = cohort_ids
    return jwt.encode(claims, secret, algorithm="HS256")
