/** The small interface between the transport-agnostic client core and a concrete transport. */
import type { ClientFrame, ServerFrame } from "./types";

export interface CloseInfo {
  /** True when the transport had opened before it closed (a drop, not a failed open). */
  wasOpen: boolean;
  /** WebSocket close code, or the HTTP status mapped to one (4401, 4403, 4429, 1013) for long-polling. */
  code?: number;
  reason?: string;
  /** The server's `Retry-After`, in ms: do not come back sooner. */
  retryAfterMs?: number;
}

export interface TransportHandlers {
  /** The transport is connected and `hello` has been handed to the server. */
  onOpen(): void;
  onFrames(frames: ServerFrame[]): void;
  /** Called at most once per transport, after which it is dead. */
  onClose(info: CloseInfo): void;
}

export interface Transport {
  /** Start connecting; `hello` is the first frame the server must see. */
  open(hello: ClientFrame): void;
  send(frames: ClientFrame[]): void;
  /** Tear down without calling `onClose`. */
  close(): void;
}

export type TransportFactory = (handlers: TransportHandlers) => Transport;

/** Close codes after which retrying cannot help (docs/protocol.md, "Failures and retries"). */
export const FATAL_CLOSE_CODES = new Set([4401, 4403]);
/**
 * Close codes that say "not now": 1013 (a part of the server, e.g. Redis, is down; HTTP 503) and
 * 4429 (flooding; HTTP 429). Always retried with back-off, never at once, even after an open socket.
 */
export const RETRY_LATER_CLOSE_CODES = new Set([1013, 4429]);
/**
 * 1012, "service restart": the node is stopping (a rolling deploy) and every socket on it is told at
 * once. Reconnected promptly (through the load balancer, to another node) after a random pause of up
 * to `restartJitterMs`, so a node's sockets do not all land in the same instant; never a reason to
 * fall back to long-polling.
 */
export const SERVICE_RESTART_CLOSE_CODE = 1012;

/** HTTP status → the close code a long-poll reports it as (undefined: a plain retryable failure). */
export function closeCodeOfStatus(status: number): number | undefined {
  if (status === 401) return 4401;
  if (status === 403) return 4403;
  if (status === 429) return 4429;
  if (status === 503) return 1013;
  return undefined;
}

/** `Retry-After` (seconds, or an HTTP date) in ms from now; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now: number = Date.now()): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
