"""Erasures are remembered under a keyed hash: guessing ids no longer recovers them."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from pydantic import ValidationError

from toolkit.lifecycle import erasure_key
from toolkit.settings import PLACEHOLDER_ERASURE_KEY, Settings

KEY = b"k" * 32


def test_hashing_guessed_ids_without_the_key_recovers_nothing():
    erased = erasure_key("learner-0042", KEY)
    guesses = {f"learner-{n:04d}" for n in range(10_000)}
    assert erased not in {hashlib.sha256(g.encode()).hexdigest() for g in guesses}
    assert erased not in {erasure_key(g, b"another key of 32 bytes or more!") for g in guesses}
    assert erased == erasure_key("learner-0042", KEY)  # deterministic under the key


def test_it_is_the_hmac_of_the_old_plain_hash():
    """So migration 0011 can rehash stored rows without knowing the ids."""
    plain = hashlib.sha256(b"learner-7").hexdigest()
    assert erasure_key("learner-7", KEY) == hmac.new(KEY, plain.encode(), "sha256").hexdigest()


@pytest.mark.parametrize("environment", ["test", "production"])
def test_placeholder_or_short_key_is_refused_outside_local(environment):
    with pytest.raises(ValidationError, match="HUB_ERASURE_KEY"):
        Settings(environment=environment, jwt_secret="j" * 40)
    with pytest.raises(ValidationError, match="must be at least 32"):
        Settings(environment=environment, jwt_secret="j" * 40, erasure_key="short")
    assert Settings(environment=environment, jwt_secret="j" * 40,
                    erasure_key="e" * 32).erasure_secret == b"e" * 32


def test_local_runs_may_keep_the_placeholder(monkeypatch):
    monkeypatch.delenv("HUB_ERASURE_KEY", raising=False)
    settings = Settings(_env_file=None, environment="local")
    assert settings.erasure_key == PLACEHOLDER_ERASURE_KEY


def test_a_projection_built_without_the_key_is_refused_before_it_applies_anything():
    """Applying without the key would fail every batch into the dead letters."""
    from consumers.missions.projection import MissionsProjection
    from hub.projections import all_projections
    from toolkit.streaming.applier import BatchApplier

    settings = Settings(environment="local")
    for projection in [MissionsProjection(None), *all_projections().values()]:
        with pytest.raises(ValueError, match="erasure key"):
            BatchApplier(projection, None, None, settings)  # type: ignore[arg-type]
    for projection in all_projections(settings).values():
        assert BatchApplier(projection, None, None, settings).projection is projection  # type: ignore[arg-type]
