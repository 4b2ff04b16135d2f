/**
 * The widget loader: the only script that runs in the host page (`/widget.js`, target ≤ 5 KB gz).
 *
 * It defines nothing but `window.Switchboard`, draws the launcher inside a shadow root of a
 * custom element (so host CSS cannot reach in and ours cannot leak out), and hosts the chat app
 * in an iframe served from our origin. The iframe and the loader talk with postMessage, each
 * checking the other's origin and window.
 *
 * Host page API (calls made before the script loads are queued by the snippet and replayed):
 *   Switchboard('open') · Switchboard('close') · Switchboard('toggle')
 *   Switchboard('identify', {user_id, hash, name?, email?})
 *   Switchboard('setAttributes', {plan: 'pro', ...})
 *   Switchboard('on', 'ready'|'open'|'close'|'unread'|'message', callback)
 */
import { pickLanguage, setLanguage, t } from "../i18n";
import zhHans from "../i18n/zh-Hans/loader.json";
import { h } from "../shared/dom";
import { Emitter } from "../shared/emitter";

/** What the host page can listen to with `Switchboard('on', event, callback)`. */
type HostEvents = { ready: []; open: []; close: []; unread: [count: number]; message: [message: unknown] };
const HOST_EVENTS: readonly string[] = ["ready", "open", "close", "unread", "message"] satisfies (keyof HostEvents)[];
interface Settings {
  color: string;
  position: "left" | "right";
  label: string;
}

(() => {
  const w = window as unknown as { Switchboard?: ((...a: unknown[]) => void) & { q?: unknown[][]; loaded?: boolean } };
  if (w.Switchboard && w.Switchboard.loaded) return; // pasted twice

  const script =
    (document.currentScript as HTMLScriptElement | null) ||
    (document.querySelector('script[src*="/widget.js"][data-key]') as HTMLScriptElement | null);
  if (!script) return;
  const key = script.getAttribute("data-key") || "";
  const lang = script.getAttribute("data-lang") || "";
  // The launcher's few words, in the snippet's data-lang, else the visitor's browser language.
  setLanguage(pickLanguage(lang, navigator.languages || [navigator.language]), { "zh-Hans": zhHans });
  const server = new URL(script.src, location.href).origin;
  const queued = (w.Switchboard && w.Switchboard.q) || [];

  const hostEvents = new Emitter<HostEvents>();

  // --- DOM: <switchboard-widget> with a shadow root ------------------------------------
  const host = document.createElement("switchboard-widget");
  // Inline + !important so host-page rules (even `* {…}`) cannot move or restyle the element.
  host.setAttribute(
    "style",
    "all:initial!important;position:fixed!important;z-index:2147483000!important;bottom:0!important;" +
      "right:0!important;width:0!important;height:0!important;display:block!important;",
  );
  // Open (not closed) so accessibility tools and tests can reach it; isolation comes from the shadow boundary itself.
  const root = host.attachShadow({ mode: "open" });
  const css = root.appendChild(h("style"));
  const params = new URLSearchParams({ key, origin: location.origin });
  if (lang) params.set("lang", lang);
  const iframe = h("iframe", { src: `${server}/widget/frame/?${params}`, title: t("Chat"), allow: "clipboard-write" });
  const frameBox = h("div", { class: "box" }, iframe);
  const button = h("button", { class: "launcher", type: "button", "aria-haspopup": "dialog", "aria-expanded": "false" });
  button.innerHTML = // static markup, no data
    '<svg class="i-chat" viewBox="0 0 24 24" aria-hidden="true"><path d="M12 3C6.5 3 2 6.8 2 11.5c0 2.4 1.2 4.6 3.1 6.1L4 21.5l4.6-2.2c1.1.3 2.2.5 3.4.5 5.5 0 10-3.8 10-8.5S17.5 3 12 3z"/></svg>' +
    '<svg class="i-close" viewBox="0 0 24 24" aria-hidden="true"><path d="M6.4 5 5 6.4 10.6 12 5 17.6 6.4 19l5.6-5.6 5.6 5.6 1.4-1.4-5.6-5.6L19 6.4 17.6 5 12 10.6z"/></svg>' +
    '<span class="badge" aria-hidden="true"></span>';
  const badge = button.querySelector(".badge") as HTMLElement;
  // Launcher first: Tab goes host page → launcher → (open) panel. A closed panel is inert, so
  // neither it nor anything inside its frame can take focus (visibility alone does not stop Tab
  // from entering a hidden iframe's document).
  root.appendChild(button);
  root.appendChild(frameBox);
  frameBox.inert = true;

  let settings: Settings = { color: "#4f46e5", position: "right", label: t("Chat with us") };
  let isOpen = false;
  let ready = false;
  let unread = 0;
  let openWhenReady = false;
  let appLoaded = false;
  // Known before the app boots, so its first bootstrap already carries them.
  let identity: unknown = null;
  let attributes: Record<string, unknown> = {};

  const style = () => {
    const side = settings.position === "left" ? "left" : "right";
    css.textContent =
      `:host{all:initial}` +
      `.launcher{all:initial;box-sizing:border-box;position:fixed;bottom:20px;${side}:20px;width:60px;height:60px;border-radius:50%;` +
      `background:${settings.color};color:#fff;cursor:pointer;display:flex;align-items:center;justify-content:center;` +
      `box-shadow:0 6px 24px rgba(15,23,42,.24),0 2px 6px rgba(15,23,42,.12);transition:transform .18s ease,box-shadow .18s ease;}` +
      `.launcher:hover{transform:scale(1.06)}.launcher:focus-visible{outline:3px solid ${settings.color};outline-offset:3px}` +
      `.launcher svg{position:absolute;width:28px;height:28px;fill:currentColor;transition:opacity .18s,transform .18s}` +
      `.i-close{opacity:0;transform:rotate(-60deg) scale(.6)}.open .i-chat{opacity:0;transform:rotate(60deg) scale(.6)}.open .i-close{opacity:1;transform:none}` +
      `.badge{all:initial;position:absolute;top:-2px;${side === "right" ? "right" : "left"}:-2px;min-width:20px;height:20px;padding:0 6px;box-sizing:border-box;border-radius:10px;` +
      `background:#ef4444;color:#fff;font:600 12px/20px system-ui,-apple-system,"Segoe UI",sans-serif;text-align:center;box-shadow:0 0 0 2px #fff;display:none}` +
      `.box{position:fixed;bottom:92px;${side}:20px;width:380px;height:min(640px,calc(100vh - 112px));border-radius:16px;overflow:hidden;` +
      `box-shadow:0 12px 48px rgba(15,23,42,.28);opacity:0;transform:translateY(12px) scale(.98);transform-origin:bottom ${side};` +
      `visibility:hidden;pointer-events:none;transition:opacity .2s ease,transform .2s ease,visibility 0s linear .2s;background:#fff}` +
      `.box.open{opacity:1;transform:none;visibility:visible;pointer-events:auto;transition:opacity .2s ease,transform .2s ease}` +
      `iframe{all:initial;visibility:inherit;width:100%;height:100%;border:0;display:block}` +
      `@media (max-width:480px){.box{inset:0;width:100%;height:100%;border-radius:0}.launcher.open{display:none}}` +
      `@media (prefers-reduced-motion:reduce){.box,.launcher,.launcher svg{transition:none}}`;
    button.setAttribute("aria-label", isOpen ? t("Close chat") : settings.label);
  };

  const post = (msg: Record<string, unknown>) => {
    if (ready) iframe.contentWindow?.postMessage({ sb: 1, ...msg }, server);
  };

  const setOpen = (open: boolean, fromFrame = false) => {
    if (open === isOpen || !ready) return;
    isOpen = open;
    frameBox.classList.toggle("open", open);
    frameBox.inert = !open;
    button.classList.toggle("open", open);
    button.setAttribute("aria-expanded", String(open));
    style();
    if (!fromFrame) post({ type: open ? "open" : "close" });
    if (open) iframe.focus();
    else if (fromFrame) button.focus();
    hostEvents.emit(open ? "open" : "close");
  };

  button.addEventListener("click", () => setOpen(!isOpen));

  window.addEventListener("message", (ev: MessageEvent) => {
    if (ev.source !== iframe.contentWindow || ev.origin !== server) return;
    const d = ev.data as { sb?: number; type?: string; [k: string]: unknown };
    if (!d || d.sb !== 1) return;
    switch (d.type) {
      case "loaded":
        appLoaded = true;
        // The app asks for what only the host page knows: where the visitor is.
        iframe.contentWindow?.postMessage(
          {
            sb: 1, type: "context", page: location.href, title: document.title, referrer: document.referrer,
            identity, attributes,
          },
          server,
        );
        break;
      case "ready": {
        const s = (d.settings || {}) as Partial<Settings>;
        // Only a hex colour and a known side may reach our CSS text.
        if (typeof s.color === "string" && /^#[0-9a-f]{3}([0-9a-f]{3})?$/i.test(s.color)) settings.color = s.color;
        if (s.position === "left" || s.position === "right") settings.position = s.position;
        if (typeof s.label === "string") settings.label = s.label.slice(0, 80);
        style();
        ready = true;
        button.style.display = "";
        frameBox.style.visibility = "";
        hostEvents.emit("ready");
        if (openWhenReady) setOpen(true);
        break;
      }
      case "close":
        setOpen(false, true);
        break;
      case "open":
        setOpen(true, true);
        break;
      case "unread":
        unread = Number(d.count) || 0;
        badge.textContent = unread > 99 ? "99+" : String(unread);
        badge.style.display = unread ? "block" : "none";
        button.setAttribute("aria-label", (unread ? t("{label} ({n})", { label: settings.label, n: unread }) : settings.label));
        hostEvents.emit("unread", unread);
        break;
      case "message":
        hostEvents.emit("message", d.message);
        break;
    }
  });

  // A frame refused by `frame-ancestors` still fires "load" but never says "loaded". The page's
  // developer learns why in the console; the server has already noted the refusal (install check).
  iframe.addEventListener("load", () => {
    setTimeout(() => {
      if (appLoaded) return;
      fetch(`${server}/widget/check?key=${encodeURIComponent(key)}`)
        .then((r) => r.json())
        .then((d: { allowed?: boolean; origin?: string }) => {
          if (d.allowed === false)
            console.error(
              `Switchboard: this site (${d.origin}) is not in the workspace's allowed origins; ` +
                "allow it in the Switchboard dashboard (Get started → Install the widget) or the admin's widget settings.",
            );
        })
        .catch(() => undefined);
    }, 1500);
  });

  const api = (command: unknown, a?: unknown, b?: unknown) => {
    switch (command) {
      case "open":
        if (ready) setOpen(true);
        else openWhenReady = true;
        break;
      case "close":
        setOpen(false);
        break;
      case "toggle":
        setOpen(!isOpen);
        break;
      case "identify":
        identity = a;
        post({ type: "identify", identity: a });
        break;
      case "setAttributes":
        if (a && typeof a === "object") attributes = { ...attributes, ...(a as Record<string, unknown>) };
        post({ type: "attributes", attributes });
        break;
      case "on":
        if (typeof a === "string" && HOST_EVENTS.includes(a) && typeof b === "function") hostEvents.on(a as keyof HostEvents, b as () => void);
        else console.warn("Switchboard: 'on' takes one of", HOST_EVENTS.join(", "), "and a function");
        break;
      default:
        console.warn("Switchboard: unknown command", command);
    }
  };
  const fn = api as typeof api & { loaded: boolean };
  fn.loaded = true;
  w.Switchboard = fn as unknown as typeof w.Switchboard;

  style();
  // The iframe loads out of sight; the launcher appears only once the app is ready (right colour,
  // and no launcher at all for a key or origin that is refused).
  frameBox.style.visibility = "hidden";
  button.style.display = "none";
  for (const call of queued) api(...(call as [unknown, unknown?, unknown?]));
  const mount = () => document.body.appendChild(host);
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
