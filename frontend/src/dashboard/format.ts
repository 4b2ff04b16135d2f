/** Formatting helpers for times, durations, sizes and names shown in the dashboard. */
import type { Contact, Message } from "./api";

export function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  if (!parts.length) return "?";
  const first = Array.from(parts[0])[0] || "";
  const last = parts.length > 1 ? Array.from(parts[parts.length - 1])[0] || "" : "";
  return (first + last).toUpperCase();
}

export function contactName(contact: Contact | null | undefined): string {
  if (!contact) return "Visitor";
  return contact.name || contact.email || `Visitor ${contact.id.slice(-4)}`;
}

export function relativeTime(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "";
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 45) return "now";
  if (s < 3600) return `${Math.round(s / 60)}m`;
  if (s < 86400) return `${Math.round(s / 3600)}h`;
  if (s < 7 * 86400) return `${Math.round(s / 86400)}d`;
  return new Date(t).toLocaleDateString(undefined, { month: "short", day: "numeric" });
}

export function clockTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "" : d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
}

export function dayLabel(iso: string): string {
  const d = new Date(iso);
  const today = new Date();
  const yesterday = new Date(Date.now() - 86400000);
  if (d.toDateString() === today.toDateString()) return "Today";
  if (d.toDateString() === yesterday.toDateString()) return "Yesterday";
  return d.toLocaleDateString(undefined, { weekday: "long", month: "short", day: "numeric" });
}

export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "—";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

export function fileSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** The visitor's local time, from the IANA zone the widget reported. */
export function localTime(timezone: string | undefined): string {
  if (!timezone) return "";
  try {
    const time = new Date().toLocaleTimeString(undefined, { timeZone: timezone, hour: "2-digit", minute: "2-digit" });
    return `${time} (${timezone})`;
  } catch {
    return "";
  }
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
  return [name, os].filter(Boolean).join(" on ") || ua.slice(0, 60);
}

export function messagePreview(msg: Message | null | undefined): string {
  if (!msg) return "";
  if (msg.kind === "attachment" || (msg.attachment && !msg.body)) return `Attachment: ${msg.attachment?.name || "file"}`;
  if (msg.kind === "note") return `Note: ${msg.body}`;
  return msg.body;
}

/** One line describing a history event (assignment, transfer, status change). */
export function eventText(msg: Message, teamName: (id: string) => string = () => ""): string {
  const data = (msg.data || {}) as Record<string, unknown>;
  if (msg.body) return msg.body;
  const actor = msg.author.name || "";
  const by = (text: string) => (actor ? `${actor} ${text}` : text[0].toUpperCase() + text.slice(1));
  const str = (v: unknown) => (typeof v === "string" ? v : "");
  switch (str(data.event)) {
    case "assigned": {
      const who = str(data.assignee_name);
      if (!who) return by("unassigned the conversation");
      return actor && actor === who ? `${who} took the conversation` : by(`assigned to ${who}`);
    }
    case "team_changed": {
      const team = str(data.team) ? teamName(str(data.team)) || "another team" : "";
      return team ? by(`transferred to ${team}`) : by("removed the team");
    }
    case "status_changed": {
      const status = str(data.status);
      if (status === "resolved") return by("resolved the conversation");
      if (status === "snoozed") return by("snoozed the conversation");
      if (status === "pending") return by("marked the conversation pending");
      if (status === "open") return str(data.previous) === "snoozed" && !actor ? "Snooze ended" : by("reopened the conversation");
      return by(`set status to ${status}`);
    }
    default:
      return str(data.event).replace(/_/g, " ") || "Update";
  }
}
