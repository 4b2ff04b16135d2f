/**
 * Entry of the widget iframe (`/widget/frame/?key=…&origin=<host origin>&lang=…`).
 *
 * The host origin in the URL is only a hint for postMessage targeting: the server renders this
 * page with `Content-Security-Policy: frame-ancestors <the tenant's allowed origins>`, so only an
 * allowed site can embed it, and messages are accepted only from `window.parent` at that origin.
 */
import "./style.css";
import { lang } from "./lang";
import { WidgetController, type HostBridge } from "./controller";

const params = new URLSearchParams(location.search);
const key = params.get("key") ?? "";
const hostOrigin = params.get("origin");

const embedded = window.parent !== window && !!hostOrigin;
const bridge: HostBridge = {
  post(msg) {
    if (embedded) window.parent.postMessage({ sb: 1, ...msg }, hostOrigin!);
  },
};

const mount = document.getElementById("app")!;
const app = new WidgetController({ key, lang, bridge, mount });

let started = false;
const start = (ctx: Record<string, unknown>, identity: unknown, attributes: Record<string, unknown>) => {
  if (started) return;
  started = true;
  void app.start(ctx, identity, attributes);
};

window.addEventListener("message", (ev: MessageEvent) => {
  if (!embedded || ev.source !== window.parent || ev.origin !== hostOrigin) return;
  const d = ev.data as { sb?: number; type?: string; [k: string]: unknown };
  if (!d || d.sb !== 1) return;
  switch (d.type) {
    case "context": {
      const ctx = { page: str(d.page), title: str(d.title), referrer: str(d.referrer) };
      start(ctx, d.identity ?? null, (d.attributes as Record<string, unknown>) ?? {});
      break;
    }
    case "open":
      app.setOpen(true);
      break;
    case "close":
      app.setOpen(false);
      break;
    case "identify":
      void app.reidentify(d.identity ?? null);
      break;
    case "attributes":
      if (d.attributes && typeof d.attributes === "object") app.setAttributes(d.attributes as Record<string, unknown>);
      break;
  }
});

function str(v: unknown): string {
  return typeof v === "string" ? v.slice(0, 500) : "";
}

if (embedded) {
  bridge.post({ type: "loaded" });
  // A host page that never answers (an old loader) still gets a working chat.
  setTimeout(() => start({}, null, {}), 3000);
} else {
  // Opened on its own (e.g. a direct link): a full-page chat.
  document.documentElement.classList.add("standalone");
  start({ page: document.referrer }, null, {});
  app.setOpen(true);
}
