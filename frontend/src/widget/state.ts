/**
 * What the widget knows, without any DOM: the visitor's conversations, the messages of each (as
 * bubbles ready to show), which one is shown, and the rules that move them (frames, acks, reads).
 */
import type { Message, PendingSend } from "../client";
import { t } from "../i18n";
import type { Bootstrap, VisitorConversation } from "./api";
import { hasUnread, lastActivity, previewText, relativeTime, sortConversations } from "./history";

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

/** One row of the conversation list, ready to show (the state computes the words). */
export interface ListItem {
  id: string;
  who: string;
  preview: string;
  time: string;
  resolved: boolean;
  unread: boolean;
  current: boolean;
}

/** What a message frame means beyond the state: the controller tells the host page and hides the dots. */
export interface Received {
  /** An agent's message the visitor had not seen before this page loaded (not replayed history). */
  news: boolean;
  /** An agent wrote in the conversation shown (their typing dots end). */
  agentInCurrent: boolean;
}

/** The thread of messages typed before their conversation exists (a new conversation). */
const DRAFT = "";

export class WidgetState {
  boot: Bootstrap | null = null;
  teamOnline = false;
  /** All the visitor's conversations we know of, by id. */
  readonly convs = new Map<string, VisitorConversation>();
  /** Messages per conversation id (DRAFT: sends waiting for their new conversation). */
  private readonly threads = new Map<string, Map<string, Bubble>>();
  /** The conversation shown; null = a new one (the draft). */
  current: string | null = null;
  /** The visitor asked for a new conversation: don't switch them to another one on our own. */
  chosenNew = false;
  /** Resolved conversations the visitor chose to write in anyway (the server reopens them). */
  private readonly replying = new Set<string>();
  /** Per conversation, the last seq when we learnt of it: replayed history is not news for the host page. */
  private readonly knownSeq = new Map<string, number>();

  /** `follow` is told of every conversation learnt (the realtime client follows it). */
  constructor(private readonly follow: (id: string) => void = () => undefined) {}

  get conversation(): VisitorConversation | null {
    return this.current ? (this.convs.get(this.current) ?? null) : null;
  }

  get teamName(): string {
    return this.boot?.settings.team_name || t("Team");
  }

  /** Sends are waiting for the new conversation they start. */
  get hasDraft(): boolean {
    return this.thread(DRAFT).size > 0;
  }

  /** Bootstrap: the settings and the conversations; a returning visitor sees their latest one. */
  applyBootstrap(boot: Bootstrap): void {
    this.boot = boot;
    this.teamOnline = boot.team_online;
    for (const c of boot.conversations) this.learn(c);
    this.current = this.latest();
  }

  /** Forget everything about the visitor (identify() switched contacts). */
  reset(): void {
    this.convs.clear();
    this.threads.clear();
    this.knownSeq.clear();
    this.replying.clear();
    this.current = null;
    this.chosenNew = false;
  }

  /** The realtime client connected: a draft typed before a reload is what the visitor sees. */
  connected(pending: PendingSend[]): void {
    for (const p of pending) this.addPending(p);
    if (this.hasDraft) this.current = null;
  }

  welcome(convs: VisitorConversation[]): void {
    for (const c of convs) this.learn(c);
    // Nothing shown yet and conversations exist (e.g. started in another tab): show the latest.
    if (this.current === null && !this.chosenNew && !this.hasDraft) this.current = this.latest();
  }

  /** Add or update a conversation (a frame's fields win; a bootstrap preview is kept). */
  learn(c: Partial<VisitorConversation> & { id: string }): VisitorConversation {
    const had = this.convs.get(c.id);
    const merged: VisitorConversation = {
      status: "open", last_seq: 0, contact_last_read_seq: 0, agent_last_read_seq: 0, assignee: null,
      ...had,
      ...c,
      preview: c.preview ?? had?.preview ?? null,
    };
    if (had) {
      // Read marks only move forward (frames can cross).
      merged.contact_last_read_seq = Math.max(had.contact_last_read_seq, c.contact_last_read_seq ?? 0);
      merged.agent_last_read_seq = Math.max(had.agent_last_read_seq, c.agent_last_read_seq ?? 0);
    }
    this.convs.set(c.id, merged);
    if (!this.knownSeq.has(c.id)) this.knownSeq.set(c.id, c.last_seq ?? 0);
    this.follow(c.id);
    return merged;
  }

  thread(id: string | null): Map<string, Bubble> {
    const key = id ?? DRAFT;
    let th = this.threads.get(key);
    if (!th) this.threads.set(key, (th = new Map()));
    return th;
  }

  /** The bubbles of the conversation shown, in order. */
  bubbles(): Bubble[] {
    return [...this.thread(this.current).values()].sort((a, b) => a.order - b.order);
  }

  receive(m: Message): Received {
    if (m.client_id && this.thread(DRAFT).has(m.client_id)) this.adoptDraft(m.conversation);
    const conv = this.convs.get(m.conversation) ?? this.learn({ id: m.conversation, last_seq: m.seq });
    if (!this.knownSeq.has(m.conversation)) this.knownSeq.set(m.conversation, 0);
    // Our first message arriving from another tab: show the conversation it started.
    if (this.current === null && !this.chosenNew && !this.hasDraft) this.current = m.conversation;
    conv.last_seq = Math.max(conv.last_seq, m.seq);
    this.notePreview(conv, m);
    const th = this.thread(m.conversation);
    const bubble = this.toBubble(m);
    if (bubble) {
      const key = m.client_id && th.has(m.client_id) ? m.client_id : bubble.key;
      th.set(key, { ...bubble, key });
    }
    const received: Received = { news: false, agentInCurrent: false };
    if (m.author.type === "agent") {
      // The server counts an agent's reply as reading everything before it; so do we.
      if (m.kind !== "note") conv.agent_last_read_seq = Math.max(conv.agent_last_read_seq, m.seq);
      received.agentInCurrent = m.conversation === this.current;
      received.news = m.seq > (this.knownSeq.get(m.conversation) ?? 0);
    }
    if (m.kind === "event" && m.data?.event === "status_changed") conv.status = String(m.data.status);
    return received;
  }

  acknowledge(clientId: string, m: Message): void {
    if (this.thread(DRAFT).has(clientId)) this.adoptDraft(m.conversation);
    const conv = this.convs.get(m.conversation) ?? this.learn({ id: m.conversation, last_seq: m.seq });
    conv.contact_last_read_seq = Math.max(conv.contact_last_read_seq, m.seq);
    // A visitor's message reopens a resolved conversation (support.services.messages.post_message).
    if (conv.status !== "open") conv.status = "open";
    this.notePreview(conv, m);
    const th = this.thread(m.conversation);
    const b = th.get(clientId);
    if (b) th.set(clientId, { ...b, state: "sent", seq: m.seq, order: m.seq, created: m.created });
  }

  /** The server refused a send for good. */
  fail(clientId: string, detail: string): void {
    for (const th of this.threads.values()) {
      const b = th.get(clientId);
      if (b) th.set(clientId, { ...b, state: "failed", error: t("Not sent: {detail}", { detail }) });
    }
  }

  /** A read mark from the server; false when it concerns nothing we know. */
  read(conversation: unknown, reader: unknown, seq: unknown): boolean {
    const conv = typeof conversation === "string" ? this.convs.get(conversation) : undefined;
    if (!conv || typeof seq !== "number") return false;
    if (reader === "agent") conv.agent_last_read_seq = Math.max(conv.agent_last_read_seq, seq);
    else if (reader === "contact") conv.contact_last_read_seq = Math.max(conv.contact_last_read_seq, seq); // another tab
    return true;
  }

  /** A send the client queued (or still had queued from before a reload): shown at once, pending. */
  addPending(p: PendingSend): void {
    const meta = (p.meta ?? {}) as { name?: string; content_type?: string; size?: number; preview?: string };
    this.thread(p.conversation).set(p.client_id, {
      key: p.client_id,
      seq: null,
      order: 1e12 + p.queued_at,
      mine: true,
      authorName: t("You"),
      kind: p.kind,
      body: p.body,
      attachment: p.attachment ? { id: p.attachment, name: meta.name ?? "file", content_type: meta.content_type ?? "", size: meta.size ?? 0, url: meta.preview ?? null } : undefined,
      state: "pending",
      created: new Date(p.queued_at).toISOString(),
    });
  }

  /** The visitor writes in a resolved conversation anyway: show the composer. */
  replyTo(id: string): void {
    this.replying.add(id);
  }

  /** The conversation shown is resolved and the visitor has not chosen to reply. */
  get resolvedShown(): boolean {
    const conv = this.conversation;
    return !!conv && conv.status === "resolved" && !this.replying.has(conv.id);
  }

  /** Agent messages not yet read: in conversation `only`, or in all but `except`. */
  unreadCount(except: string | null = null, only?: string): number {
    let n = 0;
    for (const [id, conv] of this.convs) {
      if (id === except || (only !== undefined && id !== only)) continue;
      for (const b of this.thread(id).values()) if (!b.mine && b.kind !== "event" && (b.seq ?? 0) > conv.contact_last_read_seq) n++;
    }
    return n;
  }

  /** The newest agent message of the conversation shown, when it is not read yet (then it is). */
  takeUnreadTop(): number | null {
    const conv = this.conversation;
    if (!conv) return null;
    let top = 0;
    for (const b of this.thread(conv.id).values()) if (!b.mine && b.seq && b.seq > top) top = b.seq;
    if (top <= conv.contact_last_read_seq) return null;
    conv.contact_last_read_seq = top;
    return top;
  }

  /** The conversation list, newest first, in the visitor's language. */
  listItems(now: number, lang: string): ListItem[] {
    const team = this.teamName;
    return sortConversations(this.convs.values()).map((c) => ({
      id: c.id,
      who: c.assignee?.name || team,
      preview: previewText(c.preview),
      time: relativeTime(lastActivity(c), now, lang),
      resolved: c.status === "resolved",
      unread: this.unreadCount(null, c.id) > 0 || (!this.thread(c.id).size && hasUnread(c)),
      current: c.id === this.current,
    }));
  }

  /** Which form covers the conversation: none once there is one (or a draft), else offline or pre-chat. */
  overlayKind(done: { offlineSent: boolean; prechatDone: boolean }): "prechat" | "offline" | null {
    if (!this.boot || this.current || this.hasDraft) return null;
    if (done.offlineSent) return null;
    if (!this.teamOnline || !this.boot.open_now) return "offline";
    if (this.boot.settings.prechat_form && !this.boot.contact.email && !done.prechatDone) return "prechat";
    return null;
  }

  private latest(): string | null {
    return sortConversations(this.convs.values())[0]?.id ?? null;
  }

  /** The draft's sends now have their conversation (the server started it): move them there. */
  private adoptDraft(id: string): void {
    const draft = this.thread(DRAFT);
    const th = this.thread(id);
    for (const [k, b] of draft) if (!th.has(k)) th.set(k, b);
    draft.clear();
    if (this.current === null) {
      this.current = id;
      this.chosenNew = false;
    }
  }

  private notePreview(conv: VisitorConversation, m: Message): void {
    if (m.kind !== "text" && m.kind !== "attachment") return;
    if (conv.preview && conv.preview.seq > m.seq) return;
    conv.preview = { author: m.author.type, body: m.body, attachment: m.attachment?.name ?? null, seq: m.seq, at: m.created };
  }

  private toBubble(m: Message): Bubble | null {
    const mine = m.author.type === "contact";
    let body = m.body;
    if (m.kind === "event") {
      const ev = String(m.data?.event ?? "");
      if (ev === "assigned" && m.data?.assignee_name) body = t("{name} joined the conversation", { name: String(m.data.assignee_name) });
      else if (ev === "status_changed" && m.data?.status === "resolved") body = t("This conversation was marked as resolved.");
      else if (ev === "status_changed" && m.data?.status === "open" && m.data?.previous === "resolved") body = t("Conversation reopened");
      else return null;
    }
    return {
      key: m.client_id ?? m.id,
      seq: m.seq,
      order: m.seq,
      mine,
      authorName: mine ? t("You") : m.author.name || this.boot?.settings.team_name || t("Team"),
      kind: m.kind,
      body,
      attachment: m.attachment,
      state: "sent",
      created: m.created,
    };
  }
}
