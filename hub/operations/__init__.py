"""The operators' operations below the CLI: each plans, refuses and executes; `hub.cli` only
parses arguments and prints. They get their engine and settings from `hub.bootstrap` (a
`Hub`), and refuse by raising a `Refused` that says in one line why and what to do.

    replay.py        move a consumer's positions (earliest, latest, a time, an offset)
    rebuild.py       rebuild projections from their topics into fresh table sets, then swap
    dead_letters.py  list, show and redrive dead letters
    status.py        per consumer its group, lag, freshness, dead letters; per outbox its rows
    guard.py         refuse while a projection's workers run
"""
