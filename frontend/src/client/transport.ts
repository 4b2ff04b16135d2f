/** The small interface between the transport-agnostic client core and a concrete transport. */
import type { ClientFrame, ServerFrame } from "./types";

export interface CloseInfo {
  /** True when the transport had opened before it closed (a drop, not a failed open). */
  wasOpen: boolean;
  /** WebSocket close code, or the HTTP status mapped to one (4401, 4403) for long-polling. */
  code?: number;
  reason?: string;
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

/** Close codes after which retrying cannot help (see docs/protocol.md, "Close codes"). */
export const FATAL_CLOSE_CODES = new Set([4401, 4403]);
