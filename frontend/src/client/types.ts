/** Frame and payload shapes of the realtime protocol (docs/protocol.md), as the client sees them. */

export type Role = "visitor" | "agent";

export interface Author {
  type: "agent" | "contact" | "system";
  id?: string;
  name?: string;
}

export interface AttachmentInfo {
  id: string;
  name: string;
  content_type: string;
  size: number;
  url?: string;
}

export interface Message {
  id: string;
  conversation: string;
  seq: number;
  client_id: string | null;
  author: Author;
  kind: "text" | "note" | "event" | "attachment";
  body: string;
  created: string;
  attachment?: AttachmentInfo;
  data?: Record<string, unknown>;
}

/** Any frame the server sends. Known types are narrowed by `type`; others pass through. */
export interface ServerFrame {
  type: string;
  [key: string]: unknown;
}

export interface ClientFrame {
  type: string;
  [key: string]: unknown;
}

/** A `send` the client owes the server until it is acknowledged (persisted across reloads). */
export interface PendingSend {
  client_id: string;
  /** `null` for a visitor's first message: the server starts a conversation. */
  conversation: string | null;
  body: string;
  kind: string;
  attachment?: string;
  /** What the UI may show while pending (e.g. the file name of an attachment). */
  meta?: Record<string, unknown>;
  queued_at: number;
}

export type ConnectionState = "idle" | "connecting" | "open" | "polling" | "reconnecting" | "closed";
export type TransportKind = "websocket" | "longpoll";
