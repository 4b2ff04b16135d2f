/** Formatting helpers for times, durations, sizes and names shown in the dashboard. */
import type { Contact, Conversation, LastMessage, Message, MessageEmail } from "./api";
import { locale, t } from "../i18n";

export function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  if (!parts.length) return "?";
  const first = Array.from(parts[0])[0] || "";
  const last = parts.length > 1 ? Array.from(parts[parts.length - 1])[0] || "" : "";
  return (first + last).toUpperCase();
}

export function contactName(contact: Contact | null | undefined): string {
  if (!contact) return t("Visitor");
  return contact.name || contact.email || t("Visitor {id}", { id: contact.id.slice(-4) });
}

export function relativeTime(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "";
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return "";
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 45) return t("now");
  if (s < 3600) return t("{n}m", { n: Math.round(s / 60) });
  if (s < 86400) return t("{n}h", { n: Math.round(s / 3600) });
  if (s < 7 * 86400) return t("{n}d", { n: Math.round(s / 86400) });
  return new Date(ms).toLocaleDateString(locale(), { month: "short", day: "numeric" });
}

export function clockTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "" : d.toLocaleTimeString(locale(), { hour: "2-digit", minute: "2-digit" });
}

export function dayLabel(iso: string): string {
  const d = new Date(iso);
  const today = new Date();
  const yesterday = new Date(Date.now() - 86400000);
  if (d.toDateString() === today.toDateString()) return t("Today");
  if (d.toDateString() === yesterday.toDateString()) return t("Yesterday");
  return d.toLocaleDateString(locale(), { weekday: "long", month: "short", day: "numeric" });
}

export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "—";
  const s = Math.round(seconds);
  if (s < 60) return t("{s}s", { s });
  if (s < 3600) return t("{m}m {s}s", { m: Math.floor(s / 60), s: String(s % 60).padStart(2, "0") });
  return t("{h}h {m}m", { h: Math.floor(s / 3600), m: String(Math.floor((s % 3600) / 60)).padStart(2, "0") });
}

export function fileSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** The visitor's local time ("06:19 PM"), from the IANA zone the widget reported; "" when unknown. */
export function localTime(timezone: string | undefined, now = new Date()): string {
  if (!timezone) return "";
  try {
    return now.toLocaleTimeString(locale(), { timeZone: timezone, hour: "2-digit", minute: "2-digit" });
  } catch {
    return "";
  }
}

/** A conversation status as shown on a chip: "open" → "Open". */
export function statusLabel(status: string): string {
  const labels: Record<string, string> = {
    open: t("Open"), pending: t("Pending"), snoozed: t("Snoozed"), resolved: t("Resolved"),
  };
  return labels[status] ?? (status ? status[0].toUpperCase() + status.slice(1) : "");
}

/** An agent's presence as a word: "online" → "Online". */
export function presenceLabel(status: string): string {
  const labels: Record<string, string> = { online: t("Online"), away: t("Away"), offline: t("Offline") };
  return labels[status] ?? status;
}

/** A day and time for snoozes: "Tue 09:00", or just "09:00" today. */
export function shortDateTime(iso: string | Date | null | undefined, now = new Date()): string {
  if (!iso) return "";
  const d = iso instanceof Date ? iso : new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const time = d.toLocaleTimeString(locale(), { hour: "2-digit", minute: "2-digit" });
  if (d.toDateString() === now.toDateString()) return time;
  const farOff = Math.abs(d.getTime() - now.getTime()) > 6 * 86400000;
  const day = d.toLocaleDateString(locale(), farOff ? { month: "short", day: "numeric" } : { weekday: "short" });
  return `${day} ${time}`;
}

/** An attribute key as a label: "signed_up" → "Signed up", "plan" → "Plan". */
export function attributeLabel(key: string): string {
  const words = key.replace(/[_-]+/g, " ").replace(/([a-z])([A-Z])/g, "$1 $2").trim().toLowerCase();
  return words ? words[0].toUpperCase() + words.slice(1) : key;
}

export type TextPart = string | { href: string; text: string };

/**
 * Splits message text into plain runs and http(s) links (trailing punctuation stays text).
 * Only these two schemes become links; the caller renders both with textContent.
 */
export function linkParts(text: string): TextPart[] {
  const parts: TextPart[] = [];
  const re = /\bhttps?:\/\/[^\s<>"'`]+/gi;
  let last = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    let url = m[0];
    // "(see https://x.example/a)." — the closing bracket and full stop are not part of the link.
    while (/[.,;:!?'")\]}>]$/.test(url)) {
      const close = url.slice(-1);
      const open = close === ")" ? "(" : close === "]" ? "[" : close === "}" ? "{" : "";
      if (open && url.split(open).length > url.split(close).length - 1) break;
      url = url.slice(0, -1);
    }
    if (url.length < 9) continue;
    if (m.index > last) parts.push(text.slice(last, m.index));
    parts.push({ href: url, text: url });
    last = m.index + url.length;
    re.lastIndex = last;
  }
  if (last < text.length) parts.push(text.slice(last));
  return parts;
}

/** A short browser description from a user-agent string. */
export function browserName(ua: string | undefined): string {
  if (!ua) return "";
  const os = /Windows/.test(ua) ? "Windows" : /Android/.test(ua) ? "Android" : /iPhone|iPad/.test(ua) ? "iOS"
    : /Mac OS X/.test(ua) ? "macOS" : /Linux/.test(ua) ? "Linux" : "";
  const m = ua.match(/(Edg|OPR|Firefox|Chrome|Chromium|Version)\/(\d+)/);
  let name = "";
  if (m) {
    const names: Record<string, string> = { Edg: "Edge", OPR: "Opera", Version: "Safari" };
    name = `${names[m[1]] || m[1]} ${m[2]}`;
  }
  if (name && os) return t("{browser} on {os}", { browser: name, os });
  return name || os || ua.slice(0, 60);
}

export function messagePreview(msg: Message | null | undefined): string {
  if (!msg) return "";
  if (msg.kind === "attachment" || (msg.attachment && !msg.body)) return t("Attachment: {name}", { name: msg.attachment?.name || t("file") });
  if (msg.kind === "note") return t("Note: {text}", { text: msg.body });
  return msg.body;
}

/** What a conversation's last message says in one line (its inbox row): text, "Note: …", or its file. */
export function lastMessageText(msg: LastMessage | null | undefined): string {
  if (!msg) return "";
  if (msg.kind === "attachment" || (msg.attachment && !msg.preview)) return t("Attachment: {name}", { name: msg.attachment?.name || t("file") });
  if (msg.kind === "note") return t("Note: {text}", { text: msg.preview });
  return msg.preview;
}

/** One line describing a history event (assignment, transfer, status change). */
export function eventText(msg: Message, teamName: (id: string) => string = () => ""): string {
  const data = (msg.data || {}) as Record<string, unknown>;
  if (msg.body) return msg.body;
  const actor = msg.author.name || "";
  // Whole sentences with and without the one who did it, so each language orders its own words.
  const str = (v: unknown) => (typeof v === "string" ? v : "");
  switch (str(data.event)) {
    case "assigned": {
      const who = str(data.assignee_name);
      if (!who) return actor ? t("{actor} unassigned the conversation", { actor }) : t("Unassigned the conversation");
      if (actor && actor === who) return t("{name} took the conversation", { name: who });
      return actor ? t("{actor} assigned to {name}", { actor, name: who }) : t("Assigned to {name}", { name: who });
    }
    case "team_changed": {
      const team = str(data.team) ? teamName(str(data.team)) || t("another team") : "";
      return team ? (actor ? t("{actor} transferred to {team}", { actor, team }) : t("Transferred to {team}", { team })) : (actor ? t("{actor} removed the team", { actor }) : t("Removed the team"));
    }
    case "status_changed": {
      const status = str(data.status);
      if (status === "resolved") return actor ? t("{actor} resolved the conversation", { actor }) : t("Resolved the conversation");
      if (status === "snoozed") return actor ? t("{actor} snoozed the conversation", { actor }) : t("Snoozed the conversation");
      if (status === "pending") return actor ? t("{actor} marked the conversation pending", { actor }) : t("Marked the conversation pending");
      if (status === "open") {
        return str(data.previous) === "snoozed" && !actor ? t("Snooze ended") : (actor ? t("{actor} reopened the conversation", { actor }) : t("Reopened the conversation"));
      }
      return actor ? t("{actor} set status to {status}", { actor, status: statusLabel(status) }) : t("Set status to {status}", { status: statusLabel(status) });
    }
    case "channel_changed":
      return str(data.channel) === "email"
        ? (actor ? t("{actor} switched replies to email", { actor }) : t("Switched replies to email"))
        : (actor ? t("{actor} switched replies to the chat", { actor }) : t("Switched replies to the chat"));
    default:
      return str(data.event).replace(/_/g, " ") || t("Update");
  }
}

/** Where an agent's reply will go, for the bar above the composer: null for a live chat. */
export function replyChannelText(conv: Pick<Conversation, "channel" | "email_address">): string | null {
  if (conv.channel !== "email") return null;
  return conv.email_address ? t("Replies go by email to {address}", { address: conv.email_address }) : t("Replies go by email");
}

/** The line above a message that came in by email: who sent it, and its subject. */
export function emailLine(email: MessageEmail | undefined): string | null {
  if (!email) return null;
  const from = email.from_name && email.from_name !== email.from ? `${email.from_name} <${email.from}>` : email.from;
  return email.subject ? `${from} · ${email.subject}` : from;
}

/** Whether the agent may switch this conversation's replies to email (the visitor needs an address). */
export function canEmail(conv: Pick<Conversation, "email_address" | "contact">): boolean {
  return !!(conv.email_address || conv.contact?.email);
}
