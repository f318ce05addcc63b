"""Oracles: what each projection must hold for a set of published events, read the simplest
way from CONTRACT.md and the README (the whole history at once), written apart from the
projections' incremental code and importing none of their rules, so a bug in a rule makes the
comparison fail. Only the event models (`schemas`), the catalog's data and the few choices
that are the hub's rather than the CONTRACT's (said where they are used) are shared."""
