/**
 * The message log: bubbles rendered in order and reused by key (nothing flickers), with times,
 * receipts and attachments, and the scroll position kept at the newest message while the reader is there.
 */
import { h } from "../../shared/dom";
import { t } from "../../i18n";
import { attachmentUrl } from "../api";
import { humanSize } from "../files";
import { messageTime } from "../history";
import { icon, ICONS } from "../icons";
import type { Bubble } from "../state";
import { avatar } from "./avatar";

export class MessageLog {
  readonly root = h("div", { class: "log", role: "log", "aria-live": "polite", "aria-relevant": "additions" });
  private rows = new Map<string, HTMLElement>();
  /** The reader is at the newest message (updated as they scroll): images that load keep them there. */
  private pinned = true;

  constructor(
    private readonly scroller: HTMLElement,
    private readonly lang: string,
  ) {
    scroller.addEventListener("scroll", () => (this.pinned = this.nearBottom()), { passive: true });
  }

  nearBottom(): boolean {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 80;
  }

  scrollToEnd(): void {
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.pinned = true;
  }

  /** Render all bubbles in order; `seenUpTo` is the agent's read mark, `token` opens attachments. */
  render(bubbles: Bubble[], seenUpTo: number, token: string | null): void {
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
      if (this.root.children[i] !== el) this.root.insertBefore(el, this.root.children[i] ?? null);
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
    const src = a.url ?? (a.id && token ? attachmentUrl(a.id, token) : null);
    if (a.content_type.startsWith("image/") && src) {
      const img = h("img", { src, alt: a.name, loading: "lazy" });
      // An image grows its row when it loads: stay at the newest message if the reader was there,
      // and always show the visitor the image they just sent.
      img.addEventListener("load", () => {
        if (this.pinned || (b.mine && this.root.lastElementChild?.contains(img))) this.scrollToEnd();
      });
      return h("a", { class: "image", href: src, target: "_blank", rel: "noopener noreferrer" }, img);
    }
    const inner = [icon(ICONS.file, "fi"), h("span", { class: "fname", text: a.name }), h("span", { class: "fsize", text: humanSize(a.size) })];
    return src
      ? h("a", { class: "file", href: src, target: "_blank", rel: "noopener noreferrer", title: t("Download") }, ...inner)
      : h("div", { class: "file" }, ...inner);
  }
}
