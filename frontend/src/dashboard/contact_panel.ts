/** The right-hand panel: who the visitor is, where they are, their local time and past conversations. */
import { api, asList, type Conversation } from "./api";
import { append, clear, h } from "../shared/dom";
import { icon } from "./icons";
import { attributeLabel, browserName, contactName, initials, localTime, relativeTime, statusLabel } from "./format";
import { hue } from "./inbox";
import { navigate } from "./router";
import { locale, t } from "../i18n";

function languageName(code: string): string {
  try {
    const name = new Intl.DisplayNames(locale(), { type: "language" }).of(code);
    return name && name !== code ? `${name} (${code})` : code;
  } catch {
    return code;
  }
}

function row(iconName: "mail" | "globe" | "monitor" | "clock", label: string, value: string | HTMLElement, oneLine = false): HTMLElement {
  return h("div", { class: "kv" }, h("span", { class: "k" }, icon(iconName, 14), label),
    h("span", { class: `v${oneLine ? " one-line" : ""}` }, value || h("span", { class: "muted" }, "—")));
}

export class ContactPanel {
  el: HTMLElement;
  private clockTimer = 0;
  private contactId = "";
  private past: HTMLElement;

  /** Told when the panel opens or closes as an overlay (narrow screens), to keep the header's button in step. */
  onToggle: ((open: boolean) => void) | null = null;

  constructor() {
    this.el = h("aside", { class: "contact-panel", id: "contact-panel", "aria-label": t("Contact details") });
    this.past = h("div", { class: "past" });
    // A click outside the overlay (on the dimmed conversation) closes it.
    document.addEventListener("click", (e) => {
      const target = e.target as Element | null;
      if (this.isOpen() && target && !this.el.contains(target) && !target.closest(".panel-toggle")) this.setOpen(false);
    });
    this.el.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && this.isOpen()) {
        e.preventDefault();
        this.setOpen(false);
      }
    });
  }

  /** On screens too narrow for three columns the panel is an overlay, opened from the conversation header. */
  isOpen(): boolean {
    return this.el.classList.contains("open");
  }

  setOpen(open: boolean): void {
    if (open === this.isOpen()) return;
    this.el.classList.toggle("open", open);
    this.onToggle?.(open);
    if (open) this.el.querySelector<HTMLElement>(".panel-close")?.focus();
    else if (this.el.contains(document.activeElement)) document.querySelector<HTMLElement>(".panel-toggle")?.focus();
  }

  show(conv: Conversation): void {
    clearInterval(this.clockTimer);
    clear(this.el);
    const c = conv.contact;
    const ctx = c.context || {};
    const name = contactName(c);
    const local = h("span", null, localTime(ctx.timezone));
    const clock = ctx.timezone && local.textContent
      ? h("span", { class: "clock" }, local, h("span", { class: "muted small" }, ctx.timezone.replace(/_/g, " "))) : "";
    // The visitor's clock ticks while the panel is open.
    this.clockTimer = window.setInterval(() => (local.textContent = localTime(ctx.timezone)), 30000);
    let page: HTMLElement | string = "";
    if (ctx.page) {
      const safe = /^https?:\/\//i.test(ctx.page);
      page = safe
        ? h("a", { href: ctx.page, target: "_blank", rel: "noopener noreferrer", title: ctx.page }, ctx.title || ctx.page)
        : h("span", { title: ctx.page }, ctx.page);
    }
    const attrs = Object.entries(c.attributes || {}).slice(0, 12);
    append(this.el, [
      h("div", { class: "contact-head" },
        h("span", { class: "avatar lg", style: `--hue:${hue(c.id)}` }, initials(name)),
        h("div", { class: "contact-id" },
          h("div", { class: "contact-name", title: name }, name),
          c.verified ? h("span", { class: "chip ok" }, icon("check", 11), t("Verified")) : h("span", { class: "chip muted" }, t("Anonymous"))),
        h("button", { class: "btn icon-btn panel-close", type: "button", "aria-label": t("Close contact details"), onclick: () => this.setOpen(false) },
          icon("x", 16))),
      h("section", { class: "panel-section" },
        row("mail", t("Email"), c.email ? h("a", { href: `mailto:${c.email}`, title: c.email }, c.email) : "", true),
        row("globe", t("Page"), page, true),
        ctx.browser || ctx.user_agent ? row("monitor", t("Browser"), browserName(ctx.browser || ctx.user_agent)) : null,
        ctx.language ? row("globe", t("Language"), languageName(ctx.language)) : null,
        row("clock", t("Local time"), clock)),
      attrs.length ? h("section", { class: "panel-section" }, h("h3", null, t("Attributes")),
        ...attrs.map(([k, v]) => h("div", { class: "kv" }, h("span", { class: "k", title: k }, attributeLabel(k)), h("span", { class: "v" }, typeof v === "object" && v !== null ? JSON.stringify(v) : String(v))))) : null,
      h("section", { class: "panel-section" }, h("h3", null, t("Past conversations")), this.past),
    ]);
    if (this.contactId !== c.id) {
      this.contactId = c.id;
      clear(this.past);
      this.past.append(h("div", { class: "spinner-row" }, h("span", { class: "spinner" })));
      void this.loadPast(c.id, conv.id);
    }
  }

  private async loadPast(contactId: string, currentId: string): Promise<void> {
    try {
      const list = asList(await api.contactConversations(contactId)).filter((c) => c.id !== currentId);
      if (contactId !== this.contactId) return;
      clear(this.past);
      if (!list.length) this.past.append(h("p", { class: "muted small" }, t("No other conversations.")));
      for (const c of list.slice(0, 10)) {
        this.past.append(h("a", {
          class: "past-item", href: `/app/c/${encodeURIComponent(c.id)}`,
          onclick: (e: Event) => {
            e.preventDefault();
            this.setOpen(false);
            navigate({ name: "conversation", id: c.id });
          },
        }, h("span", { class: `chip status-${c.status}` }, statusLabel(c.status)),
        h("span", { class: "past-subject" }, c.subject || c.last_message?.preview || t("Conversation")),
        h("time", null, relativeTime(c.last_message_at || c.created))));
      }
    } catch {
      if (contactId !== this.contactId) return;
      clear(this.past);
      this.past.append(h("p", { class: "muted small" }, t("Could not load past conversations.")));
      this.contactId = "";
    }
  }

  hide(): void {
    this.setOpen(false);
    clearInterval(this.clockTimer);
    this.contactId = "";
    clear(this.el);
  }
}
