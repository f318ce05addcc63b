"""The SQL of `bench/api.py`'s anchor: one statement per answer, as written by hand."""

DIFFICULTY_SQL = """
select difficulty, session_id, completed_at, cohort_id, enterprise_id
from missions.difficulty where user_id = $1
"""
RECOMMENDATIONS_SQL = """
select p.*, s.skill, s.score
from recipes.profiles p left join recipes.skill_scores s on s.user_id = p.user_id
where p.user_id = $1
"""
STATEMENT_SQL = """
select i.*, c.cohort_id, c.enterprise_id
from portfolio.current_statements c
join portfolio.items i on i.item_id = c.item_id and i.user_id = c.user_id
where c.user_id = $1
"""
ITEMS_SQL = """
select * from portfolio.items where user_id = $1 and status = 'active'
order by created_at desc, profiler_session_id desc
"""
MENTEE_SQL = """
select s.session_id, s.completed_at, s.facts, d.reason, d.invalidated_at
from mentorship.sessions s
left join mentorship.invalidation_details d
    on d.user_id = s.user_id and d.session_id = s.session_id
where s.user_id = $2 and exists (
    select 1 from mentorship.assignments a
    where a.mentor_id = $1 and a.mentee_id = $2 and a.active)
order by s.completed_at desc, s.session_id desc
"""
TALENT_SQL = """
with matched as (
    select p.user_id, p.track, p.overall_score, p.cohort_id, p.enterprise_id,
           sum(s.score) as score_sum, avg(s.score) as match_score,
           jsonb_object_agg(s.skill, s.score) as skill_scores
    from recipes.profiles p join recipes.skill_scores s on s.user_id = p.user_id
    where ((s.skill = $1 and s.score >= $2) or (s.skill = $3 and s.score >= $4))
      and p.marketplace_opt_in and p.enterprise_id = $5
    group by p.user_id
    having count(*) = 2
)
select (select count(*) from matched) as total, m.*
from matched m order by m.score_sum desc, m.user_id limit 20
"""
GROUP_SQL = """
select t.*,
       (select jsonb_object_agg(k.skill, k.score_sum / k.scores) from analytics.group_skills k
        where k.scope = t.scope and k.group_id = t.group_id) as skill_averages,
       {placements} as placements,
       (select max(last_event_at) from analytics.positions) as freshness
from analytics.group_totals t where t.scope = '{scope}' and t.group_id = $1
"""
COHORT_SQL = GROUP_SQL.format(scope="cohort", placements=(
    "(select array_agg(p.enterprise_id order by p.enterprise_id) from analytics.placements p "
    "where p.cohort_id = t.group_id)"))
ENTERPRISE_SQL = GROUP_SQL.format(scope="enterprise", placements=(
    "(select jsonb_object_agg(p.cohort_id, p.learners) from analytics.placements p "
    "where p.enterprise_id = t.group_id)"))
CATALOG_SQL = "select version, document::text as document from hub_catalog.catalogs where active"
