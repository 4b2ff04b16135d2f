/** Installs the service worker and subscribes this browser to web push (after a click, never unasked). */
import { api } from "./api";
import { config } from "./config";
import { t } from "../i18n";

export type PushState = "unsupported" | "denied" | "off" | "on";

let registration: ServiceWorkerRegistration | null = null;

export async function registerServiceWorker(): Promise<ServiceWorkerRegistration | null> {
  if (!("serviceWorker" in navigator)) return null;
  try {
    registration = await navigator.serviceWorker.register("/app/sw.js", { scope: "/app/" });
    return registration;
  } catch {
    // Without a worker the app still works online; only offline start and push are lost.
    return null;
  }
}

export async function pushState(): Promise<PushState> {
  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) return "unsupported";
  if (Notification.permission === "denied") return "denied";
  const reg = registration || (await navigator.serviceWorker.getRegistration("/app/"));
  const sub = await reg?.pushManager.getSubscription();
  return sub && Notification.permission === "granted" ? "on" : "off";
}

function urlBase64ToUint8Array(base64: string): Uint8Array<ArrayBuffer> {
  const padding = "=".repeat((4 - (base64.length % 4)) % 4);
  const raw = atob((base64 + padding).replace(/-/g, "+").replace(/_/g, "/"));
  const out = new Uint8Array(new ArrayBuffer(raw.length));
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

async function vapidKey(): Promise<string> {
  if (config().vapidPublicKey) return config().vapidPublicKey;
  const res = await api.vapidKey();
  return res.public_key || res.key || "";
}

/** Asks permission, subscribes with the VAPID key and registers the subscription with the server. */
export async function enablePush(): Promise<PushState> {
  if ((await pushState()) === "unsupported") return "unsupported";
  const permission = await Notification.requestPermission();
  if (permission !== "granted") return permission === "denied" ? "denied" : "off";
  const reg = registration || (await registerServiceWorker());
  if (!reg) throw new Error(t("The service worker could not be installed."));
  await navigator.serviceWorker.ready;
  const key = await vapidKey();
  if (!key) throw new Error(t("Web push is not configured on this server."));
  let sub = await reg.pushManager.getSubscription();
  if (!sub) sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: urlBase64ToUint8Array(key) });
  await api.subscribePush(sub.toJSON());
  return "on";
}

export async function disablePush(): Promise<PushState> {
  const reg = registration || (await navigator.serviceWorker.getRegistration("/app/"));
  const sub = await reg?.pushManager.getSubscription();
  if (sub) {
    await api.unsubscribePush(sub.endpoint).catch(() => undefined);
    await sub.unsubscribe();
  }
  return "off";
}
