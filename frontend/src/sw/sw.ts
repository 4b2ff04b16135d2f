/**
 * The dashboard's service worker (scope /app/): precaches the app shell so /app/ opens offline,
 * shows web push notifications, and focuses or opens the conversation when one is clicked.
 *
 * Django serves this file at /app/sw.js and prepends `self.__SB_SHELL__ = {version, urls}`
 * (the hashed asset URLs of the current build), so each deploy changes the worker's bytes.
 */
import { pickLanguage, setLanguage, t } from "../i18n";
import zhHans from "../i18n/zh-Hans/sw.json";
export {};

interface ShellInfo {
  version: string;
  urls: string[];
  icon?: string;
}

interface PushPayload {
  title?: string;
  body?: string;
  url?: string;
  conversation?: string;
  tag?: string;
  icon?: string;
}

const sw = self as unknown as ServiceWorkerGlobalScope & { __SB_SHELL__?: ShellInfo };
const SHELL: ShellInfo = sw.__SB_SHELL__ || { version: "dev", urls: ["/app/"] };
const CACHE = `sb-shell-${SHELL.version}`;
const SHELL_URL = "/app/";
// A worker has no page config: its few fallback words follow the browser's language.
setLanguage(pickLanguage(null, sw.navigator.languages || [sw.navigator.language]), { "zh-Hans": zhHans });

async function precache(): Promise<void> {
  const cache = await caches.open(CACHE);
  await Promise.all(
    SHELL.urls.map(async (url) => {
      const res = await fetch(url, { credentials: "same-origin", cache: "no-cache" });
      // A signed-out visit redirects to the login page: never store that as the app shell.
      if (!res.ok || res.redirected) {
        if (url === SHELL_URL) return;
        throw new Error(`precache failed for ${url}: ${res.status}`);
      }
      await cache.put(url, res);
    }),
  );
}

sw.addEventListener("install", (event) => {
  event.waitUntil(precache().then(() => sw.skipWaiting()));
});

sw.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const key of await caches.keys()) if (key.startsWith("sb-shell-") && key !== CACHE) await caches.delete(key);
      await sw.clients.claim();
    })(),
  );
});

async function networkFirstShell(request: Request): Promise<Response> {
  try {
    const res = await fetch(request);
    if (res.ok && res.type === "basic" && !res.redirected) {
      // Keep the newest shell for the next offline start (the shell carries no user data).
      const cache = await caches.open(CACHE);
      await cache.put(SHELL_URL, res.clone());
    }
    return res;
  } catch {
    const cached = await caches.match(SHELL_URL);
    return cached || new Response(`<h1>${t("Offline")}</h1><p>${t("Switchboard needs a connection for the first visit.")}</p>`, {
      status: 503, headers: { "Content-Type": "text/html; charset=utf-8" },
    });
  }
}

async function cacheFirst(request: Request): Promise<Response> {
  const cached = await caches.match(request, { ignoreSearch: false });
  if (cached) return cached;
  const res = await fetch(request);
  if (res.ok && res.type === "basic") {
    const cache = await caches.open(CACHE);
    await cache.put(request, res.clone());
  }
  return res;
}

sw.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== sw.location.origin) return;
  if (request.mode === "navigate" && url.pathname.startsWith("/app/")) {
    event.respondWith(networkFirstShell(request));
    return;
  }
  // Built assets have content-hashed names: a cached copy is always the right one.
  if (url.pathname.startsWith("/static/dist/dashboard/") || url.pathname.startsWith("/static/frontend/")
      || url.pathname === "/app/manifest.webmanifest") {
    event.respondWith(cacheFirst(request));
  }
  // Everything else (API, realtime) goes to the network untouched: the app handles failures.
});

function parsePush(data: PushMessageData | null): PushPayload {
  if (!data) return {};
  try {
    const json = data.json() as PushPayload & { notification?: PushPayload; data?: PushPayload };
    return { ...(json.data || {}), ...(json.notification || {}), ...json };
  } catch {
    return { body: data.text() };
  }
}

function conversationUrl(p: PushPayload): string {
  if (p.conversation && /^[A-Za-z0-9_-]{1,64}$/.test(p.conversation)) return `/app/c/${p.conversation}`;
  if (p.url && p.url.startsWith("/app/")) return p.url;
  if (p.url) {
    try {
      const u = new URL(p.url, sw.location.origin);
      if (u.origin === sw.location.origin && u.pathname.startsWith("/app/")) return u.pathname + u.search;
    } catch {
      // fall through to the app's start page
    }
  }
  return SHELL_URL;
}

sw.addEventListener("push", (event) => {
  const p = parsePush(event.data);
  const title = p.title || t("New message");
  const url = conversationUrl(p);
  event.waitUntil(
    sw.registration.showNotification(title, {
      body: p.body || t("A visitor is waiting for a reply."),
      icon: p.icon || SHELL.icon,
      badge: SHELL.icon,
      tag: p.tag || (p.conversation ? `conv-${p.conversation}` : undefined),
      data: { url, conversation: p.conversation || null },
    }),
  );
});

sw.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const data = (event.notification.data || {}) as { url?: string; conversation?: string | null };
  const url = data.url || SHELL_URL;
  event.waitUntil(
    (async () => {
      const windows = await sw.clients.matchAll({ type: "window", includeUncontrolled: true });
      const existing = windows.find((c) => new URL(c.url).pathname.startsWith("/app/"));
      if (existing) {
        await existing.focus();
        // The open app routes itself (keeps its state); a URL change would reload it.
        existing.postMessage({ type: "open-conversation", conversation: data.conversation, url });
        return;
      }
      await sw.clients.openWindow(url);
    })(),
  );
});
