/** Attention signals for new visitor messages: a short beep, the title badge and desktop notifications. */
import { store } from "./store";

const BASE_TITLE = "Switchboard";
let audio: AudioContext | null = null;

/**
 * Browsers start audio only after the user interacted with the page (autoplay policy): until then
 * the context stays "suspended" and a beep would be silent. The dashboard asks for that click
 * ("Click to enable sound", `sound` events on the store) instead of failing silently, and the
 * first click or key press anywhere starts the audio.
 */
export function soundBlocked(): boolean {
  return audio !== null && audio.state !== "running";
}

function context(): AudioContext | null {
  if (audio) return audio;
  try {
    audio = new AudioContext();
    audio.addEventListener("statechange", () => store.emit("sound"));
  } catch {
    return null; // no WebAudio: nothing to enable
  }
  return audio;
}

/** Prepares the sound at start: when the browser holds it until a gesture, the prompt shows and
 * the next click or key press (a gesture) starts it. */
export function primeSound(): void {
  const ctx = context();
  if (!ctx || ctx.state === "running") return;
  const unlock = () => {
    void ctx.resume().then(() => {
      if (ctx.state !== "running") return;
      document.removeEventListener("pointerdown", unlock, true);
      document.removeEventListener("keydown", unlock, true);
      store.emit("sound");
    }, () => undefined);
  };
  document.addEventListener("pointerdown", unlock, true);
  document.addEventListener("keydown", unlock, true);
  store.emit("sound");
}

/** A soft two-tone beep made with WebAudio (no asset to download). */
export function beep(): void {
  try {
    audio = context();
    if (!audio) return;
    if (audio.state !== "running") {
      // Still held by the browser (no click on the page yet): the prompt says so, no silent failure.
      void audio.resume();
      store.emit("sound");
      return;
    }
    const now = audio.currentTime;
    for (const [i, freq] of [880, 1175].entries()) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.type = "sine";
      osc.frequency.value = freq;
      const start = now + i * 0.12;
      gain.gain.setValueAtTime(0.0001, start);
      gain.gain.exponentialRampToValueAtTime(0.15, start + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.18);
      osc.connect(gain).connect(audio.destination);
      osc.start(start);
      osc.stop(start + 0.2);
    }
  } catch {
    // Audio is a nicety: a browser without WebAudio stays silent.
  }
}

let pageName = "";

/** The tab's title: unread count, then the page ("Inbox", a conversation's subject …), then the product. */
export function pageTitle(unread: number, page: string): string {
  const named = page ? `${page} · ${BASE_TITLE}` : BASE_TITLE;
  return unread > 0 ? `(${unread}) ${named}` : named;
}

export function setPageName(name: string): void {
  pageName = name.trim().slice(0, 80);
  updateTitle();
}

export function updateTitle(): void {
  document.title = pageTitle(store.unreadCount(), pageName);
}

export function soundEnabled(): boolean {
  return localStorage.getItem("sb.sound") !== "off";
}

export function setSoundEnabled(on: boolean): void {
  localStorage.setItem("sb.sound", on ? "on" : "off");
}

/** Shows a desktop notification when the tab is hidden; clicking it opens the conversation. */
export function desktopNotify(title: string, body: string, conversationId: string, open: (id: string) => void): void {
  if (!("Notification" in window) || Notification.permission !== "granted" || !document.hidden) return;
  try {
    const n = new Notification(title, { body: body.slice(0, 180), tag: `conv-${conversationId}`, icon: appIcon() });
    n.onclick = () => {
      window.focus();
      open(conversationId);
      n.close();
    };
  } catch {
    // Some platforms only allow notifications from the service worker; the push path covers them.
  }
}

export function alertNewMessage(title: string, body: string, conversationId: string, open: (id: string) => void): void {
  if (soundEnabled()) beep();
  desktopNotify(title, body, conversationId, open);
  updateTitle();
}

/** The app's 192 px icon (from the page's apple-touch-icon link): sharp in the rail and in notifications. */
export function appIcon(): string {
  const link = document.querySelector<HTMLLinkElement>('link[rel="apple-touch-icon"]') || document.querySelector<HTMLLinkElement>('link[rel="icon"]');
  return link?.href || "";
}
