"""The hub's view of the event models: their generated JSON Schemas (`python -m schemas.generate`)
and the AsyncAPI document. The models themselves live in the producer kit, `profiler_hub_kit`
(kit/), the one source; `schemas.<module>` re-exports the public names of
`profiler_hub_kit.models.<module>` (the very same objects)."""
