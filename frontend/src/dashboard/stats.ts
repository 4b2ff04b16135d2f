/** The live statistics page (owners and admins): what is waiting now, response times, activity charts. */
import { api, ApiError, type Summary } from "./api";
import { barChart, type Bar } from "./charts";
import { clear, h } from "../shared/dom";
import { icon } from "./icons";
import { duration } from "./format";
import { store } from "./store";
import { locale, t, tn } from "../i18n";

const REFRESH_MS = 15000;

interface Normalized {
  open: number;
  waiting: number;
  online: number;
  firstResponse: number | null;
  resolution: number | null;
  resolvedToday: number | null;
  newToday: number | null;
  byHour: Bar[];
  byDay: Bar[];
  /** The hour of day now in the workspace's time zone (its bar is highlighted). */
  hourNow: number;
}

function hourIn(timeZone: string | undefined): number {
  try {
    return Number(new Intl.DateTimeFormat("en-GB", { hour: "numeric", hourCycle: "h23", timeZone }).format(new Date()));
  } catch {
    return new Date().getHours();
  }
}

function num(...values: unknown[]): number | null {
  for (const v of values) {
    if (typeof v === "number" && Number.isFinite(v)) return v;
    if (v && typeof v === "object") {
      const o = v as Record<string, unknown>;
      const inner = num(o.count, o.value, o.seconds, o.median_seconds, o.avg_seconds, o.average_seconds);
      if (inner !== null) return inner;
    }
  }
  return null;
}

function seriesValue(row: Record<string, unknown>): number {
  return num(row.conversations, row.count, row.new, row.value, row.messages) ?? 0;
}

/** Reads the summary defensively: a missing figure shows as "—", never as a crash. */
export function normalize(s: Summary): Normalized {
  const o = s as Record<string, unknown>;
  const now = (o.now || {}) as Record<string, unknown>;
  const today = (o.today || {}) as Record<string, unknown>;
  const hours = (Array.isArray(o.by_hour_today) ? o.by_hour_today : Array.isArray(o.by_hour) ? o.by_hour : []) as Record<string, unknown>[];
  const days = (Array.isArray(o.by_day_30d) ? o.by_day_30d : Array.isArray(o.by_day) ? o.by_day : []) as Record<string, unknown>[];
  const byHour: Bar[] = hours.map((r, i) => {
    const raw = r.hour ?? i;
    const hour = typeof raw === "number" ? raw : Number(String(raw).slice(11, 13) || String(raw).slice(0, 2)) || i;
    return { label: `${String(hour).padStart(2, "0")}h`, value: seriesValue(r), title: tn("{hour}:00 — {n} conversation", "{hour}:00 — {n} conversations", seriesValue(r), { hour: String(hour).padStart(2, "0") }) };
  });
  const byDay: Bar[] = days.map((r) => {
    const day = String(r.day ?? r.date ?? "");
    const d = new Date(`${day.slice(0, 10)}T12:00:00`);
    const label = Number.isNaN(d.getTime()) ? day : d.toLocaleDateString(locale(), { month: "short", day: "numeric" });
    return { label, value: seriesValue(r), title: tn("{day} — {n} conversation", "{day} — {n} conversations", seriesValue(r), { day: label }) };
  });
  return {
    open: num(o.open_now, o.open, now.open) ?? 0,
    waiting: num(o.waiting_now, o.waiting, now.waiting) ?? 0,
    online: num(o.online_agents, o.agents_online, now.online_agents) ?? 0,
    firstResponse: num(today.first_response_median_seconds, o.first_response_seconds_today, today.first_response_seconds),
    resolution: num(today.resolution_median_seconds, o.resolution_seconds_today, today.resolution_seconds),
    resolvedToday: num(o.resolved_today, today.resolved),
    newToday: num(o.new_today, o.conversations_today, today.new, today.conversations),
    byHour,
    byDay,
    hourNow: hourIn(typeof o.time_zone === "string" ? o.time_zone : undefined),
  };
}

function tile(label: string, value: string, sub: string, tone = ""): HTMLElement {
  return h("div", { class: `tile ${tone}` }, h("div", { class: "tile-label" }, label), h("div", { class: "tile-value" }, value),
    h("div", { class: "tile-sub" }, sub));
}

export class StatsPage {
  el: HTMLElement;
  private body: HTMLElement;
  private updated: HTMLElement;
  private timer = 0;
  private pending = false;
  private unsub: (() => void) | null = null;
  private lastEventRefresh = 0;
  private last: Normalized | null = null;
  private resizeTimer = 0;
  private onResize = () => {
    clearTimeout(this.resizeTimer);
    this.resizeTimer = window.setTimeout(() => this.last && this.render(this.last), 200);
  };

  constructor() {
    this.updated = h("span", { class: "muted small live-dot" });
    this.body = h("div", { class: "stats-body" });
    this.el = h("section", { class: "stats", "aria-label": t("Statistics") },
      h("header", { class: "stats-head" }, h("div", null, h("h1", null, t("Live statistics")),
        h("p", { class: "muted" }, t("Today, in your workspace's time zone. Updates on its own."))), this.updated),
      this.body);
  }

  start(): void {
    this.stop();
    this.updated.hidden = false;
    if (store.me && store.me.role === "agent") {
      // Nothing live to show: no "Live · updated" line either.
      this.updated.hidden = true;
      clear(this.body);
      this.body.append(h("div", { class: "empty big" }, icon("chart", 40), h("h2", null, t("Owners and admins only")),
        h("p", null, t("Ask an admin of your workspace for access to statistics."))));
      return;
    }
    void this.refresh();
    this.timer = window.setInterval(() => void this.refresh(), REFRESH_MS);
    // Inbox activity makes the figures stale sooner than the timer: refresh, at most every 3 s.
    const soon = () => {
      if (Date.now() - this.lastEventRefresh > 3000) {
        this.lastEventRefresh = Date.now();
        window.setTimeout(() => void this.refresh(), 500);
      }
    };
    window.addEventListener("resize", this.onResize);
    const offConversations = store.on("conversations", soon);
    const offAgents = store.on("agents", soon);
    this.unsub = () => {
      offConversations();
      offAgents();
    };
  }

  stop(): void {
    clearInterval(this.timer);
    window.removeEventListener("resize", this.onResize);
    this.unsub?.();
    this.unsub = null;
  }

  async refresh(): Promise<void> {
    if (this.pending) return;
    this.pending = true;
    try {
      this.render(normalize(await api.summary()));
      this.updated.textContent = t("Live · updated {time}", { time: new Date().toLocaleTimeString(locale(), { hour: "2-digit", minute: "2-digit", second: "2-digit" }) });
      this.updated.classList.remove("stale");
    } catch (err) {
      this.updated.textContent = err instanceof ApiError && err.status === 403
        ? t("Only owners and admins can see statistics.") : t("Can't refresh right now — showing the last figures.");
      this.updated.classList.add("stale");
      if (!this.body.firstChild) this.body.append(h("div", { class: "empty big" }, icon("chart", 40), h("p", null, this.updated.textContent)));
    } finally {
      this.pending = false;
    }
  }

  /** The inner width of one chart card: two cards side by side when there is room (see .charts in styles.css). */
  private chartWidth(): number | undefined {
    const total = this.body.clientWidth;
    if (!total) return undefined;
    const columns = total >= 2 * 420 + 14 ? 2 : 1;
    return (total - (columns - 1) * 14) / columns - 2 * 18 - 2;
  }

  private render(n: Normalized): void {
    this.last = n;
    const width = this.chartWidth();
    clear(this.body);
    this.body.append(
      h("div", { class: "tiles" },
        tile(t("Open now"), String(n.open), n.newToday !== null ? t("{n} new today", { n: n.newToday }) : t("all open conversations")),
        tile(t("Waiting for an agent"), String(n.waiting), t("open and not yet taken"), n.waiting > 0 ? "warn" : ""),
        tile(t("Agents online"), String(n.online), t("of {n} in the workspace", { n: store.agents.size || "—" }), n.online > 0 ? "ok" : "warn"),
        tile(t("First response today"), duration(n.firstResponse), t("median time to first reply")),
        tile(t("Resolution today"), duration(n.resolution), n.resolvedToday !== null ? t("{n} resolved today", { n: n.resolvedToday }) : t("median time to resolve"))),
      h("div", { class: "charts" },
        h("div", { class: "card" }, h("h3", null, t("Conversations by hour, today")),
          n.byHour.length ? barChart(n.byHour, { labelEvery: 3, highlight: n.hourNow, width, label: t("Conversations by hour, today") }) : h("p", { class: "muted" }, t("No data yet."))),
        h("div", { class: "card" }, h("h3", null, t("Conversations by day, last 30 days")),
          n.byDay.length ? barChart(n.byDay, { labelEvery: 5, highlight: n.byDay.length - 1, width, label: t("Conversations by day, last 30 days") }) : h("p", { class: "muted" }, t("No data yet.")))),
    );
  }
}
