// Enterprise dashboard: reads the read API with the signed-in user's bearer token, so it shows
// only what the API grants that token. Charts are Chart.js (vendored by `make setup`).
"use strict";

const API = "/api/v1/profiler/admin";
const TOKEN_KEY = "hub.dashboard.token";
const params = new URLSearchParams(location.search);
// How often to ask whether new events were applied (seconds); `?refresh=` overrides, within
// bounds: browsers hold timers in 32 bits, so a huge value (3000000 s) would fire at once and
// poll the API dozens of times a second.
const REFRESH = { fallback: 10, min: 2, max: 300 };

function refreshSeconds(raw) {
  const seconds = raw === null || raw.trim() === "" ? NaN : Number(raw);
  if (!Number.isFinite(seconds)) return REFRESH.fallback; // absent, not a number, Infinity
  return Math.min(REFRESH.max, Math.max(REFRESH.min, seconds));
}

const REFRESH_SECONDS = refreshSeconds(params.get("refresh"));
const COLORS = ["#9cc3f5", "#6aa5ef", "#2f6fde", "#1f4fa8", "#14306a"];

const $ = (id) => document.getElementById(id);
const state = {
  token: null, groupsKey: null, scope: null, charts: {}, timer: null, loads: 0, generation: 0,
  warning: "",
};

class ApiError extends Error {
  constructor(status, detail) {
    super(`${status}: ${detail}`);
    this.status = status;
  }
}

async function api(path) {
  const response = await fetch(path, {
    headers: { Authorization: `Bearer ${state.token}` },
    cache: "no-store",
  });
  if (!response.ok) {
    let detail = response.statusText;
    try { detail = (await response.json()).detail ?? detail; } catch (_) { /* not JSON */ }
    throw new ApiError(response.status, detail);
  }
  return response.json();
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

function formatScore(value) {
  return value === null || value === undefined ? "—" : value.toFixed(1);
}

function setText(id, text) { $(id).textContent = text; }

// ---- sign-in -------------------------------------------------------------------------------

// Returns an error message when the link's token cannot be read, else "".
function takeTokenFromUrl() {
  // `#token=…` is passed once and removed at once: fragments never reach a server or a log.
  const match = /(?:^#|&)token=([^&]*)/.exec(location.hash);
  if (!match) return "";
  history.replaceState(null, "", location.pathname + location.search);
  let token;
  try {
    token = decodeURIComponent(match[1]).trim();
  } catch (_) { // a stray `%` makes decodeURIComponent throw a URIError
    token = "";
  }
  if (!token) {
    return "The link's #token= is malformed (not a URL-encoded token): paste the token below.";
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  return "";
}

function signIn(token) {
  state.token = token.trim();
  sessionStorage.setItem(TOKEN_KEY, state.token);
  $("sign-in").hidden = true;
  refresh(true);
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  clearTimeout(state.timer);
  Object.assign(state, { token: null, groupsKey: null, scope: null, warning: "" });
  $("board").hidden = true;
  $("who").hidden = true;
  $("sign-in").hidden = false;
  document.body.dataset.state = "signed-out";
  showError(message || "");
}

// ---- data ------------------------------------------------------------------------------------

function scopeOptions(groups) {
  const options = groups.enterprises.map((e) => ({
    key: `enterprise:${e.enterprise_id}`, kind: "enterprise", id: e.enterprise_id,
    label: `Enterprise ${e.enterprise_id} — all its cohorts`,
  }));
  for (const c of groups.cohorts) {
    options.push({ key: `cohort:${c.cohort_id}`, kind: "cohort", id: c.cohort_id,
                   label: `Cohort ${c.cohort_id}` });
  }
  return options;
}

// A cohort id may hold any character, `/` included (the API's route takes any id).
const cohortPath = (id) => `${API}/cohorts/${encodeURIComponent(id)}`;

function analyticsPaths(option) {
  const id = encodeURIComponent(option.id);
  return option.kind === "enterprise"
    ? [`${API}/enterprise/analytics?enterprise_id=${id}`,
       `${API}/enterprise/skill-gaps?enterprise_id=${id}&limit=10`]
    : [`${cohortPath(option.id)}/analytics`, `${cohortPath(option.id)}/skill-gaps?limit=10`];
}

// {value} or {error}: one group's failure must not take the other groups down with it.
async function settle(promise) {
  try {
    return { value: await promise };
  } catch (error) {
    return { error };
  }
}

async function refresh(force) {
  clearTimeout(state.timer);
  try {
    const groups = await api(`${API}/groups`);
    const key = JSON.stringify(groups);
    // A render with a failed group is not remembered, so the next poll tries again.
    if ((force || key !== state.groupsKey) && await render(groups)) {
      state.groupsKey = state.warning ? null : key;
    }
    showError(state.warning);
  } catch (error) {
    if (error.status === 401) return signOut(`Signed out: ${error.message}`);
    if (error.status === 403) return signOut(`This token may not read analytics (${error.message})`);
    showError(`Could not refresh: ${error.message}`);
  }
  clearTimeout(state.timer); // one polling chain, however many refreshes overlapped
  state.timer = setTimeout(() => refresh(false), REFRESH_SECONDS * 1000);
}

// Resolves true when it rendered; false when a newer refresh started meanwhile (it renders).
async function render(groups) {
  const generation = ++state.generation;
  setText("user", `${groups.user_id} (${groups.roles.join(", ")})`);
  setText("freshness", groups.freshness ?? "nothing applied yet");
  $("freshness").dateTime = groups.freshness ?? "";
  $("who").hidden = false;
  $("board").hidden = false;

  const options = scopeOptions(groups);
  const select = $("scope");
  select.replaceChildren(...options.map((o) => new Option(o.label, o.key)));
  if (!options.length) {
    state.warning = "No cohort or enterprise analytics are visible to this token yet.";
    return true;
  }
  const chosen = options.find((o) => o.key === state.scope) ?? options[0];
  state.scope = chosen.key;
  select.value = chosen.key;

  const [analyticsPath, gapsPath] = analyticsPaths(chosen);
  const [analytics, gaps, ...cohorts] = await Promise.all([
    settle(api(analyticsPath)),
    settle(api(gapsPath)),
    ...groups.cohorts.map((c) => settle(api(`${cohortPath(c.cohort_id)}/analytics`))),
  ]);
  if (generation !== state.generation) return false;
  const failed = [analytics, gaps, ...cohorts].map((r) => r.error).filter(Boolean);
  const signedOut = failed.find((e) => e.status === 401); // expired meanwhile: sign in again
  if (signedOut) throw signedOut;

  const problems = [];
  if (analytics.error) problems.push(`${chosen.label}: ${analytics.error.message}`);
  // 404: no current learner, so no gaps to show; anything else is worth saying.
  if (gaps.error && gaps.error.status !== 404) {
    problems.push(`skill gaps of ${chosen.label}: ${gaps.error.message}`);
  }
  groups.cohorts.forEach((c, i) => {
    if (cohorts[i].error) problems.push(`cohort ${c.cohort_id}: ${cohorts[i].error.message}`);
  });
  state.warning = problems.length ? `Could not read ${problems.join("; ")}` : "";

  renderTotals(analytics.value);
  renderCharts(analytics.value, gaps.value);
  renderCohorts(groups.cohorts.map((c, i) => cohorts[i].value
    ?? { cohort_id: c.cohort_id, error: cohorts[i].error }));
  state.loads += 1;
  document.body.dataset.loads = String(state.loads);
  document.body.dataset.scope = chosen.key;
  document.body.dataset.freshness = groups.freshness ?? "";
  document.body.dataset.gapsFreshness = groups.skill_gaps_freshness ?? "";
  document.body.dataset.state = "ready";
  return true;
}

// ---- rendering -------------------------------------------------------------------------------

function renderTotals(analytics) { // undefined: the chosen group could not be read
  setText("learners", analytics ? String(analytics.learners) : "—");
  setText("sessions", analytics ? String(analytics.sessions_completed) : "—");
  setText("average-score", formatScore(analytics?.average_overall_score));
}

function barChart(id, indexAxis, label, backgroundColor, suggestedMax) {
  return new Chart($(id), {
    type: "bar",
    data: { labels: [], datasets: [{ label, data: [], backgroundColor }] },
    options: {
      indexAxis,
      animation: false,
      maintainAspectRatio: false,
      plugins: { legend: { display: false } },
      scales: indexAxis === "y" ? { x: { beginAtZero: true, suggestedMax } }
                                : { y: { beginAtZero: true, ticks: { precision: 0 } } },
    },
  });
}

function setChart(chart, labels, values) {
  chart.data.labels = labels;
  chart.data.datasets[0].data = values;
  chart.update("none");
}

function renderCharts(analytics, gaps) {
  const charts = state.charts;
  charts.difficulty ??= barChart("difficulty-chart", "x", "Learners", COLORS);
  charts.skills ??= barChart("skills-chart", "y", "Average score", COLORS[2], 100);
  charts.gaps ??= barChart("gaps-chart", "y", "Average gap", "#d9653b");

  const levels = ["1", "2", "3", "4", "5"];
  setChart(charts.difficulty, levels.map((d) => `Level ${d}`),
           levels.map((d) => analytics?.difficulty_distribution[d] ?? 0));

  const skills = Object.entries(analytics?.skill_averages ?? {}).sort((a, b) => b[1] - a[1]);
  $("skills-box").style.height = `${Math.max(12, skills.length * 1.35 + 3)}rem`;
  setChart(charts.skills, skills.map(([skill]) => skill), skills.map(([, avg]) => avg));
  charts.skills.resize();

  const rows = gaps ? gaps.gaps : [];
  setChart(charts.gaps, rows.map((g) => g.skill), rows.map((g) => g.average_gap));
  $("gaps-note").hidden = rows.length > 0;
  $("gaps-note").textContent = rows.length ? ""
    : gaps || analytics ? "No current learner has a skill gap here." : "Not available.";
}

function renderCohorts(cohorts) {
  const body = $("cohorts").tBodies[0];
  body.replaceChildren(...cohorts.map((c) => {
    const row = document.createElement("tr");
    row.dataset.cohort = c.cohort_id;
    if (state.scope === `cohort:${c.cohort_id}`) row.classList.add("selected");
    row.addEventListener("click", () => choose(`cohort:${c.cohort_id}`));
    if (c.error) { // listed, but its analytics could not be read: say so in its row
      row.dataset.error = String(c.error.status ?? "network");
      row.classList.add("failed");
      row.insertCell().textContent = c.cohort_id;
      const cell = row.insertCell();
      cell.colSpan = 4;
      cell.textContent = `not available (${c.error.message})`;
      return row;
    }
    const cells = [
      [c.cohort_id, "cohort"], [c.enterprise_ids.join(", ") || "—", "enterprise"],
      [String(c.learners), "learners num"], [String(c.sessions_completed), "sessions num"],
      [formatScore(c.average_overall_score), "average-score num"],
    ];
    for (const [text, className] of cells) {
      const cell = row.insertCell();
      cell.textContent = text;
      cell.className = className;
    }
    return row;
  }));
}

function choose(scopeKey) {
  state.scope = scopeKey;
  refresh(true);
}

// ---- start -------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  $("sign-in-form").addEventListener("submit", (event) => {
    event.preventDefault();
    signIn($("token").value);
  });
  $("sign-out").addEventListener("click", () => signOut(""));
  $("scope").addEventListener("change", (event) => choose(event.target.value));
  if (typeof Chart === "undefined") {
    showError("The chart library is missing: run `make setup` (it vendors Chart.js).");
    return;
  }
  document.body.dataset.refreshSeconds = String(REFRESH_SECONDS);
  const linkProblem = takeTokenFromUrl();
  if (linkProblem) {
    signOut(linkProblem);
    return;
  }
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) signIn(saved);
});
