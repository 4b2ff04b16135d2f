/** Settings → Business hours: a weekly editor (each day closed or open in one or more ranges) in the
 * workspace's time zone. Outside these hours the widget says the team is away and offers the offline form. */
import { t } from "../i18n";
import { request } from "./api";
import { clear, h } from "../shared/dom";
import { icon } from "./icons";
import { busy, field } from "./settings_form";
import type { Workspace } from "./settings_widget";
import { toast } from "./toast";

export const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;
export type Day = (typeof DAYS)[number];
export type Range = [string, string];
export type Hours = Partial<Record<Day, Range[]>>;
/** The editor's state: each day open (with ranges) or closed. */
export type Week = Record<Day, { open: boolean; ranges: Range[] }>;

const T = {
  title: t("Business hours"),
  intro: t("When your team answers. Outside these hours the widget says you are away and visitors can leave a message."),
  timeZone: t("Time zone"),
  timeZoneHelp: t("Hours are in this time zone, whatever the visitor's."),
  always: t("Always open"),
  set: t("Open on set hours"),
  days: {
    mon: t("Monday"), tue: t("Tuesday"), wed: t("Wednesday"), thu: t("Thursday"), fri: t("Friday"),
    sat: t("Saturday"), sun: t("Sunday"),
  } as Record<Day, string>,
  open: t("Open"),
  closed: t("Closed"),
  from: t("Opens at"),
  to: t("Closes at"),
  addRange: t("Add hours"),
  removeRange: t("Remove these hours"),
  copyWeekdays: t("Copy Monday to Tuesday–Friday"),
  save: t("Save hours"),
  saved: t("Business hours saved."),
  failed: t("Could not save the business hours."),
  empty: t("Give the opening hours, or mark the day closed."),
  days_legend: t("Opening hours"),
};

const DEFAULT_RANGE: Range = ["09:00", "17:00"];

export function weekFromHours(hours: Hours): Week {
  const week = {} as Week;
  for (const day of DAYS) {
    const ranges = hours[day] || [];
    week[day] = { open: ranges.length > 0, ranges: ranges.length ? ranges.map((r) => [r[0], r[1]] as Range) : [[...DEFAULT_RANGE]] };
  }
  return week;
}

/** The `business_hours` the API takes: open days with their ranges, sorted; closed days left out. */
export function hoursFromWeek(week: Week): Hours {
  const hours: Hours = {};
  for (const day of DAYS) {
    if (!week[day].open) continue;
    hours[day] = week[day].ranges.map((r) => [r[0], r[1]] as Range).sort((a, b) => a[0].localeCompare(b[0]));
  }
  return hours;
}

/** What is wrong with each day, before asking the server (which checks the same). */
export function weekProblems(week: Week): Partial<Record<Day, string>> {
  const out: Partial<Record<Day, string>> = {};
  for (const day of DAYS) {
    if (!week[day].open) continue;
    const ranges = [...week[day].ranges].sort((a, b) => a[0].localeCompare(b[0]));
    if (!ranges.length || ranges.some((r) => !r[0] || !r[1])) {
      out[day] = T.empty;
      continue;
    }
    const bad = ranges.find((r) => r[0] >= r[1]);
    if (bad) {
      out[day] = t("{from}–{to} closes before it opens.", { from: bad[0], to: bad[1] });
      continue;
    }
    for (let i = 1; i < ranges.length; i++) {
      if (ranges[i][0] < ranges[i - 1][1]) {
        out[day] = t("{a} and {b} overlap.", { a: ranges[i - 1].join("–"), b: ranges[i].join("–") });
        break;
      }
    }
  }
  return out;
}

/** The weekday and "HH:MM" of `at` in time zone `zone`. */
export function localDayTime(at: Date, zone: string): { day: Day; time: string } {
  const parts = new Intl.DateTimeFormat("en-GB", { timeZone: zone, weekday: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23" })
    .formatToParts(at);
  const get = (type: string) => parts.find((p) => p.type === type)?.value || "";
  const day = get("weekday").slice(0, 3).toLowerCase() as Day;
  return { day, time: `${get("hour")}:${get("minute")}` };
}

/** Whether `hours` (none = always open) are open at `at` in `zone`, as the server decides it. */
export function openAt(hours: Hours, zone: string, at: Date): boolean {
  if (!Object.keys(hours).length) return true;
  const { day, time } = localDayTime(at, zone);
  return (hours[day] || []).some((r) => r[0] <= time && time < r[1]);
}

export function timeZones(current: string): string[] {
  const intl = Intl as unknown as { supportedValuesOf?: (key: string) => string[] };
  const zones = intl.supportedValuesOf ? intl.supportedValuesOf("timeZone") : [];
  return [...new Set(["UTC", current, ...zones])].sort((a, b) => (a === "UTC" ? -1 : b === "UTC" ? 1 : a.localeCompare(b)));
}

export class HoursSettings {
  el: HTMLElement;

  constructor() {
    this.el = h("section", { class: "settings-section", "aria-labelledby": "settings-hours-title" });
  }

  async load(): Promise<void> {
    const ws = await request<Workspace>("GET", "/workspace");
    this.render(ws);
  }

  private render(ws: Workspace): void {
    clear(this.el);
    const week = weekFromHours(ws.business_hours as Hours);
    const zone = h("select", { class: "select", name: "time_zone" },
      ...timeZones(ws.time_zone).map((z) => h("option", { value: z, selected: z === ws.time_zone }, z.replace(/_/g, " "))));
    const always = h("input", { type: "radio", name: "hours_mode", value: "always", checked: !Object.keys(ws.business_hours).length });
    const set = h("input", { type: "radio", name: "hours_mode", value: "set", checked: Object.keys(ws.business_hours).length > 0 });
    const rows = h("div", { class: "week", role: "group", "aria-label": T.days_legend });
    const status = h("p", { class: "hours-status", role: "status" });
    const save = h("button", { type: "submit", class: "btn primary" }, T.save);

    const current = (): Hours => (always.checked ? {} : hoursFromWeek(week));
    const refresh = () => {
      rows.hidden = always.checked;
      copy.hidden = always.checked;
      const problems = always.checked ? {} : weekProblems(week);
      for (const day of DAYS) {
        const slot = rows.querySelector<HTMLElement>(`[data-day-error="${day}"]`);
        if (slot) {
          slot.textContent = problems[day] || "";
          slot.hidden = !problems[day];
        }
      }
      const now = new Date();
      const { day, time } = localDayTime(now, zone.value);
      const when = `${T.days[day]} ${time}`;
      const open = openAt(current(), zone.value, now);
      status.textContent = open ? t("With these hours you are open now ({when} in {zone}).", { when, zone: zone.value })
        : t("With these hours you are closed now ({when} in {zone}).", { when, zone: zone.value });
      status.className = `hours-status ${open ? "open" : "closed"}`;
    };
    const drawDay = (day: Day): HTMLElement => {
      const state = week[day];
      const toggle = h("input", { type: "checkbox", name: `open-${day}`, checked: state.open, "aria-label": `${T.days[day]}: ${T.open}` });
      const ranges = h("div", { class: "day-ranges" });
      const line = h("div", { class: `day${state.open ? "" : " closed"}`, "data-day": day },
        h("label", { class: "day-name" }, toggle, T.days[day]), ranges,
        h("p", { class: "field-error day-error", "data-day-error": day, hidden: true }));
      const redraw = () => {
        clear(ranges);
        line.classList.toggle("closed", !state.open);
        if (!state.open) {
          ranges.append(h("span", { class: "muted" }, T.closed));
          return;
        }
        state.ranges.forEach((range, i) => {
          const from = h("input", { type: "time", class: "input time", value: range[0], "aria-label": `${T.days[day]} ${T.from}`, "data-range": `${day}-${i}-from` });
          const to = h("input", { type: "time", class: "input time", value: range[1], "aria-label": `${T.days[day]} ${T.to}`, "data-range": `${day}-${i}-to` });
          from.addEventListener("input", () => { range[0] = from.value; refresh(); });
          to.addEventListener("input", () => { range[1] = to.value; refresh(); });
          const remove = h("button", { type: "button", class: "btn icon-btn", title: T.removeRange, "aria-label": `${T.removeRange} (${T.days[day]})`, disabled: state.ranges.length === 1 }, icon("x", 14));
          remove.addEventListener("click", () => { state.ranges.splice(i, 1); redraw(); refresh(); });
          ranges.append(h("div", { class: "range" }, from, h("span", { class: "muted", "aria-hidden": "true" }, "–"), to, remove));
        });
        if (state.ranges.length < 6) {
          ranges.append(h("button", { type: "button", class: "link small", "data-add": day, onclick: () => {
            const last = state.ranges[state.ranges.length - 1];
            const start = last ? bump(last[1]) : DEFAULT_RANGE[0];
            state.ranges.push(start < "23:00" ? [start, "23:59"] : [...DEFAULT_RANGE]);
            redraw();
            refresh();
          } }, `+ ${T.addRange}`));
        }
      };
      toggle.addEventListener("change", () => { state.open = toggle.checked; redraw(); refresh(); });
      redraw();
      return line;
    };
    for (const day of DAYS) rows.append(drawDay(day));
    const copy = h("button", { type: "button", class: "btn small", onclick: () => {
      for (const day of ["tue", "wed", "thu", "fri"] as Day[]) {
        week[day] = { open: week.mon.open, ranges: week.mon.ranges.map((r) => [r[0], r[1]] as Range) };
        rows.querySelector(`[data-day="${day}"]`)?.replaceWith(drawDay(day));
      }
      refresh();
    } }, T.copyWeekdays);
    always.addEventListener("change", refresh);
    set.addEventListener("change", refresh);
    zone.addEventListener("change", refresh);

    const form = h("form", { class: "settings-form", novalidate: true },
      h("div", { class: "settings-fields" },
        field(T.timeZone, zone, { name: "time_zone", help: T.timeZoneHelp }),
        h("div", { class: "segmented hours-mode", role: "radiogroup", "aria-label": T.title },
          h("label", null, always, T.always), h("label", null, set, T.set)),
        rows, copy,
        h("p", { class: "field-error", "data-error-for": "business_hours", hidden: true }),
        status),
      h("div", { class: "settings-actions" }, save));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      if (!always.checked && Object.keys(weekProblems(week)).length) {
        rows.querySelector<HTMLElement>(".day-error:not([hidden])")?.scrollIntoView({ block: "center" });
        return;
      }
      void busy(save, form, T.failed, () => request<Workspace>("PATCH", "/workspace", { time_zone: zone.value, business_hours: current() }))
        .then((saved) => { if (saved) toast(T.saved); });
    });
    this.el.append(
      h("header", { class: "settings-head" }, h("h2", { id: "settings-hours-title" }, T.title), h("p", { class: "muted" }, T.intro)),
      form);
    refresh();
  }
}

/** An hour after "HH:MM" (for a new range after the last one). */
function bump(time: string): string {
  const [hh, mm] = time.split(":").map(Number);
  return `${String(Math.min(hh + 1, 23)).padStart(2, "0")}:${String(mm).padStart(2, "0")}`;
}
