/** Connects the dashboard to the realtime protocol through the shared client and feeds the store. */
import { createClient, type ConnectionState, type PendingSend, type RealtimeClient, type ServerFrame } from "../client";
import type { Agent, Conversation, Message } from "./api";
import { alertNewMessage, updateTitle } from "./alerts";
import { contactName, messagePreview } from "./format";
import { store, type PendingMessage } from "./store";
import { t } from "../i18n";

let client: RealtimeClient | null = null;
let openConversation: (id: string) => void = () => undefined;
/** Which conversation the agent is looking at (its messages don't beep while the tab is visible). */
let viewing: string | null = null;
const typingTimers = new Map<string, number>();

function connectionFrom(state: ConnectionState): typeof store.connection {
  switch (state) {
    case "open":
      return "online";
    case "polling":
      // Long-polling is a working connection: the UI treats it like a socket (nothing alarming).
      return "polling";
    case "closed":
      return "offline";
    case "idle":
    case "connecting":
      return "connecting";
    default:
      return "reconnecting";
  }
}

function syncPending(queue: PendingSend[]): void {
  const byConv = new Map<string, PendingMessage[]>();
  for (const item of queue) {
    if (!item.conversation) continue;
    const list = byConv.get(item.conversation) || [];
    list.push({
      client_id: item.client_id,
      body: item.body,
      kind: item.kind === "note" ? "note" : "text",
      attachmentName: typeof item.meta?.attachmentName === "string" ? item.meta.attachmentName : undefined,
    });
    byConv.set(item.conversation, list);
  }
  const touched = new Set<string>();
  for (const [id, thread] of store.threads) {
    const failed = [...thread.pending.values()].filter((p) => p.error);
    const next = new Map<string, PendingMessage>();
    for (const p of [...failed, ...(byConv.get(id) || [])]) {
      if (!thread.messages.size || ![...thread.messages.values()].some((m) => m.client_id === p.client_id)) next.set(p.client_id, p);
    }
    if (next.size !== thread.pending.size || [...next.keys()].some((k) => !thread.pending.has(k))) touched.add(id);
    thread.pending = next;
    byConv.delete(id);
  }
  for (const [id, list] of byConv) {
    const thread = store.thread(id);
    list.forEach((p) => thread.pending.set(p.client_id, p));
    touched.add(id);
  }
  touched.forEach((id) => store.emit(`messages:${id}`));
}

function onMessage(msg: Message): void {
  const fresh = store.addMessage(msg as unknown as import("./api").Message);
  if (!fresh) return;
  const thread = store.thread(msg.conversation);
  if (msg.author.type === "contact" && thread.visitorTyping) {
    thread.visitorTyping = false;
    store.emit(`typing:${msg.conversation}`);
  }
  if (msg.author.type !== "contact" || msg.kind === "event") {
    updateTitle();
    return;
  }
  const conv = store.conversations.get(msg.conversation);
  if (conv && !store.isVisibleToMe(conv)) return;
  if (viewing === msg.conversation && !document.hidden) return;
  alertNewMessage(conv ? contactName(conv.contact) : t("New message"), messagePreview(msg as unknown as import("./api").Message),
    msg.conversation, openConversation);
}

function onConversation(frame: ServerFrame): void {
  onConversations([frame]);
}

/** Inbox rows (one `conversation` frame, or the rows of a `conversations` frame): applied at once. */
function onConversations(frames: ServerFrame[]): void {
  const convs = frames.map((f) => f.conversation as Conversation | undefined).filter((c): c is Conversation => !!c?.id);
  if (!convs.length) return;
  const before = new Map(convs.map((c) => [c.id, store.conversations.get(c.id)]));
  // The rows carry their last message's preview: the inbox needs no request of its own.
  store.upsertConversations(convs);
  // Statuses or assignees may have changed: the inbox tabs' counts refresh (debounced).
  store.emit("inbox-frame");
  for (const conv of convs) {
    const prev = before.get(conv.id);
    // A brand-new conversation (or one newly unassigned) is worth a sound for who can take it.
    const isNew = !prev && conv.status === "open" && store.isVisibleToMe(conv);
    const grew = prev && conv.last_seq > prev.last_seq && viewing !== conv.id;
    if ((isNew || grew) && store.isUnread(store.conversations.get(conv.id)!)) {
      alertNewMessage(contactName(conv.contact), isNew ? t("New conversation") : t("New message"), conv.id, openConversation);
    }
  }
  updateTitle();
}

function onTyping(frame: ServerFrame): void {
  const id = String(frame.conversation || "");
  const author = frame.author as { type?: string } | undefined;
  if (!id || author?.type !== "contact") return;
  const t = store.thread(id);
  t.visitorTyping = Boolean(frame.on);
  clearTimeout(typingTimers.get(id));
  // A lost "typing off" must not leave the indicator on forever.
  if (t.visitorTyping) typingTimers.set(id, window.setTimeout(() => {
    t.visitorTyping = false;
    store.emit(`typing:${id}`);
    store.emit("conversations");
  }, 8000));
  store.emit(`typing:${id}`);
  store.emit("conversations");
}

function onRead(frame: ServerFrame): void {
  const id = String(frame.conversation || "");
  const conv = store.conversations.get(id);
  const seq = Number(frame.seq) || 0;
  if (!conv) return;
  if (frame.reader === "contact" && seq > (conv.contact_last_read_seq || 0)) {
    store.upsertConversation({ ...conv, contact_last_read_seq: seq });
  } else if (frame.reader === "agent" && seq > (conv.agent_last_read_seq || 0)) {
    store.upsertConversation({ ...conv, agent_last_read_seq: seq });
    updateTitle();
  }
}

function onPresence(frame: ServerFrame): void {
  const agents = frame.agents as Agent[] | undefined;
  if (!Array.isArray(agents)) return;
  for (const a of agents) {
    const prev = store.agents.get(a.id);
    store.agents.set(a.id, { ...prev, ...a });
  }
  store.emit("agents");
}

function onError(frame: ServerFrame, dropped: PendingSend | undefined): void {
  if (dropped?.conversation) {
    const thread = store.thread(dropped.conversation);
    const reasons: Record<string, string> = {
      too_long: t("Too long to send."),
      empty: t("Empty message."),
      forbidden: t("You can't reply here."),
      not_found: t("This conversation is gone."),
    };
    thread.pending.set(dropped.client_id, {
      client_id: dropped.client_id,
      body: dropped.body,
      kind: dropped.kind === "note" ? "note" : "text",
      error: reasons[String(frame.code)] || String(frame.detail || t("Not sent.")),
    });
    store.emit(`messages:${dropped.conversation}`);
  }
  if (frame.code === "unauthenticated") store.emit("signed-out");
}

export const live = {
  start(open: (id: string) => void): void {
    openConversation = open;
    client = createClient({
      role: "agent",
      storageKey: `switchboard:outbox:agent:${store.me?.id || ""}`,
      // Inbox rows several to a frame (docs/protocol.md): a busy team's changes arrive as one frame.
      helloExtra: () => ({ inbox_frame: "conversations" }),
    });
    client.on("message", onMessage);
    client.on("conversation", onConversation);
    client.on("conversations", onConversations);
    client.on("typing", onTyping);
    client.on("read", onRead);
    client.on("presence", onPresence);
    client.on("welcome", onPresence);
    // The server could not replay what changed (too much while away, or no watermark to replay
    // from): reload the inbox page over REST, as at start.
    client.on("resync", () => store.emit("inbox-resync"));
    client.on("error", onError);
    client.on("queue", syncPending);
    client.on("state", (state) => {
      store.connection = connectionFrom(state);
      store.emit("connection");
    });
    client.start();
    syncPending(client.pending());
  },
  get state(): ConnectionState {
    return client?.state || "idle";
  },
  subscribe(id: string, lastSeq: number): void {
    viewing = id;
    client?.subscribe(id, lastSeq);
  },
  unsubscribe(id: string): void {
    if (viewing === id) viewing = null;
    client?.unsubscribe(id);
  },
  sendMessage(id: string, msg: { body: string; kind: "text" | "note"; attachment?: string; attachmentName?: string }): void {
    client?.send({
      conversation: id, body: msg.body, kind: msg.kind, attachment: msg.attachment,
      meta: msg.attachmentName ? { attachmentName: msg.attachmentName } : undefined,
    });
  },
  resend(id: string, p: PendingMessage): void {
    store.thread(id).pending.delete(p.client_id);
    client?.send({ conversation: id, body: p.body, kind: p.kind });
  },
  typing(id: string, on: boolean): void {
    client?.typing(id, on);
  },
  read(id: string, seq: number): void {
    if (seq > 0) client?.read(id, seq);
  },
  presence(status: "available" | "away"): void {
    client?.setPresence(status);
  },
  reconnect(): void {
    client?.reconnectNow(true);
  },
};
