/** HTTP calls the widget makes besides the realtime protocol: bootstrap, upload, profile, rating. */
import { t } from "../i18n";

export interface WidgetSettings {
  greeting: string;
  /** The greeting per language ("zh-Hans": …), as the tenant wrote it or the default's translation. */
  greetings?: Record<string, string>;
  color: string;
  position: "left" | "right";
  team_name: string;
  prechat_form: boolean;
  time_zone?: string;
  /** What uploads may be (the server's ATTACHMENT_MAX_BYTES and allowed types). */
  attachments?: { max_bytes: number; types: Record<string, string[]> };
}

export interface VisitorConversation {
  id: string;
  status: string;
  last_seq: number;
  contact_last_read_seq: number;
  agent_last_read_seq: number;
  assignee: { name: string } | null;
  created?: string;
  updated?: string;
  last_message_at?: string | null;
  /** Bootstrap only: the last message the visitor can see (text or file). */
  preview?: { author: string; body: string; attachment?: string | null; seq: number; at: string } | null;
}

export interface Bootstrap {
  visitor_token: string;
  contact: { id: string; name: string; email: string; verified: boolean };
  conversations: VisitorConversation[];
  settings: WidgetSettings;
  team_online: boolean;
  agents: { name: string; avatar?: string | null }[];
  open_now: boolean;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
  ) {
    super(detail);
  }
}

async function postJson<T>(url: string, body: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      credentials: "omit",
    });
  } catch {
    throw new ApiError(0, "network", t("network error"));
  }
  return parse<T>(res);
}

async function parse<T>(res: Response): Promise<T> {
  let data: Record<string, unknown> = {};
  let readable = true;
  try {
    data = await res.json();
  } catch {
    readable = false; // not JSON (a proxy's error page), or the body was cut off (the page navigated away)
  }
  if (res.ok && (!readable || data === null || typeof data !== "object")) {
    // A success whose body we cannot read is not a success: treating it as one once stored the
    // token `undefined` when a reload aborted the bootstrap, and the visitor lost their chats.
    throw new ApiError(0, "network", t("the response could not be read"));
  }
  if (!res.ok) {
    const err = (data.error ?? data) as { code?: string; detail?: string };
    throw new ApiError(res.status, String(err.code ?? "http_" + res.status), String(err.detail ?? res.statusText));
  }
  return data as T;
}

export async function bootstrap(body: {
  widget_key: string;
  visitor_token: string | null;
  identity: unknown;
  context: Record<string, unknown>;
}): Promise<Bootstrap> {
  const boot = await postJson<Bootstrap>("/rt/widget/bootstrap", body);
  if (typeof boot.visitor_token !== "string" || !boot.visitor_token || !Array.isArray(boot.conversations)) {
    throw new ApiError(0, "bad_response", t("the bootstrap response is incomplete"));
  }
  return boot;
}

export interface UploadedFile {
  id: string;
  name: string;
  content_type: string;
  size: number;
}

export async function upload(token: string, file: File): Promise<UploadedFile> {
  const form = new FormData();
  form.append("token", token);
  form.append("file", file, file.name);
  let res: Response;
  try {
    res = await fetch("/rt/visitor/upload", { method: "POST", body: form, credentials: "omit" });
  } catch {
    throw new ApiError(0, "network", t("network error"));
  }
  const data = await parse<{ attachment?: UploadedFile } & UploadedFile>(res);
  return data.attachment ?? data;
}

export function attachmentUrl(id: string, token: string): string {
  return `/rt/visitor/attachments/${encodeURIComponent(id)}?token=${encodeURIComponent(token)}`;
}

export function saveProfile(body: {
  token: string;
  name?: string;
  email?: string;
  attributes?: Record<string, unknown>;
}): Promise<{ contact: { name: string; email: string } }> {
  return postJson("/widget/profile", body);
}

export function rate(body: { token: string; conversation: string; rating: number; comment: string }): Promise<unknown> {
  return postJson("/widget/rate", body);
}
