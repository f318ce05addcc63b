"""The secret rule (finding 5): outside local, a secret under 32 bytes or the placeholder is
refused at start, saying why, however it is padded."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tests.conftest import TEST_ERASURE_KEY
from toolkit.settings import (
    MIN_SECRET_BYTES,
    PLACEHOLDER_SECRET,
    Settings,
    describe_errors,
    refuse_weak_secret,
)

STRONG = "k" * MIN_SECRET_BYTES


@pytest.mark.parametrize("environment", ["test", "production"])
@pytest.mark.parametrize("value", ["", "a", " " * 40, "a" + " " * 40, "\t" + "s" * 31 + "\n"])
def test_short_secrets_are_refused_outside_local(environment, value):
    with pytest.raises(ValueError, match=f"HUB_JWT_SECRET is .* at least {MIN_SECRET_BYTES}"):
        refuse_weak_secret("HUB_JWT_SECRET", value, environment)


@pytest.mark.parametrize("value", [PLACEHOLDER_SECRET, f" {PLACEHOLDER_SECRET}",
                                   f"{PLACEHOLDER_SECRET}\n", f"\t{PLACEHOLDER_SECRET}  "])
def test_production_refuses_the_placeholder_however_padded(value):
    with pytest.raises(ValueError, match="placeholder"):
        refuse_weak_secret("HUB_JWT_SECRET", value, "production")


def test_what_is_accepted():
    refuse_weak_secret("HUB_JWT_SECRET", STRONG, "production")
    refuse_weak_secret("HUB_JWT_SECRET", STRONG, "test")
    # The test suite signs with the default placeholder: long enough outside production.
    refuse_weak_secret("HUB_JWT_SECRET", PLACEHOLDER_SECRET, "test")
    # A laptop may use anything.
    refuse_weak_secret("HUB_JWT_SECRET", "a", "local")
    refuse_weak_secret("HUB_JWT_SECRET", "", "local")


def test_the_name_is_the_callers():
    with pytest.raises(ValueError, match="^HUB_ERASURE_KEY is 3 bytes"):
        refuse_weak_secret("HUB_ERASURE_KEY", "abc", "production")


def test_settings_apply_the_rule_and_never_echo_the_secret():
    # The suite runs as `test` with the JWT placeholder (39 bytes); the erasure key must be set.
    suite = Settings(environment="test", erasure_key=TEST_ERASURE_KEY)
    assert suite.jwt_secret == PLACEHOLDER_SECRET
    with pytest.raises(ValidationError) as caught:
        Settings(environment="production", jwt_secret="hunter2")
    line = describe_errors(caught.value)
    assert line.startswith("HUB_JWT_SECRET is 7 bytes")
    assert "hunter2" not in line and "\n" not in line


def test_field_errors_name_the_variable():
    with pytest.raises(ValidationError) as caught:
        Settings(environment="test", jwt_max_lifetime_seconds=0)
    assert describe_errors(caught.value).startswith("HUB_JWT_MAX_LIFETIME_SECONDS: ")
