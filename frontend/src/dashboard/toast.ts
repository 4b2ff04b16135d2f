/** Short, quiet notices at the bottom of the screen. */
import { h } from "../shared/dom";

let host: HTMLElement | null = null;

export function toast(text: string, kind: "info" | "error" = "info"): void {
  if (!host) {
    host = h("div", { class: "toasts", role: "status", "aria-live": "polite" });
    document.body.append(host);
  }
  const el = h("div", { class: `toast ${kind}` }, text);
  host.append(el);
  window.setTimeout(() => el.classList.add("out"), 3200);
  window.setTimeout(() => el.remove(), 3600);
}
