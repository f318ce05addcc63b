"""Reads that span projections, so belong to no one folder (the dashboard's): `skill_gaps`
computes from recipes' profiles under analytics' access rule, `admin_groups` lists analytics'
groups with recipes' freshness. Each projection's own reads live in `consumers/<name>/api.py`."""
