"""A sixth projection used only by the tests (docs/adding-a-projection.md): per learner, how
many valid profiler sessions they completed. Built as a projection folder is, with nothing
outside it but `toolkit` and `schemas`; tests/integration/test_projection_folder.py registers
it, applies events to it by the live and bulk paths and reads it through its route."""
