/** The first-run checklist (/app/setup): install the widget (snippet, copy, live install check with a
 * one-click "allow this site"), customise it, invite teammates, send a test message. */
import { request } from "./api";
import { clear, h } from "../shared/dom";
import { icon } from "./icons";
import { toast } from "./toast";
import "./setup.css";
import { t } from "../i18n";

const REFRESH_MS = 4000;

interface Sighting {
  origin: string;
  status: "installed" | "refused";
  allowed: boolean;
  last_seen: string;
}

export interface InstallState {
  snippet: string;
  test_page: string;
  settings_url: string;
  allowed_origins: string[];
  sightings: Sighting[];
  checklist: { install: boolean; customise: boolean; invite: boolean; test_message: boolean };
  can_allow: boolean;
}

/** One line per site the snippet ran on: what the visitor's browser did there, and what to do. */
export function sightingText(s: Sighting): string {
  if (s.status === "installed") return t("Installed on {origin}", { origin: s.origin });
  if (s.allowed) return t("Allowed {origin} — reload that page to see the launcher", { origin: s.origin });
  return t("Refused on {origin} — this site is not in your allowed origins. Allow it?", { origin: s.origin });
}

export class SetupPage {
  el: HTMLElement;
  private body: HTMLElement;
  private timer = 0;
  private state: InstallState | null = null;

  constructor() {
    this.body = h("div", { class: "setup-body" });
    this.el = h("section", { class: "setup", "aria-labelledby": "setup-title" },
      h("header", { class: "setup-head" },
        h("h1", { id: "setup-title" }, t("Get started")),
        h("p", { class: "muted" }, t("Four steps from a new workspace to your first conversation."))),
      this.body);
  }

  start(): void {
    this.stop();
    void this.refresh();
    this.timer = window.setInterval(() => void this.refresh(), REFRESH_MS);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = 0;
  }

  private async refresh(): Promise<void> {
    try {
      this.state = await request<InstallState>("GET", "/install-check");
    } catch {
      return; // the next tick tries again; what is shown stays
    }
    // Re-render only when something changed, so a half-selected snippet is not reset.
    const key = JSON.stringify(this.state);
    if (this.el.dataset.state === key) return;
    this.el.dataset.state = key;
    this.render(this.state);
  }

  private async allow(origin: string): Promise<void> {
    try {
      await request("POST", "/allowed-origins", { origin });
      toast(t("{origin} may now show the widget. Reload that page to check.", { origin }));
    } catch (err) {
      toast(err instanceof Error ? err.message : t("Could not allow this site."), "error");
    }
    await this.refresh();
  }

  private render(s: InstallState): void {
    clear(this.body);
    const done = Object.values(s.checklist).filter(Boolean).length;
    this.body.append(h("p", { class: "setup-progress" }, t("{done} of {total} done", { done, total: 4 })));
    const copy = h("button", { type: "button", class: "btn", "data-copy": "snippet" }, t("Copy"));
    copy.addEventListener("click", () => {
      void navigator.clipboard.writeText(s.snippet).then(
        () => toast(t("Snippet copied. Paste it before </body> on your site.")),
        () => toast(t("Select the snippet and copy it with Ctrl+C."), "error"));
    });
    const sightings = h("ul", { class: "sightings", "aria-live": "polite" });
    if (!s.sightings.length) {
      sightings.append(h("li", { class: "muted" }, t("Waiting for the widget… This updates by itself once a page with the snippet is opened.")));
    }
    for (const sg of s.sightings) {
      const li = h("li", { class: `sighting ${sg.status}${sg.allowed ? " allowed" : ""}`, "data-origin": sg.origin },
        h("span", { class: "sighting-dot", "aria-hidden": "true" }), h("span", null, sightingText(sg)));
      if (sg.status === "refused" && !sg.allowed && s.can_allow) {
        li.append(h("button", { type: "button", class: "btn small", onclick: () => void this.allow(sg.origin) }, t("Allow {origin}", { origin: sg.origin })));
      }
      sightings.append(li);
    }
    const allowed = s.allowed_origins.length
      ? t("Allowed sites: {origins}", { origins: s.allowed_origins.join(", ") })
      : t("No site is allowed yet: the widget will be refused until one is.");
    this.body.append(
      step(s.checklist.install, t("Install the widget"),
        h("p", null, t("Paste this tag before </body> on every page of your website.")),
        h("div", { class: "snippet-row" }, h("code", { class: "snippet" }, s.snippet), copy),
        h("p", { class: "muted small" }, allowed),
        sightings),
      step(s.checklist.customise, t("Customise it"),
        h("p", null, t("Colour, position, greeting and business hours.")),
        s.can_allow ? h("a", { class: "btn ghost", href: s.settings_url }, t("Widget settings")) : h("p", { class: "muted small" }, t("An owner or admin of the workspace can change these."))),
      step(s.checklist.invite, t("Invite teammates"),
        h("p", null, t("Answer together: invite agents and admins by email.")),
        s.can_allow ? h("a", { class: "btn ghost", href: "/app/settings/team" }, t("Invite teammates")) : h("p", { class: "muted small" }, t("An owner or admin of the workspace sends invitations."))),
      step(s.checklist.test_message, t("Send a test message"),
        h("p", null, t("Open a test page with your widget, write a message, and answer it here in the inbox.")),
        h("a", { class: "btn ghost", href: s.test_page, target: "_blank", rel: "noopener" }, t("Open a test page"))),
    );
  }
}

function step(done: boolean, title: string, ...content: Node[]): HTMLElement {
  return h("article", { class: `setup-step${done ? " done" : ""}`, "data-done": String(done) },
    h("div", { class: "step-mark", "aria-hidden": "true" }, done ? icon("check", 16) : ""),
    h("div", { class: "step-body" },
      h("h2", null, title, done ? h("span", { class: "sr-only" }, t(" (done)")) : ""),
      ...content));
}
