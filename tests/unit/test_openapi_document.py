"""The OpenAPI document after responses stopped going through `response_model` validation:
every endpoint still documents its response model, and the projection-backed ones document
the consistency token, its wait and the freshness headers."""

from __future__ import annotations

from hub.api.app import create_app
from toolkit.settings import Settings
from toolkit.web.freshness import FRESHNESS_HEADERS


def document():
    return create_app(Settings()).openapi()  # nothing connects: no lifespan runs here


def test_every_route_still_documents_its_response_model():
    from consumers.missions import api as missions
    from consumers.recipes import api as recipes

    doc = document()
    checked = 0
    for path, operations in doc["paths"].items():
        if not path.startswith("/api/"):
            continue
        ok = operations["get"]["responses"]["200"]
        ref = ok["content"]["application/json"]["schema"]["$ref"]
        name = ref.removeprefix("#/components/schemas/")
        assert name.endswith("Out") and name in doc["components"]["schemas"], path
        checked += 1
    assert checked >= 12  # the CONTRACT's nine and the admin reads
    schemas = doc["components"]["schemas"]
    assert set(schemas["DifficultyOut"]["properties"]) == set(missions.DifficultyOut.model_fields)
    assert set(schemas["RecommendationsOut"]["properties"]) == set(
        recipes.RecommendationsOut.model_fields)


def test_projection_reads_document_the_token_the_wait_and_the_headers():
    doc = document()
    difficulty = doc["paths"]["/api/v1/missions/difficulty"]["get"]
    parameters = {p["name"]: p for p in difficulty["parameters"]}
    assert parameters["Hub-Min-Position"]["in"] == "header"
    assert parameters["wait_ms"]["in"] == "query"
    assert set(difficulty["responses"]["200"]["headers"]) == set(FRESHNESS_HEADERS)
    assert "headers" not in doc["paths"]["/healthz"]["get"]["responses"]["200"]
