"""Alias of the producer kit's `profiler_hub_kit.models.errors`.

The kit (kit/) is the one source of the event models; this keeps the hub's imports from
`schemas.errors` working, with the very same module object."""

import importlib
import sys

sys.modules[__name__] = importlib.import_module(
    "profiler_hub_kit.models.errors"
)
