/** The widget panel's DOM: built once, then updated in place (so focus and typed text survive). */
import { h } from "../shared/dom";
import { icon, ICONS } from "./icons";
import { humanSize } from "./files";
import { t } from "../i18n";
import { messageTime } from "./history";

export interface Bubble {
  key: string; // client_id when we sent it, else the message id
  seq: number | null; // null while pending
  order: number; // seq, or a large number + queue time for pending sends
  mine: boolean;
  authorName: string;
  kind: string;
  body: string;
  event?: string;
  attachment?: { id?: string; name: string; content_type: string; size: number; url?: string | null };
  state: "pending" | "sent" | "failed";
  error?: string;
  created: string;
}

/** One row of the conversation list, ready to show (the app computes the words). */
export interface ListItem {
  id: string;
  who: string;
  preview: string;
  time: string;
  resolved: boolean;
  unread: boolean;
  current: boolean;
}

export function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  const s = parts.length > 1 ? parts[0][0] + parts[parts.length - 1][0] : (parts[0] ?? "?").slice(0, 2);
  return s.toUpperCase();
}

// Dark enough for the white initials (at least 4.5:1, WCAG AA; tests/frontend/test_text_contrast.py).
const AVATAR_COLORS = ["#0369a1", "#047857", "#b45309", "#be185d", "#6d28d9", "#0f766e", "#c2410c"];
export function avatar(name: string, cls = "avatar"): HTMLElement {
  let hash = 0;
  for (const ch of name) hash = (hash * 31 + ch.charCodeAt(0)) | 0;
  const el = h("span", { class: cls, "aria-hidden": "true", text: initials(name) });
  el.style.background = AVATAR_COLORS[Math.abs(hash) % AVATAR_COLORS.length];
  return el;
}


export class PanelView {
  readonly root: HTMLElement;
  readonly title = h("h1", { class: "title", id: "sb-title" });
  readonly status = h("p", { class: "status" });
  readonly avatars = h("div", { class: "avatars" });
  readonly closeBtn: HTMLButtonElement;
  readonly banner = h("div", { class: "banner", role: "status", hidden: true });
  readonly log = h("div", { class: "log", role: "log", "aria-live": "polite", "aria-relevant": "additions" });
  readonly scroller = h("div", { class: "scroller" });
  readonly typingRow = h("div", { class: "typing", hidden: true, "aria-live": "polite" });
  readonly overlay = h("div", { class: "overlay", hidden: true });
  readonly footer = h("footer", { class: "composer" });
  readonly textarea: HTMLTextAreaElement;
  readonly fileInput: HTMLInputElement;
  readonly attachBtn: HTMLButtonElement;
  readonly sendBtn: HTMLButtonElement;
  readonly chip = h("div", { class: "chip", hidden: true });
  readonly notice = h("p", { class: "notice", role: "alert", hidden: true });
  readonly greeting = h("div", { class: "row theirs greeting" });
  readonly ratingSlot = h("div", { class: "rating-slot" });
  readonly backBtn: HTMLButtonElement;
  readonly backDot = h("span", { class: "back-dot", hidden: true, "aria-hidden": "true" });
  readonly listHeading = h("h2", { class: "list-title", id: "sb-list-title", tabindex: -1 });
  readonly list = h("ul", { class: "convs", "aria-labelledby": "sb-list-title" });
  readonly listView = h("section", { class: "convlist", "aria-labelledby": "sb-list-title" });
  readonly newBtn: HTMLButtonElement;
  readonly composeForm: HTMLFormElement;
  readonly resolvedBar = h("div", { class: "resolved-bar", hidden: true });
  readonly resolvedNew: HTMLButtonElement;
  readonly replyBtn: HTMLButtonElement;
  private rows = new Map<string, HTMLElement>();
  /** The reader is at the newest message (updated as they scroll): images that load keep them there. */
  private pinned = true;

  constructor(
    readonly lang: string,
    accept: string,
  ) {
    this.closeBtn = h("button", { class: "icon-btn close", type: "button", "aria-label": t("Close chat") }, icon(ICONS.close));
    this.textarea = h("textarea", { rows: 1, placeholder: t("Write a message…"), "aria-label": t("Write a message…"), maxlength: 10000 });
    this.fileInput = h("input", { type: "file", accept, hidden: true, "aria-hidden": "true", tabindex: -1 });
    this.attachBtn = h("button", { class: "icon-btn attach", type: "button", "aria-label": t("Attach a file"), title: t("Attach a file") }, icon(ICONS.clip));
    this.sendBtn = h("button", { class: "send", type: "submit", "aria-label": t("Send"), title: t("Send"), disabled: true }, icon(ICONS.send));
    const form = (this.composeForm = h("form", { class: "compose-row" }, this.attachBtn, this.textarea, this.sendBtn, this.fileInput));
    this.resolvedNew = h("button", { class: "primary", type: "button" }, icon(ICONS.plus), t("Start a new conversation"));
    this.replyBtn = h("button", { class: "link", type: "button", text: t("Reply to reopen it") });
    this.resolvedBar.append(h("p", { class: "resolved-note", text: t("This conversation has been resolved.") }), this.resolvedNew, this.replyBtn);
    this.footer.append(this.notice, this.chip, form, this.resolvedBar, h("p", { class: "powered", text: t("Powered by Switchboard") }));
    this.backBtn = h("button", { class: "icon-btn back", type: "button", hidden: true, "aria-label": t("Your conversations"), title: t("Your conversations") },
      icon(ICONS.back), this.backDot);
    this.newBtn = h("button", { class: "primary new", type: "button" }, icon(ICONS.plus), t("Start a new conversation"));
    this.listHeading.textContent = t("Your conversations");
    this.listView.append(this.listHeading, this.list, h("div", { class: "list-foot" }, this.newBtn));
    const header = h(
      "header",
      { class: "head" },
      h("div", { class: "head-main" }, this.backBtn, this.avatars, h("div", { class: "head-text" }, this.title, this.status)),
      this.closeBtn,
    );
    this.scroller.append(this.greeting, this.log, this.ratingSlot, this.typingRow);
    this.scroller.addEventListener("scroll", () => (this.pinned = this.nearBottom()), { passive: true });
    this.root = h(
      "section",
      { class: "panel", role: "dialog", "aria-labelledby": "sb-title" },
      header,
      this.listView,
      this.banner,
      this.scroller,
      this.overlay,
      this.footer,
    );
  }

  setHeader(team: string, online: boolean, agents: { name: string }[]): void {
    this.title.textContent = team;
    this.status.replaceChildren(
      h("span", { class: online ? "dot on" : "dot", "aria-hidden": "true" }),
      online ? t("We're online") : t("We're away right now"),
    );
    this.status.title = online ? t("We typically reply in a few minutes") : t("Leave a message and we'll reply by email");
    const shown = agents.slice(0, 3);
    this.avatars.replaceChildren(...(shown.length ? shown.map((a) => avatar(a.name)) : [avatar(team, "avatar team")]));
  }

  /** The back button to the list: shown when there is a list; a dot and a longer label when unread. */
  setBack(shown: boolean, unread: number): void {
    this.backBtn.hidden = !shown;
    this.backDot.hidden = unread === 0;
    const label = unread ? t("Your conversations ({n} unread)", { n: unread }) : t("Your conversations");
    this.backBtn.setAttribute("aria-label", label);
    this.backBtn.title = label;
  }

  /** Show the list (true) or the conversation (false); CSS hides the other one. */
  showList(on: boolean): void {
    this.root.classList.toggle("show-list", on);
  }

  get listShown(): boolean {
    return this.root.classList.contains("show-list");
  }

  renderList(items: ListItem[], pick: (id: string) => void): void {
    // Rows are rebuilt when a message arrives: keep keyboard focus on the row it was on.
    const active = document.activeElement;
    const focusedId = active instanceof HTMLElement && this.list.contains(active) ? active.dataset.id : undefined;
    this.list.replaceChildren(
      ...items.map((it) => {
        const status = it.resolved ? t("Resolved") : t("Open");
        const btn = h(
          "button",
          {
            type: "button", class: `conv${it.unread ? " unread" : ""}`, "data-id": it.id,
            "aria-label": t("{who}, {status}, {time}: {preview}", { who: it.who, status, time: it.time, preview: it.preview }) + (it.unread ? ` (${t("Unread")})` : ""),
            "aria-current": it.current ? "true" : null,
          },
          avatar(it.who),
          h(
            "span",
            { class: "conv-main" },
            h("span", { class: "conv-top" }, h("span", { class: "conv-who", text: it.who }), h("span", { class: "conv-time", text: it.time })),
            h(
              "span",
              { class: "conv-bottom" },
              h("span", { class: "conv-preview", text: it.preview }),
              it.unread ? h("span", { class: "unread-dot", "aria-hidden": "true" }) : h("span", { class: `pill${it.resolved ? "" : " open"}`, text: status }),
            ),
          ),
          icon(ICONS.chevron, "chev"),
        );
        btn.addEventListener("click", () => pick(it.id));
        return h("li", {}, btn);
      }),
    );
    if (focusedId) this.list.querySelector<HTMLElement>(`[data-id="${CSS.escape(focusedId)}"]`)?.focus();
  }

  /** A resolved conversation: the composer gives way to "resolved" + new conversation / reply. */
  setResolved(on: boolean): void {
    this.resolvedBar.hidden = !on;
    this.composeForm.hidden = on;
  }

  setGreeting(text: string, team: string): void {
    this.greeting.replaceChildren(avatar(team), h("div", { class: "stack" }, h("div", { class: "bubble", text })));
  }

  setBanner(text: string | null): void {
    this.banner.hidden = !text;
    this.banner.textContent = text ?? "";
  }

  setTyping(name: string | null): void {
    this.typingRow.hidden = !name;
    if (!name) {
      this.typingRow.replaceChildren();
      return;
    }
    const label = t("{name} is typing…", { name });
    this.typingRow.replaceChildren(
      avatar(name),
      h("div", { class: "bubble dots", "aria-label": label, title: label }, h("i"), h("i"), h("i")),
    );
    this.scrollToEnd();
  }

  showNotice(text: string | null): void {
    this.notice.hidden = !text;
    this.notice.replaceChildren(...(text ? [icon(ICONS.alert), h("span", { text })] : []));
  }

  nearBottom(): boolean {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 80;
  }

  scrollToEnd(): void {
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.pinned = true;
  }

  /** Render all bubbles in order; rows are reused by key so nothing flickers. */
  renderMessages(bubbles: Bubble[], seenUpTo: number, token: string | null): void {
    // At the newest message, or the visitor just sent something: show the end.
    const newest = bubbles[bubbles.length - 1];
    const stick = this.nearBottom() || (!!newest?.mine && !this.rows.has(newest.key));
    const keep = new Set<string>();
    let prev: Bubble | null = null;
    let lastMine: Bubble | null = null;
    for (const b of bubbles) if (b.mine && b.kind !== "event") lastMine = b;
    const rows: HTMLElement[] = [];
    for (const b of bubbles) {
      keep.add(b.key);
      const first = !prev || prev.mine !== b.mine || prev.authorName !== b.authorName || prev.kind === "event";
      rows.push(this.row(b, first, b === lastMine ? seenUpTo : -1, token));
      prev = b;
    }
    for (const [key, el] of this.rows) if (!keep.has(key)) el.remove();
    for (const key of [...this.rows.keys()]) if (!keep.has(key)) this.rows.delete(key);
    // Re-append in order only where the order changed (appendChild moves existing nodes).
    rows.forEach((el, i) => {
      if (this.log.children[i] !== el) this.log.insertBefore(el, this.log.children[i] ?? null);
    });
    if (stick) this.scrollToEnd();
  }

  private row(b: Bubble, first: boolean, seenUpTo: number, token: string | null): HTMLElement {
    const sig = JSON.stringify([b.state, b.seq, first, seenUpTo >= (b.seq ?? Infinity), seenUpTo >= 0, b.error, b.body, b.created]);
    const existing = this.rows.get(b.key);
    if (existing && existing.dataset.sig === sig) return existing;
    let el: HTMLElement;
    if (b.kind === "event") {
      el = h("div", { class: "row event" }, h("span", { text: b.body }));
    } else {
      const content: HTMLElement[] = [];
      if (!b.mine && first) content.push(h("div", { class: "author", text: b.authorName }));
      if (b.attachment) content.push(this.attachment(b, token));
      if (b.body) content.push(h("div", { class: "bubble", text: b.body }));
      const meta = this.meta(b, seenUpTo);
      if (meta) content.push(meta);
      el = h(
        "div",
        { class: `row ${b.mine ? "mine" : "theirs"}${first ? " first" : ""}${b.state === "failed" ? " failed" : ""}` },
        !b.mine ? (first ? avatar(b.authorName) : h("span", { class: "avatar-gap" })) : null,
        h("div", { class: "stack" }, ...content),
      );
    }
    el.dataset.sig = sig;
    if (existing) existing.replaceWith(el);
    this.rows.set(b.key, el);
    return el;
  }

  /** Under each stored message: its time; under the visitor's newest one also the receipt. */
  private meta(b: Bubble, seenUpTo: number): HTMLElement | null {
    if (b.state === "pending") return h("div", { class: "meta" }, icon(ICONS.clock, "mi"), t("Sending…"));
    if (b.state === "failed") return h("div", { class: "meta error", text: b.error ?? t("Not sent") });
    const when = messageTime(b.created, this.lang);
    const stamp = when ? h("time", { class: "when", datetime: b.created, title: when.full, text: when.text }) : null;
    if (!b.mine || seenUpTo < 0) return stamp ? h("div", { class: "meta" }, stamp) : null; // receipts only under the last message
    const seen = b.seq !== null && seenUpTo >= b.seq;
    return h("div", { class: seen ? "meta seen" : "meta" }, stamp, stamp ? h("span", { "aria-hidden": "true", text: "·" }) : null,
      icon(seen ? ICONS.checks : ICONS.check, "mi"), seen ? t("Seen") : t("Sent"));
  }

  private attachment(b: Bubble, token: string | null): HTMLElement {
    const a = b.attachment!;
    const src = a.url ?? (a.id && token ? `/rt/visitor/attachments/${encodeURIComponent(a.id)}?token=${encodeURIComponent(token)}` : null);
    if (a.content_type.startsWith("image/") && src) {
      const img = h("img", { src, alt: a.name, loading: "lazy" });
      // An image grows its row when it loads: stay at the newest message if the reader was there,
      // and always show the visitor the image they just sent.
      img.addEventListener("load", () => {
        if (this.pinned || (b.mine && this.log.lastElementChild?.contains(img))) this.scrollToEnd();
      });
      return h("a", { class: "image", href: src, target: "_blank", rel: "noopener noreferrer" }, img);
    }
    const inner = [icon(ICONS.file, "fi"), h("span", { class: "fname", text: a.name }), h("span", { class: "fsize", text: humanSize(a.size) })];
    return src
      ? h("a", { class: "file", href: src, target: "_blank", rel: "noopener noreferrer", title: t("Download") }, ...inner)
      : h("div", { class: "file" }, ...inner);
  }
}
