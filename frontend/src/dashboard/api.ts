/** The REST calls the dashboard makes (session cookie + CSRF header), with typed shapes. */
import { t } from "../i18n";

export interface AgentRef { id: string; name: string; role?: string }
export interface TeamRef { id: string; name: string }
/** A tenant's label (the REST API's shape, also inside conversation rows). */
export interface Label { id: string; name: string; color?: string }
export interface Contact {
  id: string;
  name: string;
  email: string;
  verified?: boolean;
  attributes?: Record<string, unknown>;
  context?: { page?: string; title?: string; referrer?: string; timezone?: string; language?: string; browser?: string; user_agent?: string };
}
export interface Conversation {
  id: string;
  status: "open" | "pending" | "snoozed" | "resolved";
  contact: Contact;
  assignee: AgentRef | null;
  team: TeamRef | null;
  subject?: string;
  /** How agents' replies reach the visitor: live in the widget, or one email each to `email_address`. */
  channel?: "chat" | "email";
  email_address?: string;
  last_seq: number;
  contact_last_read_seq: number;
  agent_last_read_seq: number;
  offline?: boolean;
  created: string;
  updated: string;
  last_message_at: string | null;
  snoozed_until?: string | null;
  /** Absent in a row a message's wake-up carries: the labels did not change (docs/protocol.md). */
  labels?: Label[];
  /** The newest message other than an event (notes included): what the inbox row previews. */
  last_message: LastMessage | null;
}
/** A conversation's last message as its inbox row carries it (REST and `conversation` frames alike). */
export interface LastMessage {
  id: string;
  seq: number;
  kind: "text" | "note" | "attachment";
  author: Message["author"];
  /** The first 140 characters of the body, runs of whitespace folded to one space. */
  preview: string;
  attachment: { name: string; content_type: string } | null;
  created: string;
}
export interface Attachment { id: string; name: string; content_type: string; size: number; url?: string }
export interface Message {
  id: string;
  conversation: string;
  seq: number;
  client_id: string | null;
  author: { type: "agent" | "contact" | "system"; id?: string; name?: string };
  kind: "text" | "note" | "event" | "attachment";
  body: string;
  created: string;
  attachment?: Attachment;
  data?: Record<string, unknown>;
  /** Set on a message that came in by email. */
  email?: MessageEmail;
}
export interface MessageEmail { subject: string; from: string; from_name: string }
export const PREVIEW_CHARS = 140;

/** The inbox preview of a message this client already has (a live frame or a loaded page), built
 * as the server builds it; events have none. */
export function lastMessageOf(msg: Message): LastMessage | null {
  if (msg.kind === "event") return null;
  return {
    id: msg.id, seq: msg.seq, kind: msg.kind, author: msg.author,
    preview: msg.body.split(/\s+/).filter(Boolean).join(" ").slice(0, PREVIEW_CHARS).trimEnd(),
    attachment: msg.attachment ? { name: msg.attachment.name, content_type: msg.attachment.content_type } : null,
    created: msg.created,
  };
}

export interface Agent {
  id: string;
  name: string;
  role?: string;
  /** From socket `presence` frames. */
  status?: string;
  /** From the REST API: online / away / offline. */
  presence?: string;
  availability?: "available" | "away";
  email?: string;
}
export interface Me {
  id: string;
  name: string;
  email?: string;
  role: "owner" | "admin" | "agent";
  availability?: "available" | "away";
  tenant?: { id: string; name: string; slug?: string; time_zone?: string };
}
export interface Canned { id: string; shortcut: string; title?: string; body: string }
export interface Summary {
  open_now?: number;
  waiting_now?: number;
  online_agents?: number;
  first_response_seconds_today?: number | null;
  resolution_seconds_today?: number | null;
  by_hour_today?: { hour: number | string; conversations?: number; count?: number; messages?: number }[];
  by_day_30d?: { day: string; date?: string; conversations?: number; count?: number; resolved?: number }[];
  [key: string]: unknown;
}
export interface Page<T> { results: T[]; next: string | null }

export class ApiError extends Error {
  /** `fields` names each refused input field with its messages (400s). */
  constructor(public status: number, public code: string, message: string, public fields: Record<string, string[]> = {}) {
    super(message);
  }
}

const BASE = "/api/v1";

function csrfToken(): string {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

export async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  let payload: BodyInit | undefined;
  if (body instanceof FormData) {
    payload = body;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
  const url = path.startsWith("/") && !path.startsWith(BASE) && !path.startsWith("/notifications") ? BASE + path : path;
  const res = await fetch(url, { method, headers, body: payload, credentials: "same-origin" });
  if (res.status === 204) return undefined as T;
  let data: unknown = null;
  const type = res.headers.get("Content-Type") || "";
  if (type.includes("json")) data = await res.json().catch(() => null);
  if (!res.ok) {
    const err = (data || {}) as { code?: string; detail?: string; error?: { code?: string; detail?: string; fields?: Record<string, string[]> } };
    const code = err.code || err.error?.code || String(res.status);
    const detail = err.detail || err.error?.detail || res.statusText || t("Request failed");
    throw new ApiError(res.status, code, detail, err.error?.fields || {});
  }
  return data as T;
}

/** Lists come either as a page `{results, next}` or as a plain array. */
export function asList<T>(data: T[] | Page<T> | null | undefined): T[] {
  if (!data) return [];
  return Array.isArray(data) ? data : data.results || [];
}

export interface ConversationFilters {
  status?: string;
  assignee?: string;
  team?: string;
  label?: string;
  q?: string;
}

/** GET /conversations/counts: how many conversations each inbox tab holds (`mine` is absent for a token). */
export interface ConversationCounts { mine?: number; unassigned: number; all: number }

export function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
}

export const api = {
  me: async (): Promise<Me> => {
    const raw = await request<{ agent: { id: string; name: string; role: Me["role"] } | null; role: string; tenant?: Me["tenant"] }>("GET", "/me");
    if (!raw.agent) throw new ApiError(403, "forbidden", t("Signed in without an agent seat"));
    return { id: raw.agent.id, name: raw.agent.name, role: raw.agent.role, tenant: raw.tenant };
  },
  conversations: (filters: ConversationFilters, cursor?: string | null) =>
    cursor
      ? request<Page<Conversation>>("GET", cursor)
      : request<Page<Conversation>>("GET", `/conversations${query({ ...filters, limit: 50 })}`),
  conversationCounts: (filters: Pick<ConversationFilters, "status" | "team" | "label">) =>
    request<ConversationCounts>("GET", `/conversations/counts${query({ status: filters.status, team: filters.team, label: filters.label })}`),
  conversation: (id: string) => request<Conversation>("GET", `/conversations/${encodeURIComponent(id)}`),
  updateConversation: (id: string, changes: Record<string, unknown>) =>
    request<Conversation>("PATCH", `/conversations/${encodeURIComponent(id)}`, changes),
  messages: (id: string, params: { before?: number; after?: number; limit?: number }) =>
    request<Message[] | Page<Message>>("GET", `/conversations/${encodeURIComponent(id)}/messages${query(params)}`),
  contact: (id: string) => request<Contact>("GET", `/contacts/${encodeURIComponent(id)}`),
  contactConversations: (id: string) =>
    request<Conversation[] | Page<Conversation>>("GET", `/contacts/${encodeURIComponent(id)}/conversations`),
  agents: () => request<Agent[] | Page<Agent>>("GET", "/agents"),
  teams: () => request<TeamRef[] | Page<TeamRef>>("GET", "/teams"),
  labels: () => request<Label[] | Page<Label>>("GET", "/labels"),
  canned: () => request<Canned[] | Page<Canned>>("GET", "/canned-responses"),
  summary: () => request<Summary>("GET", "/reports/summary"),
  upload: (file: File, conversation?: string) => {
    const form = new FormData();
    form.append("file", file);
    if (conversation) form.append("conversation", conversation);
    return request<Attachment>("POST", "/attachments", form);
  },
  vapidKey: () => request<{ public_key?: string; key?: string }>("GET", "/notifications/vapid-public-key"),
  subscribePush: (subscription: PushSubscriptionJSON) =>
    request<unknown>("POST", "/notifications/subscriptions", subscription),
  unsubscribePush: (endpoint: string) =>
    request<unknown>("DELETE", "/notifications/subscriptions", { endpoint }),
};
