"""The CONTRACT's event models, one module per event type, and the wire codec (`registry`).

The one source of these models: the hub's `schemas.<module>` is an alias of
`profiler_hub_kit.models.<module>`."""
