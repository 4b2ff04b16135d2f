/** The dashboard's in-memory state: conversations, messages per conversation, agents, and change events. */
import { lastMessageOf, type Agent, type Canned, type Conversation, type ConversationCounts, type Label, type Me, type Message, type TeamRef } from "./api";

import { Emitter } from "../shared/emitter";

/** What the store tells the views; `<what>:<conversation id>` events concern one conversation. */
export type StoreEvents = {
  conversations: [];
  counts: [];
  agents: [];
  connection: [];
  sound: [];
  "signed-out": [];
  "inbox-frame": [];
  "inbox-resync": [];
  [conversation: `conversation:${string}`]: [];
  [messages: `messages:${string}`]: [message?: Message];
  [typing: `typing:${string}`]: [];
};

export interface Thread {
  messages: Map<number, Message>; // by seq
  pending: Map<string, PendingMessage>; // by client_id, until acked
  oldestSeq: number; // lowest seq loaded (0 = nothing yet)
  complete: boolean; // nothing older to load
  visitorTyping: boolean;
  typingTimer?: number;
}

export interface PendingMessage {
  client_id: string;
  body: string;
  kind: "text" | "note";
  attachmentName?: string;
  error?: string;
}

export class Store extends Emitter<StoreEvents> {
  me: Me | null = null;
  conversations = new Map<string, Conversation>();
  threads = new Map<string, Thread>();
  agents = new Map<string, Agent>();
  teams: TeamRef[] = [];
  /** The tenant's labels, by name (what agents can put on a conversation). */
  labels: Label[] = [];
  canned: Canned[] = [];
  /** The inbox tabs' numbers for the current status/team filters (null: not known, none shown). */
  counts: ConversationCounts | null = null;
  /** Highest seq the agent has seen on screen, per conversation (drives unread dots). */
  seen = new Map<string, number>();
  connection: "connecting" | "online" | "polling" | "reconnecting" | "offline" = "connecting";

  thread(id: string): Thread {
    let t = this.threads.get(id);
    if (!t) {
      t = { messages: new Map(), pending: new Map(), oldestSeq: 0, complete: false, visitorTyping: false };
      this.threads.set(id, t);
    }
    return t;
  }

  upsertConversation(conv: Conversation): void {
    this.upsertConversations([conv]);
  }

  /** Several rows (a `conversations` frame) at once: the inbox redraws once, not once per row. */
  upsertConversations(convs: Conversation[]): void {
    for (const conv of convs) this.setConversation(conv);
    if (convs.length) this.emit("conversations");
    for (const conv of convs) this.emit(`conversation:${conv.id}`);
  }

  private setConversation(conv: Conversation): void {
    const prev = this.conversations.get(conv.id);
    // Frames can arrive out of order with REST pages: never move last_seq backwards.
    if (prev && prev.last_seq > conv.last_seq) conv = { ...conv, last_seq: prev.last_seq };
    // ...nor replace the last message with an older one (or none).
    if (prev?.last_message && (!conv.last_message || conv.last_message.seq < prev.last_message.seq)) {
      conv = { ...conv, last_message: prev.last_message };
    }
    this.conversations.set(conv.id, { ...prev, ...conv });
  }

  /** Adds a committed message; returns false when it was already known (duplicates are dropped). */
  addMessage(msg: Message): boolean {
    const t = this.thread(msg.conversation);
    if (msg.client_id) t.pending.delete(msg.client_id);
    if (t.messages.has(msg.seq)) return false;
    t.messages.set(msg.seq, msg);
    if (!t.oldestSeq || msg.seq < t.oldestSeq) t.oldestSeq = msg.seq;
    const conv = this.conversations.get(msg.conversation);
    if (conv) {
      const updated = { ...conv, last_seq: Math.max(conv.last_seq, msg.seq) };
      // The inbox preview is the newest message other than an event (as the server keeps it).
      const last = lastMessageOf(msg);
      if (last && (!conv.last_message || last.seq > conv.last_message.seq)) {
        updated.last_message = last;
        if (msg.seq >= conv.last_seq) updated.last_message_at = msg.created;
      }
      this.conversations.set(conv.id, updated);
      this.emit("conversations");
    }
    this.emit(`messages:${msg.conversation}`, msg);
    return true;
  }

  sortedMessages(id: string): Message[] {
    return [...this.thread(id).messages.values()].sort((a, b) => a.seq - b.seq);
  }

  lastSeq(id: string): number {
    let max = 0;
    for (const seq of this.thread(id).messages.keys()) if (seq > max) max = seq;
    return max;
  }

  /** The highest seq up to which the loaded history has no hole (resume point for a subscription). */
  contiguousTop(id: string): number {
    const t = this.thread(id);
    if (!t.oldestSeq) return 0;
    let seq = t.oldestSeq;
    while (t.messages.has(seq + 1)) seq++;
    return seq;
  }

  /** Forgets a thread's messages (its loaded history is too far behind to patch). */
  resetThread(id: string): void {
    const t = this.thread(id);
    t.messages.clear();
    t.oldestSeq = 0;
    t.complete = false;
  }

  isUnread(conv: Conversation): boolean {
    const seen = Math.max(this.seen.get(conv.id) || 0, conv.agent_last_read_seq || 0);
    if (conv.last_seq <= seen) return false;
    const last = conv.last_message;
    // The agent's own replies and events never make a conversation unread.
    if (last && last.seq === conv.last_seq && last.author.type !== "contact") return false;
    return true;
  }

  unreadCount(): number {
    let n = 0;
    for (const conv of this.conversations.values()) {
      if (conv.status !== "resolved" && this.isVisibleToMe(conv) && this.isUnread(conv)) n++;
    }
    return n;
  }

  /** Unread counts only for what the agent is responsible for: theirs and unassigned. */
  isVisibleToMe(conv: Conversation): boolean {
    return !conv.assignee || conv.assignee.id === this.me?.id;
  }

  markSeen(id: string, seq: number): void {
    if ((this.seen.get(id) || 0) >= seq) return;
    this.seen.set(id, seq);
    this.emit("conversations");
  }

  setCounts(counts: ConversationCounts | null): void {
    this.counts = counts;
    this.emit("counts");
  }

  agentName(id: string | undefined): string {
    if (!id) return "";
    return this.agents.get(id)?.name || "";
  }
}

/** A tab's number as shown: a count, capped so a huge backlog doesn't widen the tab ("999+"). */
export function countText(n: number | undefined | null): string {
  if (n === undefined || n === null || !Number.isFinite(n) || n < 0) return "";
  return n > 999 ? "999+" : String(Math.floor(n));
}

export const store = new Store();
