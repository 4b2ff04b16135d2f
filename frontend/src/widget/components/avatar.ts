/** Initials on a colour picked from the name: agents, the team, the conversation list. */
import { h } from "../../shared/dom";

export function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  const s = parts.length > 1 ? parts[0][0] + parts[parts.length - 1][0] : (parts[0] ?? "?").slice(0, 2);
  return s.toUpperCase();
}

// Dark enough for the white initials (at least 4.5:1, WCAG AA; tests/frontend/test_text_contrast.py).
const AVATAR_COLORS = ["#0369a1", "#047857", "#b45309", "#be185d", "#6d28d9", "#0f766e", "#c2410c"];

export function avatar(name: string, cls = "avatar"): HTMLElement {
  let hash = 0;
  for (const ch of name) hash = (hash * 31 + ch.charCodeAt(0)) | 0;
  const el = h("span", { class: cls, "aria-hidden": "true", text: initials(name) });
  el.style.background = AVATAR_COLORS[Math.abs(hash) % AVATAR_COLORS.length];
  return el;
}
