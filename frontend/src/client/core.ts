/** The transport-agnostic realtime client: a connection state machine plus delivery bookkeeping. */
import { backoffDelay, DEFAULT_BACKOFF, type BackoffPolicy } from "./backoff";
import { Emitter } from "../shared/emitter";
import { Outbox, type KeyValueStore } from "./outbox";
import {
  FATAL_CLOSE_CODES,
  RETRY_LATER_CLOSE_CODES,
  SERVICE_RESTART_CLOSE_CODE,
  type CloseInfo,
  type Transport,
  type TransportFactory,
} from "./transport";
import type {
  ClientFrame,
  ConnectionState,
  Message,
  PendingSend,
  Role,
  ServerFrame,
  TransportKind,
} from "./types";

export interface RealtimeClientOptions {
  role: Role;
  websocket: TransportFactory;
  longpoll: TransportFactory;
  /** The visitor token, sent in the WebSocket `hello` (visitors only). */
  token?: () => string | null;
  /** Where the outgoing queue is persisted (localStorage by default in `createClient`). */
  storage?: KeyValueStore | null;
  storageKey?: string;
  /** Extra `hello` fields, evaluated at every (re)connect. */
  helloExtra?: () => Record<string, unknown>;
  backoff?: BackoffPolicy;
  /** Consecutive WebSocket opens that must fail before falling back to long-polling. */
  wsFailuresBeforePolling?: number;
  /** While long-polling, how often a WebSocket is tried again. */
  probeIntervalMs?: number;
  /** After a 1012 ("service restart"), reconnect after a random pause of up to this long. */
  restartJitterMs?: number;
  pingIntervalMs?: number;
  /** With no frame at all this long after a ping, the socket is considered dead. */
  pongTimeoutMs?: number;
  /** An unacknowledged send is sent again (same client_id) after this long. */
  ackTimeoutMs?: number;
  /** A seq gap must persist this long before a replay is asked for (frames may be in flight). */
  gapDelayMs?: number;
  random?: () => number;
  now?: () => number;
  newId?: () => string;
  /** Browser online/offline events (window in a page; omit in tests). */
  network?: Pick<Window, "addEventListener" | "removeEventListener"> | null;
}

export interface ClientEvents extends Record<string, unknown[]> {
  message: [Message];
  ack: [string, Message];
  typing: [ServerFrame];
  read: [ServerFrame];
  conversation: [ServerFrame];
  /**
   * Agents that asked for them (`helloExtra` `{inbox_frame: "conversations"}`): the rows of one
   * `conversations` frame, each as a `conversation` frame would carry it, in watermark order.
   */
  conversations: [ServerFrame[]];
  presence: [ServerFrame];
  welcome: [ServerFrame];
  /**
   * Agents: the inbox must be reloaded over the REST API (`inbox_resync`: more changed than the
   * server replays, or a reconnect without a watermark). The watermark has been reset already.
   */
  resync: [];
  /** A server `error` frame; for a refused send, the send that was dropped from the queue. */
  error: [ServerFrame, PendingSend | undefined];
  state: [ConnectionState, TransportKind | null];
  queue: [PendingSend[]];
  /** Every server frame, after the client has processed it. */
  frame: [ServerFrame];
}

interface SeqState {
  max: number;
  /** Seqs below `max` not seen yet. */
  holes: Set<number>;
  /** Holes a replay was asked for; closed by the next pong (notes leave permanent holes for visitors). */
  requested: Set<number>;
}

/** Errors after which the same send may succeed later; anything else drops it from the queue.
 * `unavailable`: the server could not store it just now (docs/protocol.md, "Failures and retries"). */
const RETRYABLE_SEND_ERRORS = new Set(["rate_limited", "unavailable"]);
const MAX_TRACKED_HOLES = 2000;
/** The most `hello.resume` entries the server accepts (docs/protocol.md); more would be refused. */
const RESUME_LIMIT: Record<Role, number> = { visitor: 20, agent: 100 };

export class RealtimeClient {
  private readonly opts: Required<
    Omit<RealtimeClientOptions, "token" | "storage" | "helloExtra" | "network" | "storageKey">
  > &
    RealtimeClientOptions;
  private readonly events = new Emitter<ClientEvents>();
  private readonly outbox: Outbox;
  private _state: ConnectionState = "idle";
  private kind: TransportKind | null = null;
  private mode: TransportKind = "websocket";
  private current: Transport | null = null;
  private currentId = 0;
  private probe: Transport | null = null;
  private wsFailures = 0;
  private attempt = 0;
  private seqs = new Map<string, SeqState>();
  private viewing = new Set<string>();
  private inflight = new Map<string, number>();
  private pendingReads = new Map<string, number>();
  private presence: string | null = null;
  private inboxSince: unknown = null;
  /** The watermark the last `hello` carried, and whether a `welcome` came before (agents). */
  private helloSince: unknown = null;
  private welcomed = false;
  private lastFrameAt = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private probeTimer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private pongTimer: ReturnType<typeof setTimeout> | null = null;
  private ackTimer: ReturnType<typeof setTimeout> | null = null;
  private gapTimers = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly onOnline = () => this.reconnectNow(true);
  private readonly onOffline = () => {
    if (this.current) this.dropCurrent({ wasOpen: true, reason: "offline" });
  };

  constructor(options: RealtimeClientOptions) {
    this.opts = {
      backoff: DEFAULT_BACKOFF,
      wsFailuresBeforePolling: 2,
      probeIntervalMs: 30_000,
      restartJitterMs: 1_000,
      pingIntervalMs: 25_000,
      pongTimeoutMs: 10_000,
      ackTimeoutMs: 10_000,
      gapDelayMs: 1_000,
      random: Math.random,
      now: Date.now,
      newId: () => crypto.randomUUID(),
      ...options,
    };
    this.outbox = new Outbox(options.storage ?? null, options.storageKey ?? `switchboard:outbox:${options.role}`);
  }

  // ---- public API ---------------------------------------------------------------------------

  get state(): ConnectionState {
    return this._state;
  }

  get transport(): TransportKind | null {
    return this.kind;
  }

  on<K extends keyof ClientEvents>(event: K, cb: (...args: ClientEvents[K]) => void): () => void {
    return this.events.on(event, cb);
  }

  start(): void {
    if (this._state !== "idle" && this._state !== "closed") return;
    this.opts.network?.addEventListener("online", this.onOnline);
    this.opts.network?.addEventListener("offline", this.onOffline);
    this.attempt = 0;
    this.connect();
  }

  stop(): void {
    this.opts.network?.removeEventListener("online", this.onOnline);
    this.opts.network?.removeEventListener("offline", this.onOffline);
    this.clearTimers();
    this.current?.close();
    this.probe?.close();
    this.current = this.probe = null;
    this.currentId++;
    this.kind = null;
    this.setState("closed");
  }

  /** Follow `conversation` from `lastSeq` (0 = replay everything) on every (re)connect. */
  track(conversation: string, lastSeq = 0): void {
    const st = this.seqs.get(conversation);
    if (!st) this.seqs.set(conversation, { max: lastSeq, holes: new Set(), requested: new Set() });
  }

  /** Highest seq received for `conversation` (0 if none). */
  lastSeq(conversation: string): number {
    return this.seqs.get(conversation)?.max ?? 0;
  }

  /** Agent: start viewing a conversation; the server replays after `lastSeq` (default: what we have). */
  subscribe(conversation: string, lastSeq?: number): void {
    this.track(conversation, lastSeq ?? 0);
    this.viewing.add(conversation);
    this.sendNow({ type: "subscribe", conversation, last_seq: lastSeq ?? this.resumePoint(conversation) });
  }

  unsubscribe(conversation: string): void {
    this.viewing.delete(conversation);
    this.sendNow({ type: "unsubscribe", conversation });
    // Stop tracking it too (a later subscribe says where to start), unless a send to it is still
    // queued: its ack must still be matched on resume. Otherwise an agent's resume list would grow
    // with every conversation opened in a long session, past what the server accepts.
    if (!this.outbox.list().some((item) => item.conversation === conversation)) {
      this.seqs.delete(conversation);
      const timer = this.gapTimers.get(conversation);
      if (timer) clearTimeout(timer);
      this.gapTimers.delete(conversation);
    }
  }

  /**
   * Queue a message. It is persisted at once and sent whenever a connection is up, with the same
   * `client_id` until acknowledged (so the server stores it exactly once).
   */
  send(input: {
    conversation: string | null;
    body: string;
    kind?: string;
    attachment?: string;
    meta?: Record<string, unknown>;
    clientId?: string;
  }): PendingSend {
    const item: PendingSend = {
      client_id: input.clientId ?? this.opts.newId(),
      conversation: input.conversation,
      body: input.body,
      kind: input.kind ?? "text",
      queued_at: this.opts.now(),
    };
    if (input.attachment) item.attachment = input.attachment;
    if (input.meta) item.meta = input.meta;
    this.outbox.add(item);
    this.events.emit("queue", this.outbox.list());
    this.flush();
    return item;
  }

  /** Sends not acknowledged yet, oldest first (to show as "sending" after a reload). */
  pending(): PendingSend[] {
    return this.outbox.list();
  }

  typing(conversation: string, on: boolean): void {
    this.sendNow({ type: "typing", conversation, on });
  }

  /** Mark read up to `seq`; kept and sent on reconnect if the connection is down. */
  read(conversation: string, seq: number): void {
    this.pendingReads.set(conversation, Math.max(seq, this.pendingReads.get(conversation) ?? 0));
    if (this.sendNow({ type: "read", conversation, seq })) this.pendingReads.delete(conversation);
  }

  /** Agent availability, re-sent after each reconnect. */
  setPresence(status: "available" | "away"): void {
    this.presence = status;
    this.sendNow({ type: "presence", status });
  }

  /** Send any other frame now if connected; returns false (and drops it) when not connected. */
  sendNow(frame: ClientFrame): boolean {
    if (!this.connected || !this.current) return false;
    this.current.send([frame]);
    return true;
  }

  /** Skip the backoff wait (e.g. the user clicked "retry", or the browser came back online). */
  reconnectNow(preferWebSocket = false): void {
    if (this._state !== "reconnecting" && this._state !== "connecting") return;
    if (preferWebSocket) {
      this.mode = "websocket";
      this.wsFailures = 0;
    }
    if (this.current) return; // an attempt is already under way
    this.clearTimer("reconnectTimer");
    this.attempt = 0;
    this.connect();
  }

  // ---- connection state machine -------------------------------------------------------------

  private get connected(): boolean {
    return this._state === "open" || this._state === "polling";
  }

  private setState(state: ConnectionState): void {
    if (this._state === state && state !== "open" && state !== "polling") return;
    this._state = state;
    this.events.emit("state", state, this.kind);
  }

  private hello(): ClientFrame {
    const resume: Record<string, number> = {};
    for (const conv of this.resumeList()) resume[conv] = this.resumePoint(conv);
    const frame: ClientFrame = { type: "hello", resume };
    if (this.opts.role === "visitor") {
      const token = this.opts.token?.();
      if (token) frame.token = token;
    } else {
      frame.inbox_since = this.inboxSince;
      this.helloSince = this.inboxSince;
    }
    return { ...frame, ...(this.opts.helloExtra?.() ?? {}) };
  }

  private connect(): void {
    this.clearTimer("reconnectTimer");
    const kind = this.mode;
    const id = ++this.currentId;
    this.setState(this._state === "idle" || this._state === "closed" ? "connecting" : "reconnecting");
    const factory = kind === "websocket" ? this.opts.websocket : this.opts.longpoll;
    const transport = factory({
      onOpen: () => id === this.currentId && this.opened(kind),
      onFrames: (frames) => id === this.currentId && this.receive(frames),
      onClose: (info) => id === this.currentId && this.closed(kind, info),
    });
    this.current = transport;
    transport.open(this.hello());
  }

  private opened(kind: TransportKind): void {
    this.kind = kind;
    // A socket may open and be refused at once (1013): its back-off restarts at its `welcome`.
    // A long-poll opens with the answer that carries the welcome.
    if (kind === "longpoll") this.attempt = 0;
    this.lastFrameAt = this.opts.now();
    if (kind === "websocket") {
      this.wsFailures = 0;
      this.mode = "websocket";
      this.stopProbing();
      this.startHeartbeat();
      this.setState("open");
    } else {
      this.setState("polling");
      this.scheduleProbe();
    }
    this.afterConnect();
  }

  /** Replays subscriptions, presence and reads, then sends the queue (all with their original ids). */
  private afterConnect(): void {
    this.inflight.clear();
    for (const st of this.seqs.values()) st.requested.clear();
    if (this.opts.role === "agent") {
      for (const conv of this.viewing) {
        this.current?.send([{ type: "subscribe", conversation: conv, last_seq: this.resumePoint(conv) }]);
      }
      if (this.presence) this.current?.send([{ type: "presence", status: this.presence }]);
    }
    for (const [conversation, seq] of this.pendingReads) this.current?.send([{ type: "read", conversation, seq }]);
    this.pendingReads.clear();
    this.flush();
  }

  private closed(kind: TransportKind, info: CloseInfo): void {
    this.current = null;
    this.currentId++;
    this.kind = null;
    this.stopHeartbeat();
    this.clearTimer("ackTimer");
    if (info.code !== undefined && FATAL_CLOSE_CODES.has(info.code)) {
      // Retrying with the same credentials cannot help: the app re-authenticates and calls start().
      this.clearTimers();
      this.probe?.close();
      this.probe = null;
      this.setState("closed");
      this.events.emit("error", { type: "error", code: info.code === 4401 ? "unauthenticated" : "origin_forbidden", close_code: info.code, detail: info.reason ?? "" }, undefined);
      return;
    }
    // "Not now" (1013: Redis is down; 4429: flooding) is never retried at once (docs/protocol.md,
    // "Failures and retries"), and a socket that opened before it did not fail as a WebSocket.
    const later = info.code !== undefined && RETRY_LATER_CLOSE_CODES.has(info.code);
    // A node told to stop (rolling deploy) closes its sockets with 1012: another node is up, so
    // come back promptly, spread over restartJitterMs; once in a row, then back-off as usual.
    const restart = info.code === SERVICE_RESTART_CLOSE_CODE && this.attempt === 0;
    let immediate = false;
    if (kind === "websocket") {
      if (info.wasOpen || restart) {
        this.wsFailures = 0;
        immediate = this.attempt === 0 && !later; // a drop after a healthy session: try again at once, once
      } else if (++this.wsFailures >= this.opts.wsFailuresBeforePolling) {
        this.mode = "longpoll";
        immediate = !later; // the fallback is not a retry of the same thing: no reason to wait
      }
    }
    this.setState("reconnecting");
    let delay = immediate ? 0 : backoffDelay(this.attempt, this.opts.backoff, this.opts.random);
    if (restart) delay = this.opts.random() * this.opts.restartJitterMs;
    if (info.retryAfterMs !== undefined) delay = Math.max(delay, info.retryAfterMs);
    this.attempt++;
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  private dropCurrent(info: CloseInfo): void {
    const kind = this.kind ?? this.mode;
    this.current?.close();
    this.closed(kind, info);
  }

  // ---- probing for a WebSocket while long-polling -------------------------------------------

  private scheduleProbe(): void {
    this.clearTimer("probeTimer");
    const jittered = this.opts.probeIntervalMs * (0.75 + 0.5 * this.opts.random());
    this.probeTimer = setTimeout(() => this.runProbe(), jittered);
  }

  private runProbe(): void {
    this.probeTimer = null;
    if (this._state !== "polling" || this.probe) return;
    let adopted = false;
    let id = -1;
    const probe = this.opts.websocket({
      onOpen: () => {
        if (this.probe !== probe || this._state !== "polling") return;
        // Upgrade: the socket already carried a `hello` with our resume points, so nothing is
        // missed; whatever the poll had in flight is replayed or deduplicated.
        this.probe = null;
        this.current?.close();
        this.current = probe;
        id = ++this.currentId;
        adopted = true;
        this.opened("websocket");
      },
      onFrames: (frames) => adopted && id === this.currentId && this.receive(frames),
      onClose: (info) => {
        if (adopted) {
          if (id === this.currentId) this.closed("websocket", info);
          return;
        }
        if (this.probe === probe) {
          this.probe = null;
          if (this._state === "polling") this.scheduleProbe();
        }
      },
    });
    this.probe = probe;
    probe.open(this.hello());
  }

  private stopProbing(): void {
    this.clearTimer("probeTimer");
    this.probe?.close();
    this.probe = null;
  }

  // ---- heartbeat ----------------------------------------------------------------------------

  private startHeartbeat(): void {
    this.stopHeartbeat();
    this.pingTimer = setInterval(() => {
      if (!this.current || this.kind !== "websocket") return;
      const sentAt = this.opts.now();
      this.current.send([{ type: "ping" }]);
      this.clearTimer("pongTimer");
      this.pongTimer = setTimeout(() => {
        if (this.lastFrameAt < sentAt) this.dropCurrent({ wasOpen: true, reason: "heartbeat timeout" });
      }, this.opts.pongTimeoutMs);
    }, this.opts.pingIntervalMs);
  }

  private stopHeartbeat(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = null;
    this.clearTimer("pongTimer");
  }

  // ---- sending ------------------------------------------------------------------------------

  private flush(): void {
    if (!this.connected || !this.current) return;
    // Long-poll sends are separate HTTP requests that could overtake each other: one batch at a time.
    if (this.kind === "longpoll" && this.inflight.size) return;
    const frames: ClientFrame[] = [];
    let firstMessageInFlight = false;
    for (const item of this.outbox.list()) {
      if (item.conversation === null) {
        // Only one "start a conversation" send at a time: the others join the conversation it creates.
        if (firstMessageInFlight) break;
        firstMessageInFlight = true;
      }
      if (this.inflight.has(item.client_id)) continue;
      const frame: ClientFrame = {
        type: "send",
        client_id: item.client_id,
        conversation: item.conversation,
        body: item.body,
        kind: item.kind,
      };
      if (item.attachment) frame.attachment = item.attachment;
      frames.push(frame);
      this.inflight.set(item.client_id, this.opts.now());
    }
    if (frames.length) this.current.send(frames);
    this.scheduleAckCheck();
  }

  private scheduleAckCheck(): void {
    if (this.ackTimer || !this.inflight.size) return;
    this.ackTimer = setTimeout(() => {
      this.ackTimer = null;
      const cutoff = this.opts.now() - this.opts.ackTimeoutMs;
      for (const [id, at] of this.inflight) if (at <= cutoff) this.inflight.delete(id);
      this.flush();
      this.scheduleAckCheck();
    }, this.opts.ackTimeoutMs);
  }

  // ---- receiving ----------------------------------------------------------------------------

  private receive(frames: ServerFrame[]): void {
    this.lastFrameAt = this.opts.now();
    for (const frame of frames) {
      if ("inbox_since" in frame && frame.inbox_since !== undefined) this.inboxSince = frame.inbox_since;
      switch (frame.type) {
        case "ack":
          this.onAck(frame);
          break;
        case "message":
          if (isMessage(frame.message)) this.deliver(frame.message, prevSeq(frame));
          break;
        case "error":
          this.onError(frame);
          break;
        case "pong":
          this.closeRequestedHoles();
          break;
        case "conversation":
          this.onConversation(frame);
          this.events.emit("conversation", frame);
          break;
        case "conversations": {
          const rows = Array.isArray(frame.conversations) ? frame.conversations : [];
          const each = rows.map((conversation): ServerFrame => ({ type: "conversation", conversation, inbox_since: frame.inbox_since }));
          each.forEach((one) => this.onConversation(one));
          this.events.emit("conversations", each);
          break;
        }
        case "welcome":
          this.attempt = 0;
          this.events.emit("welcome", frame);
          this.onWelcome(frame);
          break;
        case "inbox_resync":
          this.resync();
          break;
        case "typing":
        case "read":
        case "presence":
          this.events.emit(frame.type, frame);
          break;
      }
      this.events.emit("frame", frame);
    }
  }

  /** Agents: reload the inbox when the server could not replay what changed, as a fresh client does. */
  private onWelcome(frame: ServerFrame): void {
    if (this.opts.role !== "agent") return;
    const first = !this.welcomed;
    this.welcomed = true;
    // Without a watermark the server replays nothing: after the first connection the inbox
    // shown may be stale, so it is reloaded like after an `inbox_resync`.
    if (frame.inbox_resync === true || (!first && (this.helloSince === null || this.helloSince === undefined))) {
      this.resync();
    }
  }

  private resync(): void {
    // The REST reload is the new baseline; the next frame's `inbox_since` continues from it.
    this.inboxSince = null;
    this.events.emit("resync");
  }

  private onAck(frame: ServerFrame): void {
    const clientId = String(frame.client_id ?? "");
    const message = frame.message;
    const item = this.outbox.remove(clientId);
    this.inflight.delete(clientId);
    if (isMessage(message)) {
      if (item && item.conversation === null) this.outbox.adoptConversation(message.conversation);
      this.track(message.conversation, 0);
      this.events.emit("ack", clientId, message);
      this.deliver(message, prevSeq(frame));
    }
    if (item) this.events.emit("queue", this.outbox.list());
    this.flush();
  }

  private onError(frame: ServerFrame): void {
    const clientId = typeof frame.client_id === "string" ? frame.client_id : null;
    let dropped: PendingSend | undefined;
    if (clientId) {
      this.inflight.delete(clientId);
      if (!RETRYABLE_SEND_ERRORS.has(String(frame.code))) {
        dropped = this.outbox.remove(clientId);
        if (dropped) this.events.emit("queue", this.outbox.list());
      }
    }
    this.events.emit("error", frame, dropped);
    if (clientId && !dropped) {
      // Retryable (rate limited, or not stored just now): try again after a pause rather than at once.
      this.inflight.set(clientId, this.opts.now());
      this.scheduleAckCheck();
    } else {
      this.flush();
    }
  }

  private onConversation(frame: ServerFrame): void {
    const conv = frame.conversation as { id?: string; last_seq?: number } | undefined;
    if (!conv?.id || typeof conv.last_seq !== "number") return;
    const st = this.seqs.get(conv.id);
    // A conversation update says how far it goes: if we follow it and are behind, that is a gap.
    if (st && conv.last_seq > st.max) {
      for (let s = st.max + 1; s <= conv.last_seq && st.holes.size < MAX_TRACKED_HOLES; s++) st.holes.add(s);
      st.max = conv.last_seq;
      this.scheduleGapCheck(conv.id);
    }
  }

  /**
   * Emit a message once: duplicates (replays, ack + broadcast) are dropped by seq.
   *
   * `prev_seq` (when the server sends it) is the seq of the previous message this connection may
   * see, so seqs between it and this one are messages hidden from us (internal notes, for a
   * visitor), not holes. Without it, every skipped seq is a hole.
   */
  private deliver(message: Message, prev?: number): void {
    let st = this.seqs.get(message.conversation);
    if (!st) {
      // Not followed yet (e.g. an ack starting a conversation): start following from here.
      st = { max: message.seq - 1, holes: new Set(), requested: new Set() };
      this.seqs.set(message.conversation, st);
    }
    if (message.seq <= st.max) {
      if (!st.holes.delete(message.seq)) return;
      st.requested.delete(message.seq);
    } else {
      const lastMissing = prev === undefined ? message.seq - 1 : Math.min(prev, message.seq - 1);
      for (let s = st.max + 1; s <= lastMissing && st.holes.size < MAX_TRACKED_HOLES; s++) st.holes.add(s);
      st.max = message.seq;
      // Keep `seqs` in order of last activity: the most recent conversations are resumed first.
      this.seqs.delete(message.conversation);
      this.seqs.set(message.conversation, st);
    }
    this.events.emit("message", message);
    if (st.holes.size) this.scheduleGapCheck(message.conversation);
  }

  /**
   * The conversations to name in `hello.resume`, within the server's limit: conversations with a
   * queued send and (agents) those being viewed first, then the most recently active. `seqs` is
   * kept in order of last activity (see `deliver`), so the newest are at its end.
   */
  private resumeList(): string[] {
    const limit = RESUME_LIMIT[this.opts.role];
    const first = new Set<string>();
    for (const item of this.outbox.list()) if (item.conversation && this.seqs.has(item.conversation)) first.add(item.conversation);
    for (const conv of this.viewing) if (this.seqs.has(conv)) first.add(conv);
    const chosen = [...first].slice(0, limit);
    const recent = [...this.seqs.keys()].reverse();
    for (const conv of recent) {
      if (chosen.length >= limit) break;
      if (!first.has(conv)) chosen.push(conv);
    }
    return chosen;
  }

  private resumePoint(conversation: string): number {
    const st = this.seqs.get(conversation);
    if (!st) return 0;
    let point = st.max;
    for (const h of st.holes) if (h - 1 < point) point = h - 1;
    return point;
  }

  private scheduleGapCheck(conversation: string): void {
    if (this.gapTimers.has(conversation)) return;
    this.gapTimers.set(
      conversation,
      setTimeout(() => {
        this.gapTimers.delete(conversation);
        const st = this.seqs.get(conversation);
        if (!st || !this.connected) return;
        const open = [...st.holes].filter((h) => !st.requested.has(h));
        if (!open.length) return;
        const from = Math.min(...open) - 1;
        if (!this.sendNow({ type: "subscribe", conversation, last_seq: from })) return;
        for (const h of open) st.requested.add(h);
        // Frames on one connection arrive in order: when the pong to this ping arrives, the replay
        // is complete, and holes still open are messages this client may not see (a visitor never
        // receives internal notes) — see docs/protocol.md, "Delivery rules".
        this.sendNow({ type: "ping" });
      }, this.opts.gapDelayMs),
    );
  }

  private closeRequestedHoles(): void {
    for (const st of this.seqs.values()) {
      for (const h of st.requested) st.holes.delete(h);
      st.requested.clear();
    }
  }

  // ---- timers -------------------------------------------------------------------------------

  private clearTimer(name: "reconnectTimer" | "probeTimer" | "pongTimer" | "ackTimer"): void {
    const t = this[name];
    if (t) clearTimeout(t);
    this[name] = null;
  }

  private clearTimers(): void {
    this.clearTimer("reconnectTimer");
    this.clearTimer("probeTimer");
    this.clearTimer("ackTimer");
    this.stopHeartbeat();
    for (const t of this.gapTimers.values()) clearTimeout(t);
    this.gapTimers.clear();
  }
}

function prevSeq(frame: ServerFrame): number | undefined {
  return typeof frame.prev_seq === "number" ? frame.prev_seq : undefined;
}

function isMessage(v: unknown): v is Message {
  const m = v as Message;
  return !!m && typeof m.id === "string" && typeof m.conversation === "string" && typeof m.seq === "number";
}
