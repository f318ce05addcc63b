"""Recommendations are computed at read time from the active catalog: a catalog loaded with
`store_catalog` (what `hub catalog load` runs) applies to the very next read."""

from __future__ import annotations

import json

from consumers.recipes.catalog import shipped_catalog
from consumers.recipes.catalog_store import active_catalog, store_catalog
from consumers.recipes.projection import RecipesProjection
from consumers.recipes.queries import load_profile
from consumers.recipes.recommend import recommend
from tests.integration.test_recipes_applier import session
from toolkit.db import create_engine


async def test_a_loaded_catalog_changes_the_next_recommendation(settings, unique):
    user = f"{unique}-cat"
    engine = create_engine(settings)
    try:
        async with engine.begin() as conn:
            await RecipesProjection(settings.erasure_secret).apply(
                conn, [session(user, 0, {"network_security": 60.0, "incident_response": 90.0})])

        document = shipped_catalog().model_dump(mode="json")
        document["version"] = f"test-{unique}"
        document["track_requirements"]["defender"]["incident_response"] = 95
        document["recipes"].append(
            {"id": "r-aaa-new", "title": "New", "skill_codes": ["IR"], "level": 3})
        async with engine.connect() as conn:
            tx = await conn.begin()  # rolled back: other tests keep whatever catalog is active
            profile = await load_profile(conn, user)
            await store_catalog(conn, json.dumps(document))
            loaded = recommend(await active_catalog(conn), profile, limit=100)
            await tx.rollback()
    finally:
        await engine.dispose()

    assert loaded.catalog_version == f"test-{unique}"
    gaps = {g.skill: (g.target, g.gap) for g in loaded.gaps}
    assert gaps == {"network_security": (75.0, 15.0), "incident_response": (95.0, 5.0)}
    ids = [r.recipe.id for r in loaded.recipes]
    assert "r-aaa-new" in ids and "r-comms-101" not in ids
    # Difficulty 4 (overall 75). Recipes covering only network_security tie on 15: the level
    # nearest 4 first, then the id.
    assert loaded.difficulty == 4
    netsec_only = [r.recipe.id for r in loaded.recipes if r.covers == ("network_security",)]
    assert netsec_only == [
        "r-netsec-401", "r-pentest-401", "r-netsec-201", "r-pentest-201", "r-netsec-101"]
    assert ids[: len(netsec_only)] == netsec_only  # 15 outranks incident_response's 5
