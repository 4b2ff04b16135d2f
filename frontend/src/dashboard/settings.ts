/** The settings (/app/settings/<section>), for owners and admins: a list of sections on the left,
 * the chosen one on the right. Each section loads its data from the REST API when opened. */
import { t } from "../i18n";
import { ApiError } from "./api";
import { clear, h } from "../shared/dom";
import { navigate } from "./router";
import { TokenSettings, WebhookSettings } from "./settings_dev";
import { HoursSettings } from "./settings_hours";
import { cannedSettings, labelSettings, teamSettings } from "./settings_lists";
import { TeamSettings } from "./settings_team";
import { WidgetSettings } from "./settings_widget";
import { store } from "./store";
import "./settings.css";

const T = {
  title: t("Settings"),
  nav: t("Settings sections"),
  forbidden: t("Only the workspace's owners and admins can change its settings."),
  loadFailed: t("Could not load this section. Check your connection and try again."),
  retry: t("Retry"),
  widget: t("Workspace & widget"),
  hours: t("Business hours"),
  team: t("Teammates"),
  tokens: t("API tokens"),
  teams: t("Teams"),
  labels: t("Labels"),
  canned: t("Canned responses"),
  webhooks: t("Webhooks"),
  billing: t("Billing"),
  billingIntro: t("Your plan, seats, usage and invoices."),
  billingOpen: t("Open billing"),
  billingOwnerOnly: t("Only the workspace owner manages billing."),
  admin: t("Advanced settings (admin)"),
};

export interface SettingsSection {
  el: HTMLElement;
  load(): Promise<void>;
}

interface SectionDef {
  id: string;
  label: string;
  make: () => SettingsSection;
}

class BillingSection implements SettingsSection {
  el = h("section", { class: "settings-section", "aria-labelledby": "settings-billing-title" });

  async load(): Promise<void> {
    clear(this.el);
    const owner = store.me?.role === "owner";
    this.el.append(
      h("header", { class: "settings-head" }, h("h2", { id: "settings-billing-title" }, T.billing), h("p", { class: "muted" }, T.billingIntro)),
      h("div", { class: "settings-card" },
        owner ? h("a", { class: "btn primary", href: "/billing/" }, T.billingOpen) : h("p", { class: "muted" }, T.billingOwnerOnly)));
  }
}

/** The sections in the order the nav lists them; the first is the default. */
export const SECTIONS: SectionDef[] = [
  { id: "widget", label: T.widget, make: () => new WidgetSettings() },
  { id: "hours", label: T.hours, make: () => new HoursSettings() },
  { id: "team", label: T.team, make: () => new TeamSettings() },
  { id: "teams", label: T.teams, make: teamSettings },
  { id: "labels", label: T.labels, make: labelSettings },
  { id: "canned", label: T.canned, make: cannedSettings },
  { id: "webhooks", label: T.webhooks, make: () => new WebhookSettings() },
  { id: "tokens", label: T.tokens, make: () => new TokenSettings() },
  { id: "billing", label: T.billing, make: () => new BillingSection() },
];

export function sectionFor(id: string): SectionDef {
  return SECTIONS.find((s) => s.id === id) || SECTIONS[0];
}

export class SettingsPage {
  el: HTMLElement;
  private nav: HTMLElement;
  private content: HTMLElement;
  private made = new Map<string, SettingsSection>();

  constructor() {
    this.nav = h("nav", { class: "settings-nav", "aria-label": T.nav });
    this.content = h("div", { class: "settings-content" });
    this.el = h("section", { class: "settings", "aria-labelledby": "settings-title" },
      h("div", { class: "settings-side" }, h("h1", { id: "settings-title" }, T.title), this.nav,
        h("a", { class: "settings-admin-link muted small", href: "/admin/" }, T.admin)),
      this.content);
  }

  /** Shows `section` (its id, or "" for the first). */
  show(section: string): void {
    const def = sectionFor(section);
    clear(this.nav);
    for (const s of SECTIONS) {
      const link = h("a", { href: `/app/settings/${s.id}`, class: "settings-nav-item", "data-section": s.id, "aria-current": s.id === def.id ? "page" : null }, s.label);
      link.addEventListener("click", (e) => {
        e.preventDefault();
        navigate({ name: "settings", section: s.id });
      });
      this.nav.append(link);
    }
    clear(this.content);
    if (store.me?.role !== "owner" && store.me?.role !== "admin") {
      this.content.append(h("p", { class: "settings-forbidden", role: "alert" }, T.forbidden));
      return;
    }
    let made = this.made.get(def.id);
    if (!made) {
      made = def.make();
      this.made.set(def.id, made);
    }
    this.content.append(made.el);
    const opened = made;
    const attempt = () => opened.load().catch((err: unknown) => {
      clear(opened.el);
      const forbidden = err instanceof ApiError && err.status === 403;
      opened.el.append(h("div", { class: "settings-card", role: "alert" },
        h("p", null, forbidden ? T.forbidden : T.loadFailed),
        forbidden ? null : h("button", { type: "button", class: "btn", onclick: () => void attempt() }, T.retry)));
    });
    void attempt();
  }

  start(): void {}

  stop(): void {}
}
