// Runway view: funding runway per payer account from GET /api/costs, which
// needs a bearer token. The token lives in sessionStorage only, so it is gone
// when the tab closes.

import { ApiError, getJson } from "./api.js";
import { Chart, seriesColour } from "./charts.js";
import { clear, el, timeStamp } from "./dom.js";
import {
  formatAmount,
  formatDateTime,
  isNumber,
  shortAddress,
} from "./format.js";
import { Panel, refreshPanel } from "./panel.js";

const TOKEN_KEY = "beamwatch.apiToken";

function formatDays(days) {
  if (!isNumber(days)) return "∞";
  return days < 10 ? days.toFixed(1) : Math.floor(days).toString();
}

function detail(label, value) {
  const row = el("div", "detail");
  const dd = el("dd");
  if (value instanceof Node) dd.append(value);
  else dd.textContent = value;
  row.append(el("dt", "", label), dd);
  return row;
}

function renderAccount(account, warningDays) {
  const low =
    isNumber(account.runway_days) && account.runway_days < warningDays;
  const card = el("article", `account ${low ? "is-low" : "is-funded"}`);
  card.dataset.payer = account.payer;
  const title = el(
    "h3",
    "account-title",
    `${account.network} · ${shortAddress(account.payer)} · ${account.token}`,
  );
  title.title = account.payer;

  const days = el("div", "runway-days");
  const short = isNumber(account.runway_days) && account.runway_days < 0;
  const daysText = formatDays(
    short ? -account.runway_days : account.runway_days,
  );
  // A negative runway means the free funds ran out that many days ago.
  days.append(
    el("span", "days-value", daysText),
    el("span", "days-unit", short ? "days short" : "days left"),
  );
  if (!isNumber(account.runway_days))
    days.append(el("span", "days-note", "no lockup rate: not spending"));

  const details = el("dl", "details");
  details.append(
    detail(
      "funded until",
      isNumber(account.funded_until_ms)
        ? formatDateTime(account.funded_until_ms)
        : "–",
    ),
    detail("funds", formatAmount(account.funds, account.token)),
    detail("locked now", formatAmount(account.lockup_current, account.token)),
    detail(
      "lockup rate",
      `${formatAmount(account.lockup_rate_per_day, account.token)} / day`,
    ),
    detail("updated", timeStamp(account.updated_ms)),
  );
  card.append(title, days, details);
  return card;
}

function spendData(accounts) {
  const days = [
    ...new Set(
      accounts.flatMap((a) => (a.daily_spend || []).map((d) => d.day)),
    ),
  ].sort();
  const datasets = accounts.map((account, index) => {
    const byDay = new Map(
      (account.daily_spend || []).map((d) => [
        d.day,
        Number.parseFloat(d.spend),
      ]),
    );
    return {
      label: `${account.network} ${shortAddress(account.payer)} (${account.token})`,
      data: days.map((day) => byDay.get(day) ?? null),
      backgroundColor: seriesColour(index),
      borderWidth: 0,
    };
  });
  return { labels: days, datasets };
}

function createSpendChart(canvas) {
  return new Chart(canvas, {
    type: "bar",
    data: { labels: [], datasets: [] },
    options: {
      scales: {
        y: {
          beginAtZero: true,
          title: { display: true, text: "spend per day" },
        },
      },
      plugins: {
        legend: { position: "top", align: "start" },
        title: { display: true, text: "daily spend", align: "start" },
      },
    },
  });
}

export function createRunway() {
  const section = document.getElementById("runway-panel");
  const panel = new Panel(section);
  const body = document.getElementById("runway-body");
  const form = document.getElementById("runway-token-form");
  const input = document.getElementById("runway-token");
  const note = document.getElementById("runway-note");
  const chartBox = document.getElementById("runway-chart-box");
  let chart = null;

  function askForToken(message) {
    clear(body);
    body.append(el("p", "token-message", message));
    form.hidden = false;
    chartBox.hidden = true;
    section.classList.remove("runway-low");
    note.textContent = "token required";
  }

  function render(data) {
    form.hidden = true;
    clear(body);
    const warningDays = data.runway_warning_days;
    const accounts = data.accounts || [];
    const low = accounts.some(
      (a) => isNumber(a.runway_days) && a.runway_days < warningDays,
    );
    section.classList.toggle("runway-low", low);
    note.textContent = `red under ${warningDays} days`;
    if (accounts.length === 0) {
      body.append(el("p", "empty-note", "No funds readings stored yet."));
      chartBox.hidden = true;
      return;
    }
    const list = el("div", "accounts");
    for (const account of accounts)
      list.append(renderAccount(account, warningDays));
    body.append(list);
    chartBox.hidden = false;
    chart ??= createSpendChart(document.getElementById("runway-chart"));
    chart.data = spendData(accounts);
    chart.update();
  }

  async function load() {
    const token = sessionStorage.getItem(TOKEN_KEY);
    const headers = token ? { Authorization: `Bearer ${token}` } : {};
    try {
      render(await getJson("/api/costs", headers));
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 401) throw error;
      if (token) sessionStorage.removeItem(TOKEN_KEY);
      askForToken(
        token
          ? `Token rejected: ${error.message}`
          : `Token required: ${error.message}`,
      );
    }
  }

  const refresh = () => refreshPanel(panel, load);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (!token) return;
    sessionStorage.setItem(TOKEN_KEY, token);
    input.value = "";
    refresh();
  });
  return { panel, refresh };
}
