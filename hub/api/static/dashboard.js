// Enterprise dashboard: reads the read API with the signed-in user's bearer token, so it shows
// only what the API grants that token. Charts are Chart.js (vendored by `make setup`).
"use strict";

const API = "/api/v1/profiler/admin";
const TOKEN_KEY = "hub.dashboard.token";
const params = new URLSearchParams(location.search);
// How often to ask whether new events were applied (seconds); `?refresh=` overrides.
const REFRESH_SECONDS = Math.max(1, Number(params.get("refresh")) || 10);
const COLORS = ["#9cc3f5", "#6aa5ef", "#2f6fde", "#1f4fa8", "#14306a"];

const $ = (id) => document.getElementById(id);
const state = {
  token: null, groupsKey: null, scope: null, charts: {}, timer: null, loads: 0, generation: 0,
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

function takeTokenFromUrl() {
  // `#token=…` is passed once and removed at once: fragments never reach a server or a log.
  const match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (!match) return;
  sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
  history.replaceState(null, "", location.pathname + location.search);
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
  Object.assign(state, { token: null, groupsKey: null, scope: null });
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

function analyticsPaths(option) {
  const id = encodeURIComponent(option.id);
  return option.kind === "enterprise"
    ? [`${API}/enterprise/analytics?enterprise_id=${id}`,
       `${API}/enterprise/skill-gaps?enterprise_id=${id}&limit=10`]
    : [`${API}/cohorts/${id}/analytics`, `${API}/cohorts/${id}/skill-gaps?limit=10`];
}

async function loadGaps(path) {
  try {
    return await api(path);
  } catch (error) {
    if (error.status === 404) return null; // no current learner: no gaps to show
    throw error;
  }
}

async function refresh(force) {
  clearTimeout(state.timer);
  try {
    const groups = await api(`${API}/groups`);
    const key = JSON.stringify(groups);
    if ((force || key !== state.groupsKey) && await render(groups)) state.groupsKey = key;
    showError("");
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
    showError("No cohort or enterprise analytics are visible to this token yet.");
    return true;
  }
  const chosen = options.find((o) => o.key === state.scope) ?? options[0];
  state.scope = chosen.key;
  select.value = chosen.key;

  const [analyticsPath, gapsPath] = analyticsPaths(chosen);
  const [analytics, gaps, cohorts] = await Promise.all([
    api(analyticsPath),
    loadGaps(gapsPath),
    Promise.all(groups.cohorts.map((c) => api(`${API}/cohorts/${encodeURIComponent(c.cohort_id)}/analytics`))),
  ]);
  if (generation !== state.generation) return false;
  renderTotals(analytics);
  renderCharts(analytics, gaps);
  renderCohorts(cohorts);
  state.loads += 1;
  document.body.dataset.loads = String(state.loads);
  document.body.dataset.scope = chosen.key;
  document.body.dataset.freshness = groups.freshness ?? "";
  document.body.dataset.gapsFreshness = groups.skill_gaps_freshness ?? "";
  document.body.dataset.state = "ready";
  return true;
}

// ---- rendering -------------------------------------------------------------------------------

function renderTotals(analytics) {
  setText("learners", String(analytics.learners));
  setText("sessions", String(analytics.sessions_completed));
  setText("average-score", formatScore(analytics.average_overall_score));
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
           levels.map((d) => analytics.difficulty_distribution[d] ?? 0));

  const skills = Object.entries(analytics.skill_averages).sort((a, b) => b[1] - a[1]);
  $("skills-box").style.height = `${Math.max(12, skills.length * 1.35 + 3)}rem`;
  setChart(charts.skills, skills.map(([skill]) => skill), skills.map(([, avg]) => avg));
  charts.skills.resize();

  const rows = gaps ? gaps.gaps : [];
  setChart(charts.gaps, rows.map((g) => g.skill), rows.map((g) => g.average_gap));
  $("gaps-note").hidden = rows.length > 0;
  $("gaps-note").textContent = rows.length ? "" : "No current learner has a skill gap here.";
}

function renderCohorts(cohorts) {
  const body = $("cohorts").tBodies[0];
  body.replaceChildren(...cohorts.map((c) => {
    const row = document.createElement("tr");
    row.dataset.cohort = c.cohort_id;
    if (state.scope === `cohort:${c.cohort_id}`) row.classList.add("selected");
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
    row.addEventListener("click", () => choose(`cohort:${c.cohort_id}`));
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
  takeTokenFromUrl();
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) signIn(saved);
});
