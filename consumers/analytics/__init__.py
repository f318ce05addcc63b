"""Integration 7 — enterprise dashboard: cohort and enterprise analytics, kept incrementally."""
