/** The message history of one conversation: renders bubbles, notes, events, receipts, loads older on scroll. */
import { api, asList, type Attachment, type Conversation, type Message } from "./api";
import { clear, h } from "../shared/dom";
import { icon } from "./icons";
import { clockTime, contactName, dayLabel, emailLine, eventText, fileSize, linkParts } from "./format";
import { store, type PendingMessage } from "./store";
import { locale, t } from "../i18n";

const PAGE = 30;

export function attachmentUrl(att: Attachment): string {
  return att.url || `/api/v1/attachments/${encodeURIComponent(att.id)}/download`;
}

function attachmentView(att: Attachment, onLoad: () => void): HTMLElement {
  const url = attachmentUrl(att);
  if (att.content_type.startsWith("image/")) {
    const img = h("img", { src: url, alt: att.name, loading: "lazy", title: att.name });
    // Images arrive after the bubble is laid out: keep the newest message in view as they grow.
    img.addEventListener("load", onLoad);
    return h("a", { class: "att-image", href: url, target: "_blank", rel: "noopener" }, img);
  }
  return h("a", { class: "att-file", href: url, target: "_blank", rel: "noopener", download: att.name, title: att.name },
    h("span", { class: "att-icon" }, icon("file", 18)),
    h("span", { class: "att-text" }, h("span", { class: "att-name" }, att.name), h("span", { class: "att-size" }, fileSize(att.size))));
}

/** Message text with http(s) addresses as links; everything goes in as text, never as markup. */
function messageBody(text: string): HTMLElement {
  const el = h("div", { class: "body" });
  for (const part of linkParts(text)) {
    el.append(typeof part === "string" ? part
      : h("a", { href: part.href, target: "_blank", rel: "noopener noreferrer nofollow" }, part.text));
  }
  return el;
}

function fullTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "" : d.toLocaleString(locale(), { dateStyle: "medium", timeStyle: "short" });
}

/** Messages from one author in a row, a few minutes apart, share one name line (like Intercom and Front). */
const GROUP_MS = 5 * 60 * 1000;

function sameGroup(prev: Message | undefined, m: Message): boolean {
  if (!prev || prev.kind === "event" || m.kind === "event" || prev.author.type === "system") return false;
  if (prev.author.type !== m.author.type || (prev.author.id || "") !== (m.author.id || "")) return false;
  if ((prev.kind === "note") !== (m.kind === "note")) return false;
  return Date.parse(m.created) - Date.parse(prev.created) < GROUP_MS && dayLabel(prev.created) === dayLabel(m.created);
}

function bubble(msg: Message, contact: string, receipt: "seen" | "sent" | null, grouped: boolean, onLoad: () => void): HTMLElement {
  if (msg.kind === "event" || msg.author.type === "system") {
    return h("div", { class: "event-line", "data-seq": msg.seq }, h("span", null, eventText(msg, (id) => store.teams.find((team) => team.id === id)?.name || ""), " · ", clockTime(msg.created)));
  }
  const mine = msg.author.type === "agent";
  const note = msg.kind === "note";
  const who = mine ? msg.author.name || store.agentName(msg.author.id) || t("Agent") : contact;
  const body = msg.body ? messageBody(msg.body) : null;
  const imageOnly = !body && !!msg.attachment?.content_type.startsWith("image/");
  return h("div", {
    class: `msg ${mine ? "out" : "in"}${note ? " note" : ""}${grouped ? " grouped" : ""}`, "data-seq": msg.seq, "data-kind": msg.kind,
  },
  grouped && !msg.email ? null : h("div", { class: "meta" },
    note ? h("span", { class: "note-tag" }, icon("note", 12), t("Internal note")) : null,
    h("span", { class: "who" }, who), h("time", { datetime: msg.created, title: fullTime(msg.created) }, clockTime(msg.created))),
  msg.email ? h("div", { class: "email-line", title: t("Came in by email") }, icon("mail", 12), h("span", null, emailLine(msg.email))) : null,
  h("div", { class: `bubble${imageOnly ? " media" : ""}`, title: grouped ? fullTime(msg.created) : null },
    body, msg.attachment ? attachmentView(msg.attachment, onLoad) : null),
  receipt ? h("div", { class: `receipt ${receipt}` }, icon(receipt === "seen" ? "checks" : "check", 13), receipt === "seen" ? t("Seen") : t("Sent")) : null);
}

function pendingBubble(p: PendingMessage, retry: (p: PendingMessage) => void): HTMLElement {
  return h("div", { class: `msg out pending${p.kind === "note" ? " note" : ""}${p.error ? " failed" : ""}`, "data-client-id": p.client_id },
    h("div", { class: "bubble" },
      p.body ? messageBody(p.body) : null,
      p.attachmentName ? h("div", { class: "att-file" }, h("span", { class: "att-icon" }, icon("file", 16)),
        h("span", { class: "att-text" }, h("span", { class: "att-name" }, p.attachmentName))) : null),
    h("div", { class: "receipt" }, p.error
      ? [h("span", { class: "err" }, p.error), " ", h("button", { class: "link", type: "button", onclick: () => retry(p) }, t("Retry"))]
      : [icon("clock", 12), t("Sending…")]));
}

/** Puts `nodes` in `parent` in order, moving only what changed: existing bubbles keep their images and the reader's selection. */
function reconcile(parent: HTMLElement, nodes: HTMLElement[]): void {
  const wanted = new Set(nodes);
  for (const child of [...parent.children]) if (!wanted.has(child as HTMLElement)) child.remove();
  nodes.forEach((node, i) => {
    const at = parent.children[i];
    if (at !== node) parent.insertBefore(node, at || null);
  });
  while (parent.children.length > nodes.length) parent.lastElementChild!.remove();
}

export class ThreadView {
  el: HTMLElement;
  private list: HTMLElement;
  private typingEl: HTMLElement;
  private loadingOlder = false;
  private stickToBottom = true;
  /** The elements on screen by what they show, reused by render() when nothing about them changed. */
  private nodes = new Map<string, HTMLElement>();
  /** Shown when something new arrives while the agent reads further up; a click jumps down. */
  private newPill: HTMLElement;
  private newestSeq = 0;
  private onMediaLoad = () => {
    if (this.stickToBottom) this.scrollToBottom();
  };

  constructor(private conv: () => Conversation, private retry: (p: PendingMessage) => void) {
    this.list = h("div", { class: "messages", role: "log", "aria-live": "polite" });
    this.typingEl = h("div", { class: "typing-indicator", hidden: true });
    this.newPill = h("button", { class: "new-pill", type: "button", hidden: true, onclick: () => this.scrollToBottom() },
      t("New messages"), icon("back", 14));
    this.el = h("div", { class: "thread" }, this.list, this.typingEl, this.newPill);
    this.el.addEventListener("scroll", () => {
      this.stickToBottom = this.el.scrollTop + this.el.clientHeight >= this.el.scrollHeight - 40;
      if (this.stickToBottom) this.newPill.hidden = true;
      if (this.el.scrollTop < 120) void this.loadOlder();
    });
    // The composer grows (long reply, file, error) and the thread shrinks: keep the newest message in view.
    if (typeof ResizeObserver !== "undefined") {
      new ResizeObserver(() => {
        if (this.stickToBottom) this.scrollToBottom();
      }).observe(this.el);
    }
  }

  get id(): string {
    return this.conv().id;
  }

  /** First page: the newest messages. Anything newer arrives by the subscription replay. */
  async loadInitial(): Promise<void> {
    const thread = store.thread(this.id);
    const conv = this.conv();
    const top = store.contiguousTop(this.id);
    // History already here and at most a page behind: the subscription replay fills the rest.
    if ((thread.messages.size >= PAGE || thread.complete) && top >= conv.last_seq - PAGE) {
      this.render();
      return;
    }
    const page = asList(await api.messages(this.id, { limit: PAGE }));
    if (page.length && page[0].seq > top + 1) store.resetThread(this.id);
    page.forEach((m) => store.addMessage(m));
    if (page.length < PAGE || page[0]?.seq === 1) thread.complete = true;
    this.stickToBottom = true;
    this.render();
  }

  async loadOlder(): Promise<void> {
    const thread = store.thread(this.id);
    if (thread.oldestSeq === 1) thread.complete = true;
    if (this.loadingOlder || thread.complete || !thread.oldestSeq) return;
    this.loadingOlder = true;
    this.list.prepend(h("div", { class: "spinner-row older" }, h("span", { class: "spinner" })));
    const before = this.el.scrollHeight - this.el.scrollTop;
    try {
      const page = asList(await api.messages(this.id, { before: thread.oldestSeq, limit: PAGE }));
      page.forEach((m) => store.addMessage(m));
      if (page.length < PAGE || page[0]?.seq === 1) thread.complete = true;
    } catch {
      // Scrolling up again retries; the thread keeps what it has.
    } finally {
      this.loadingOlder = false;
      this.render();
      // Keep the message under the reader's eye where it was.
      this.el.scrollTop = this.el.scrollHeight - before;
    }
  }

  render(): void {
    const conv = this.conv();
    const thread = store.thread(conv.id);
    const msgs = store.sortedMessages(conv.id);
    const contact = contactName(conv.contact);
    const nodes: HTMLElement[] = [];
    const used = new Map<string, HTMLElement>();
    const keep = (key: string, make: () => HTMLElement) => {
      const cached = this.nodes.get(key);
      const node = cached || make();
      used.set(key, node);
      nodes.push(node);
    };
    if (thread.complete) {
      const started = conv.created ? fullTime(conv.created) : "";
      keep(`start|${started}`, () => h("div", { class: "thread-start" }, started ? t("Conversation started {time}", { time: started }) : t("Start of the conversation")));
    }
    // The read receipt goes under the newest agent message the visitor has read.
    const readSeq = conv.contact_last_read_seq || 0;
    let lastAgentSeq = 0;
    let lastSeenSeq = 0;
    for (const m of msgs) {
      if (m.author.type === "agent" && m.kind !== "note" && m.kind !== "event") {
        lastAgentSeq = m.seq;
        if (m.seq <= readSeq) lastSeenSeq = m.seq;
      }
    }
    let lastDay = "";
    let prev: Message | undefined;
    for (const m of msgs) {
      const day = dayLabel(m.created);
      if (day !== lastDay) {
        keep(`day|${day}|${m.seq}`, () => h("div", { class: "day-sep" }, h("span", null, day)));
        lastDay = day;
      }
      const receipt = m.seq === lastSeenSeq ? "seen" : m.seq === lastAgentSeq ? "sent" : null;
      const grouped = sameGroup(prev, m);
      keep(`msg|${m.seq}|${receipt}|${grouped}|${contact}`, () => bubble(m, contact, receipt, grouped, this.onMediaLoad));
      prev = m;
    }
    for (const p of thread.pending.values()) nodes.push(pendingBubble(p, this.retry));
    this.nodes = used;
    reconcile(this.list, nodes);
    this.typingEl.hidden = !thread.visitorTyping;
    clear(this.typingEl);
    if (thread.visitorTyping) {
      this.typingEl.append(h("span", { class: "dots" }, h("i"), h("i"), h("i")), t("{name} is typing…", { name: contact }));
    }
    const newest = msgs.length ? msgs[msgs.length - 1] : undefined;
    if (newest && this.newestSeq && newest.seq > this.newestSeq && !this.stickToBottom && newest.author.type !== "system") {
      this.newPill.hidden = false;
    }
    this.newestSeq = newest?.seq || 0;
    if (this.stickToBottom) this.scrollToBottom();
  }

  scrollToBottom(): void {
    this.newPill.hidden = true;
    this.el.scrollTop = this.el.scrollHeight;
    this.stickToBottom = true;
  }
}
