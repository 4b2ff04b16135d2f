/** The visitor's conversation list: ordering, previews, "last activity" times (pure helpers). */
import { t } from "../i18n";

export interface Preview {
  author: string; // "contact" | "agent" | "system"
  body: string;
  attachment?: string | null;
  seq: number;
  at: string; // ISO time of that message
}

export interface ConvSummary {
  id: string;
  status: string;
  updated?: string;
  last_message_at?: string | null;
  preview?: Preview | null;
}

/** When the conversation last had a message the visitor can see (else when it last changed). */
export function lastActivity(c: ConvSummary): string {
  return c.preview?.at || c.last_message_at || c.updated || "";
}

/** Most recent first; ties keep a stable order by id. */
export function sortConversations<T extends ConvSummary>(convs: Iterable<T>): T[] {
  return [...convs].sort((a, b) => {
    const ta = Date.parse(lastActivity(a)) || 0;
    const tb = Date.parse(lastActivity(b)) || 0;
    return tb - ta || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  });
}

/** One line of text for the list: "You: …" for the visitor's own message, the file name for a file. */
export function previewText(p: Preview | null | undefined): string {
  if (!p) return t("No messages yet");
  const text = (p.body || (p.attachment ? t("File: {name}", { name: p.attachment }) : "")).replace(/\s+/g, " ").trim();
  return p.author === "contact" ? t("You: {text}", { text }) : text;
}

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

/** "just now", "5 min ago", "3 hr ago", "yesterday", "4 days ago", then a date. */
export function relativeTime(iso: string, now: number, lang: string): string {
  const then = Date.parse(iso);
  if (!iso || isNaN(then)) return "";
  const ago = Math.max(0, now - then);
  if (ago < MIN) return t("just now");
  let rtf: Intl.RelativeTimeFormat;
  try {
    rtf = new Intl.RelativeTimeFormat(lang, { numeric: "auto", style: "short" });
  } catch {
    rtf = new Intl.RelativeTimeFormat("en", { numeric: "auto", style: "short" });
  }
  if (ago < HOUR) return rtf.format(-Math.floor(ago / MIN), "minute");
  if (ago < DAY) return rtf.format(-Math.floor(ago / HOUR), "hour");
  if (ago < 7 * DAY) return rtf.format(-Math.floor(ago / DAY), "day");
  const d = new Date(then);
  const sameYear = d.getFullYear() === new Date(now).getFullYear();
  return d.toLocaleDateString(lang, sameYear ? { month: "short", day: "numeric" } : { year: "numeric", month: "short", day: "numeric" });
}

/** Whether an agent's message the visitor has not read is in the preview (the list's bold + dot). */
export function hasUnread(c: ConvSummary & { contact_last_read_seq?: number }): boolean {
  const p = c.preview;
  return !!p && p.author === "agent" && p.seq > (c.contact_last_read_seq ?? 0);
}

/** A message's time as shown under it, in the widget's language: the time today, else the date
 * too ("3 Dec, 14:05" / "12月3日 14:05"); `full` is the complete date and time for the tooltip. */
export function messageTime(iso: string, lang: string, now: Date = new Date()): { text: string; full: string } | null {
  const d = new Date(iso);
  if (isNaN(d.getTime())) return null;
  const sameDay = d.toDateString() === now.toDateString();
  const text = sameDay
    ? d.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" })
    : d.toLocaleString(lang, {
      month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
      ...(d.getFullYear() === now.getFullYear() ? {} : { year: "numeric" }),
    });
  return { text, full: d.toLocaleString(lang, { dateStyle: "full", timeStyle: "short" }) };
}
