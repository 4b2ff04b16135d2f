/**
 * Switchboard realtime client — shared by the visitor widget and the agent dashboard.
 *
 * Public API (stable; see docs/protocol.md for the frames):
 *
 *   import { createClient } from "../client";
 *   const client = createClient({
 *     role: "visitor" | "agent",
 *     origin?: string,                 // server origin, default location.origin
 *     token?: () => string | null,     // visitor token (bootstrap); agents use the session cookie
 *     storageKey?: string,             // where the outgoing queue is kept (localStorage)
 *     helloExtra?: () => object,       // extra `hello` fields
 *     ...RealtimeClientOptions         // tuning: backoff, probeIntervalMs, ackTimeoutMs, …
 *   });
 *   client.track(conversationId, lastSeq = 0)   // follow a conversation; resumed on every reconnect
 *   client.start() / client.stop()
 *   client.send({conversation | null, body, kind?, attachment?, meta?}) → PendingSend (has client_id)
 *   client.pending()                             // unacknowledged sends (survive reloads)
 *   client.typing(conv, on) · client.read(conv, seq)
 *   client.subscribe(conv, lastSeq?) · client.unsubscribe(conv) · client.setPresence("available"|"away")
 *   client.sendNow(frame)                        // any other frame, only while connected
 *   client.reconnectNow()
 *   client.state: "idle"|"connecting"|"open"|"polling"|"reconnecting"|"closed"; client.transport
 *   client.lastSeq(conv)
 *   client.on(event, cb) → unsubscribe fn; events:
 *     "message" (Message, once per seq, in arrival order — sort by seq to display),
 *     "ack" (client_id, Message), "typing"|"read"|"conversation"|"presence"|"welcome" (frame),
 *     "conversations" (frame[]: the rows of a `conversations` frame, for agents whose `helloExtra` asks for them),
 *     "error" (frame, droppedSend?), "state" (state, transport), "queue" (PendingSend[]),
 *     "frame" (every server frame).
 *
 * Guarantees: WebSocket first; exponential backoff with jitter; after 2 failed WebSocket opens it
 * long-polls and probes for a WebSocket every ~30 s; `hello.resume` carries the last seq per
 * followed conversation; seq gaps trigger `subscribe {conversation, last_seq}`; messages are
 * de-duplicated by seq; sends are persisted before they are sent and retried with the same
 * client_id until acked, so each is stored exactly once, in order, across reloads.
 */
import { RealtimeClient, type RealtimeClientOptions } from "./core";
import { longPollTransport } from "./longpoll";
import type { KeyValueStore } from "./outbox";
import type { Role } from "./types";
import { webSocketTransport } from "./websocket";

export { RealtimeClient } from "./core";
export type { ClientEvents, RealtimeClientOptions } from "./core";
export { backoffDelay } from "./backoff";
export { longPollTransport } from "./longpoll";
export { webSocketTransport } from "./websocket";
export type { Transport, TransportFactory, TransportHandlers, CloseInfo } from "./transport";
export * from "./types";

export interface CreateClientOptions extends Partial<Omit<RealtimeClientOptions, "role">> {
  role: Role;
  origin?: string;
}

/** Reads Django's CSRF cookie (agents' long-poll requests need it). */
export function csrfToken(): string | null {
  const m = /(?:^|;\s*)csrftoken=([^;]+)/.exec(typeof document !== "undefined" ? document.cookie : "");
  return m ? decodeURIComponent(m[1]) : null;
}

function defaultStorage(): KeyValueStore | null {
  try {
    return typeof localStorage !== "undefined" ? localStorage : null;
  } catch {
    return null; // storage blocked (e.g. third-party context): queue in memory only
  }
}

export function createClient(options: CreateClientOptions): RealtimeClient {
  const origin = options.origin ?? location.origin;
  const wsOrigin = origin.replace(/^http/, "ws");
  const role = options.role;
  return new RealtimeClient({
    storage: defaultStorage(),
    network: typeof window !== "undefined" ? window : null,
    websocket: webSocketTransport({ url: `${wsOrigin}/ws/${role}/` }),
    longpoll: longPollTransport({
      baseUrl: `${origin}/rt/${role}`,
      token: role === "visitor" ? options.token : undefined,
      headers: (): Record<string, string> => {
        const t = role === "agent" ? csrfToken() : null;
        return t ? { "X-CSRFToken": t } : {};
      },
    }),
    ...options,
  });
}
