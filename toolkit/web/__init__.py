"""What a projection's read API is built from: the caller (JWT), the access rules, the audit of
refusals, request dependencies, freshness headers and the fast path's declarations.

The routes live with their projection (`consumers/<name>/api.py`), which may not import `hub`;
the application (`hub/api/app.py`) mounts each registered projection's `ReadApi`.
"""
