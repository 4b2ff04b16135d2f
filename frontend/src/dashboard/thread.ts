/** The message history of one conversation: renders bubbles, notes, events, receipts, loads older on scroll. */
import { api, asList, type Attachment, type Conversation, type Message } from "./api";
import { clear, h, icon } from "./dom";
import { clockTime, contactName, dayLabel, eventText, fileSize } from "./format";
import { store, type PendingMessage } from "./store";

const PAGE = 30;

export function attachmentUrl(att: Attachment): string {
  return att.url || `/api/v1/attachments/${encodeURIComponent(att.id)}/download`;
}

function attachmentView(att: Attachment): HTMLElement {
  const url = attachmentUrl(att);
  if (att.content_type.startsWith("image/")) {
    return h("a", { class: "att-image", href: url, target: "_blank", rel: "noopener" },
      h("img", { src: url, alt: att.name, loading: "lazy" }));
  }
  return h("a", { class: "att-file", href: url, target: "_blank", rel: "noopener", download: att.name },
    icon("file", 18), h("span", { class: "att-name" }, att.name), h("span", { class: "att-size" }, fileSize(att.size)));
}

function bubble(msg: Message, contact: string, receipt: "seen" | "sent" | null): HTMLElement {
  if (msg.kind === "event" || msg.author.type === "system") {
    return h("div", { class: "event-line", "data-seq": msg.seq }, h("span", null, eventText(msg, (id) => store.teams.find((t) => t.id === id)?.name || ""), " · ", clockTime(msg.created)));
  }
  const mine = msg.author.type === "agent";
  const note = msg.kind === "note";
  const who = mine ? msg.author.name || store.agentName(msg.author.id) || "Agent" : contact;
  const body = msg.body ? h("div", { class: "body" }, msg.body) : null;
  return h("div", {
    class: `msg ${mine ? "out" : "in"}${note ? " note" : ""}`, "data-seq": msg.seq, "data-kind": msg.kind,
  },
  h("div", { class: "meta" },
    note ? h("span", { class: "note-tag" }, icon("note", 12), "Internal note") : null,
    h("span", { class: "who" }, who), h("time", { datetime: msg.created }, clockTime(msg.created))),
  h("div", { class: "bubble" }, body, msg.attachment ? attachmentView(msg.attachment) : null),
  receipt ? h("div", { class: `receipt ${receipt}` }, icon(receipt === "seen" ? "checks" : "check", 13), receipt === "seen" ? "Seen" : "Sent") : null);
}

function pendingBubble(p: PendingMessage, retry: (p: PendingMessage) => void): HTMLElement {
  return h("div", { class: `msg out pending${p.kind === "note" ? " note" : ""}${p.error ? " failed" : ""}`, "data-client-id": p.client_id },
    h("div", { class: "bubble" },
      p.body ? h("div", { class: "body" }, p.body) : null,
      p.attachmentName ? h("div", { class: "att-file" }, icon("file", 16), h("span", { class: "att-name" }, p.attachmentName)) : null),
    h("div", { class: "receipt" }, p.error
      ? [h("span", { class: "err" }, p.error), " ", h("button", { class: "link", type: "button", onclick: () => retry(p) }, "Retry")]
      : [icon("clock", 12), "Sending…"]));
}

export class ThreadView {
  el: HTMLElement;
  private list: HTMLElement;
  private typingEl: HTMLElement;
  private loadingOlder = false;
  private stickToBottom = true;

  constructor(private conv: () => Conversation, private retry: (p: PendingMessage) => void) {
    this.list = h("div", { class: "messages", role: "log", "aria-live": "polite" });
    this.typingEl = h("div", { class: "typing-indicator", hidden: true });
    this.el = h("div", { class: "thread" }, this.list, this.typingEl);
    this.el.addEventListener("scroll", () => {
      this.stickToBottom = this.el.scrollTop + this.el.clientHeight >= this.el.scrollHeight - 40;
      if (this.el.scrollTop < 120) void this.loadOlder();
    });
  }

  get id(): string {
    return this.conv().id;
  }

  /** First page: the newest messages. Anything newer arrives by the subscription replay. */
  async loadInitial(): Promise<void> {
    const t = store.thread(this.id);
    const conv = this.conv();
    const top = store.contiguousTop(this.id);
    // History already here and at most a page behind: the subscription replay fills the rest.
    if ((t.messages.size >= PAGE || t.complete) && top >= conv.last_seq - PAGE) {
      this.render();
      return;
    }
    const page = asList(await api.messages(this.id, { limit: PAGE }));
    if (page.length && page[0].seq > top + 1) store.resetThread(this.id);
    page.forEach((m) => store.addMessage(m));
    if (page.length < PAGE || page[0]?.seq === 1) t.complete = true;
    this.stickToBottom = true;
    this.render();
  }

  async loadOlder(): Promise<void> {
    const t = store.thread(this.id);
    if (t.oldestSeq === 1) t.complete = true;
    if (this.loadingOlder || t.complete || !t.oldestSeq) return;
    this.loadingOlder = true;
    this.list.prepend(h("div", { class: "spinner-row older" }, h("span", { class: "spinner" })));
    const before = this.el.scrollHeight - this.el.scrollTop;
    try {
      const page = asList(await api.messages(this.id, { before: t.oldestSeq, limit: PAGE }));
      page.forEach((m) => store.addMessage(m));
      if (page.length < PAGE || page[0]?.seq === 1) t.complete = true;
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
    const t = store.thread(conv.id);
    const msgs = store.sortedMessages(conv.id);
    clear(this.list);
    if (t.complete) {
      this.list.append(h("div", { class: "thread-start" }, "Conversation started ", conv.created ? dayLabel(conv.created) : ""));
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
    for (const m of msgs) {
      const day = dayLabel(m.created);
      if (day !== lastDay) {
        this.list.append(h("div", { class: "day-sep" }, h("span", null, day)));
        lastDay = day;
      }
      const receipt = m.seq === lastSeenSeq ? "seen" : m.seq === lastAgentSeq ? "sent" : null;
      this.list.append(bubble(m, contactName(conv.contact), receipt));
    }
    for (const p of t.pending.values()) this.list.append(pendingBubble(p, this.retry));
    this.typingEl.hidden = !t.visitorTyping;
    clear(this.typingEl);
    if (t.visitorTyping) {
      this.typingEl.append(h("span", { class: "dots" }, h("i"), h("i"), h("i")), `${contactName(conv.contact)} is typing…`);
    }
    if (this.stickToBottom) this.scrollToBottom();
  }

  scrollToBottom(): void {
    this.el.scrollTop = this.el.scrollHeight;
    this.stickToBottom = true;
  }
}
