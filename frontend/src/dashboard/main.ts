/** The agent dashboard's entry point: signs in the session, lays out the workspace, routes, goes live. */
import "./styles.css";
import "./lang";
import { t } from "../i18n";
import { appIcon, primeSound, setPageName, setSoundEnabled, soundBlocked, soundEnabled, updateTitle } from "./alerts";
import { api, ApiError, asList, type Conversation, type Me } from "./api";
import { config } from "./config";
import { ContactPanel } from "./contact_panel";
import { ConversationView } from "./conversation";
import { clear, h } from "../shared/dom";
import { icon } from "./icons";
import { menuButton } from "./menu_button";
import { initials, presenceLabel } from "./format";
import { mountInbox, renderList, select } from "./inbox";
import { languageMenu } from "./language_menu";
import { live } from "./live";
import { disablePush, enablePush, pushState, registerServiceWorker, type PushState } from "./push";
import { current, navigate, onRoute, type Route } from "./router";
import { SettingsPage } from "./settings";
import { SetupPage } from "./setup";
import { StatsPage } from "./stats";
import { store } from "./store";
import { toast } from "./toast";

const CACHE_KEY = "sb.cache";
const root = document.getElementById("app")!;

function isAdmin(): boolean {
  return store.me?.role === "owner" || store.me?.role === "admin";
}

function goLogin(): void {
  location.href = `${config().loginUrl}?next=${encodeURIComponent(location.pathname)}`;
}

/** What the offline shell shows: the last inbox this browser saw (this agent's own device). */
function saveCache(): void {
  try {
    const convs = [...store.conversations.values()].slice(0, 60);
    localStorage.setItem(CACHE_KEY, JSON.stringify({ me: store.me, conversations: convs }));
  } catch {
    // Quota or private mode: the offline shell will just be emptier.
  }
}

function loadCache(): { me: Me | null; conversations: Conversation[] } | null {
  try {
    return JSON.parse(localStorage.getItem(CACHE_KEY) || "null");
  } catch {
    return null;
  }
}

// ---- layout -----------------------------------------------------------------------------------

const banner = h("div", { class: "banner", hidden: true, role: "status", "aria-live": "polite" });
/** Shown while the browser holds the new-message sound until the agent interacts with the page. */
const soundPrompt = h("div", { class: "sound-prompt", hidden: true },
  h("button", { class: "link", type: "button" }, icon("volume", 15), t("Click to enable sound")),
  h("span", null, t("Your browser plays the new-message sound only after a click on the page.")));
const inboxCol = h("section", { class: "inbox", "aria-label": t("Inbox") });
const panel = new ContactPanel();
const conversation = new ConversationView(panel);
const stats = new StatsPage();
const setup = new SetupPage();
const settingsPage = new SettingsPage();
const workspace = h("div", { class: "workspace" }, inboxCol, conversation.el, panel.el);
const main = h("main", { class: "main" }, banner, soundPrompt, workspace);
const teamEl = h("div", { class: "team-list" });
const presenceBtn = h("button", { class: "rail-btn me", type: "button", "aria-label": t("Your status") });
const presenceMenu = h("div", { class: "menu rail-menu", role: "menu", "aria-label": t("Your status"), hidden: true });
// Named from the start: its state (and a more precise name) comes once the service worker answers.
const pushBtn = h("button", { class: "rail-btn", type: "button", "data-push": "off", "aria-label": t("Push notifications") }, icon("bell", 19));
const soundBtn = h("button", { class: "rail-btn", type: "button" });
const statsLink = h("a", { class: "rail-btn", href: "/app/stats", title: t("Statistics"), "aria-label": t("Statistics"), hidden: true }, icon("chart", 19));
const setupLink = h("a", { class: "rail-btn", href: "/app/setup", title: t("Get started"), "aria-label": t("Get started") }, icon("check", 19));
const settingsLink = h("a", { class: "rail-btn", href: "/app/settings", title: t("Settings"), "aria-label": t("Settings"), hidden: true }, icon("settings", 19));
const inboxLink = h("a", { class: "rail-btn", href: "/app/", title: t("Inbox"), "aria-label": t("Inbox") }, icon("inbox", 19));
const unreadBadge = h("span", { class: "badge", hidden: true });
inboxLink.append(unreadBadge);

function layout(): void {
  clear(root);
  const logout = h("form", { method: "post", action: config().logoutUrl, class: "logout-form" },
    h("input", { type: "hidden", name: "csrfmiddlewaretoken", value: csrf() }),
    h("button", { class: "rail-btn", type: "submit", title: t("Sign out"), "aria-label": t("Sign out") }, icon("logout", 18)));
  root.append(
    h("nav", { class: "rail", "aria-label": t("Main") },
      h("a", { class: "logo", href: "/app/", "aria-label": "Switchboard" }, h("img", { src: appIcon(), alt: "" })),
      inboxLink, statsLink, setupLink, settingsLink,
      h("div", { class: "rail-spacer" }),
      soundBtn, pushBtn, languageMenu(csrf()),
      h("div", { class: "menu-wrap" }, presenceBtn, presenceMenu),
      logout),
    main,
  );
  for (const link of [inboxLink, statsLink, setupLink, settingsLink]) {
    link.addEventListener("click", (e) => {
      e.preventDefault();
      navigate(link === statsLink ? { name: "stats" } : link === setupLink ? { name: "setup" }
        : link === settingsLink ? { name: "settings", section: "" } : { name: "inbox" });
    });
  }
  menuButton(presenceBtn, presenceMenu);
  soundBtn.addEventListener("click", () => {
    setSoundEnabled(!soundEnabled());
    renderSound();
    if (soundEnabled()) primeSound();
  });
  // The click itself is the gesture the browser waits for (primeSound's listener resumes the audio).
  soundPrompt.querySelector("button")!.addEventListener("click", () => primeSound());
  store.on("sound", renderSound);
  pushBtn.addEventListener("click", () => void togglePush());
  renderSound();
}

function csrf(): string {
  const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : "";
}

function renderSound(): void {
  clear(soundBtn);
  const on = soundEnabled();
  soundBtn.title = on ? t("Sound on — click to mute") : t("Sound off — click to unmute");
  soundBtn.setAttribute("aria-label", soundBtn.title);
  soundBtn.append(icon(on ? "volume" : "mute", 19));
  soundBtn.classList.toggle("off", !on);
  soundPrompt.hidden = !(on && soundBlocked());
}

function renderPushButton(state: PushState): void {
  pushBtn.dataset.push = state;
  const titles: Record<PushState, string> = {
    on: t("Push notifications are on for this browser — click to turn off"),
    off: t("Get notified when the tab is closed — click to enable push"),
    denied: t("Notifications are blocked in this browser's site settings"),
    unsupported: t("This browser does not support push notifications"),
  };
  pushBtn.title = titles[state];
  pushBtn.setAttribute("aria-label", titles[state]);
  pushBtn.classList.toggle("active", state === "on");
  pushBtn.disabled = state === "unsupported";
}

async function togglePush(): Promise<void> {
  try {
    const state = pushBtn.dataset.push === "on" ? await disablePush() : await enablePush();
    renderPushButton(state);
    if (state === "on") toast(t("Push notifications are on for this browser."));
    else if (state === "denied") toast(t("Notifications are blocked. Allow them in the browser's site settings."), "error");
  } catch (err) {
    toast(err instanceof Error ? err.message : t("Could not turn on push notifications."), "error");
  }
}

function myStatus(): string {
  const me = store.me ? store.agents.get(store.me.id) : undefined;
  return me?.status || me?.presence || (store.me?.availability === "away" ? "away" : "online");
}

function renderPresence(): void {
  clear(presenceBtn);
  const status = myStatus();
  // The initials are drawn by CSS (data-initials): a picture of the agent, not part of the button's name.
  presenceBtn.append(h("span", { class: "avatar sm initials", "aria-hidden": "true", "data-initials": initials(store.me?.name || "") }),
    h("span", { class: `presence-dot ${status}` }));
  presenceBtn.title = `${store.me?.name || ""} — ${status === "online" ? t("available") : status === "away" ? t("away") : t("offline")}`;
  presenceBtn.setAttribute("aria-label", t("Your status: {status}", { status: status === "away" ? t("away") : t("available") }));
  clear(presenceMenu);
  const set = (value: "available" | "away") => {
    presenceMenu.hidden = true;
    live.presence(value);
    if (store.me) {
      store.me.availability = value;
      const agent = store.agents.get(store.me.id);
      if (agent) store.agents.set(store.me.id, { ...agent, status: value === "away" ? "away" : "online" });
    }
    renderPresence();
    renderTeam();
  };
  presenceMenu.append(
    h("div", { class: "menu-head" }, h("strong", null, store.me?.name || ""), h("span", { class: "muted small" }, store.me?.email || "")),
    h("button", { type: "button", class: `menu-item${status !== "away" ? " checked" : ""}`, role: "menuitemradio", "aria-checked": String(status !== "away"), "data-presence": "available", onclick: () => set("available") },
      h("span", { class: "presence-dot online" }), t("Available")),
    h("button", { type: "button", class: `menu-item${status === "away" ? " checked" : ""}`, role: "menuitemradio", "aria-checked": String(status === "away"), "data-presence": "away", onclick: () => set("away") },
      h("span", { class: "presence-dot away" }), t("Away")));
}

function renderTeam(): void {
  clear(teamEl);
  const agents = [...store.agents.values()].sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name));
  const online = agents.filter((a) => rank(a) === 0).length;
  teamEl.append(h("div", { class: "team-head" }, h("span", null, t("Team")), h("span", { class: "muted" }, t("{n} online", { n: online }))));
  for (const a of agents) {
    const status = a.status || a.presence || "offline";
    teamEl.append(h("div", { class: "team-row", "data-agent": a.id },
      h("span", { class: "avatar xs" }, initials(a.name)),
      h("span", { class: "team-name" }, a.id === store.me?.id ? t("{name} (you)", { name: a.name }) : a.name),
      h("span", { class: `presence-dot ${status}`, title: presenceLabel(status) })));
  }
}

function rank(a: { status?: string; presence?: string }): number {
  const s = a.status || a.presence || "offline";
  return s === "online" ? 0 : s === "away" ? 1 : 2;
}

function renderBanner(): void {
  let text = "";
  let tone = "";
  if (!navigator.onLine) {
    text = t("You're offline. What you write is kept and sent when the connection is back.");
    tone = "offline";
  } else if (store.connection === "reconnecting") {
    text = t("Reconnecting…");
    tone = "quiet";
  } else if (store.connection === "offline") {
    text = "You're offline. Showing what this browser saw last; Switchboard reconnects by itself.";
    tone = "offline";
  }
  banner.hidden = !text;
  banner.className = `banner ${tone}`;
  clear(banner);
  if (text) {
    banner.append(h("span", { class: "banner-dot" }), text);
    if (tone !== "offline" || navigator.onLine) {
      banner.append(h("button", { class: "link", type: "button", onclick: () => (root.dataset.offline ? location.reload() : live.reconnect()) }, t("Retry now")));
    }
  }
  root.dataset.connection = store.connection;
}

function renderUnread(): void {
  const n = store.unreadCount();
  unreadBadge.hidden = n === 0;
  unreadBadge.textContent = n > 99 ? "99+" : String(n);
  // The badge's number is part of the link's name (what is seen is what a screen reader says).
  inboxLink.setAttribute("aria-label", n ? t("Inbox, {n} unread", { n: unreadBadge.textContent }) : t("Inbox"));
  updateTitle();
}

// ---- routing ----------------------------------------------------------------------------------

/** What the tab's title names for a route: the page, or the conversation's subject or visitor. */
function routeName(route: Route): string {
  if (route.name === "stats") return t("Statistics");
  if (route.name === "setup") return t("Get started");
  if (route.name === "settings") return t("Settings");
  if (route.name === "conversation") {
    const conv = store.conversations.get(route.id);
    return conv?.subject || conv?.contact?.name || t("Conversation");
  }
  return t("Inbox");
}

function show(route: Route): void {
  root.dataset.route = route.name;
  setPageName(routeName(route));
  inboxLink.classList.toggle("active", route.name === "inbox" || route.name === "conversation");
  statsLink.classList.toggle("active", route.name === "stats");
  setupLink.classList.toggle("active", route.name === "setup");
  settingsLink.classList.toggle("active", route.name === "settings");
  // One of the workspace (inbox + conversation), the statistics, the checklist or the settings fills the main area.
  const pages = { stats, setup, settings: settingsPage };
  const shown = route.name === "stats" || route.name === "setup" || route.name === "settings" ? pages[route.name] : null;
  for (const page of Object.values(pages)) if (page !== shown) page.stop();
  const wanted = shown ? shown.el : workspace;
  const present = [workspace, stats.el, setup.el, settingsPage.el].find((el) => el.parentNode === main);
  if (present !== wanted) {
    if (present) main.replaceChild(wanted, present);
    else main.append(wanted);
  }
  if (route.name === "settings") settingsPage.show(route.section);
  if (shown) {
    shown.start();
    return;
  }
  if (route.name === "conversation") {
    select(route.id);
    void conversation.open(route.id);
  } else {
    select(null);
    conversation.empty();
  }
}

// ---- boot -------------------------------------------------------------------------------------

async function loadDirectory(): Promise<void> {
  const [agents, teams, canned, labels] = await Promise.allSettled([api.agents(), api.teams(), api.canned(), api.labels()]);
  if (agents.status === "fulfilled") {
    for (const a of asList(agents.value)) store.agents.set(a.id, { ...store.agents.get(a.id), ...a });
    const mine = store.me ? store.agents.get(store.me.id) : undefined;
    if (store.me && mine) {
      store.me.email = mine.email;
      store.me.availability = mine.availability;
    }
  }
  if (teams.status === "fulfilled") store.teams = asList(teams.value);
  if (canned.status === "fulfilled") store.canned = asList(canned.value);
  if (labels.status === "fulfilled") store.labels = asList(labels.value);
  store.emit("agents");
}

function bootOffline(): void {
  const cache = loadCache();
  store.me = cache?.me || null;
  cache?.conversations.forEach((c) => store.upsertConversation(c));
  store.connection = "offline";
  root.dataset.offline = "true";
  layout();
  mountInbox(inboxCol, [], true);
  inboxCol.append(teamEl);
  renderBanner();
  show(current());
  // Back online (or the server is back): start again properly.
  const again = () => location.reload();
  window.addEventListener("online", again);
  window.setInterval(() => {
    if (navigator.onLine) api.me().then(again, () => undefined);
  }, 10000);
}

async function boot(): Promise<void> {
  document.addEventListener("click", (e) => {
    // One listener closes every open menu when clicking elsewhere.
    for (const menu of document.querySelectorAll<HTMLElement>(".menu:not([hidden])")) {
      if (!menu.parentElement?.contains(e.target as Node)) menu.hidden = true;
    }
  });
  document.addEventListener("keydown", (e) => {
    if (e.key !== "Escape") return;
    for (const menu of document.querySelectorAll<HTMLElement>(".menu:not([hidden])")) menu.hidden = true;
  });
  void registerServiceWorker().then(() => pushState()).then(renderPushButton);
  try {
    store.me = await api.me();
  } catch (err) {
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
      goLogin();
      return;
    }
    bootOffline();
    return;
  }
  layout();
  statsLink.hidden = !isAdmin();
  settingsLink.hidden = !isAdmin();
  await loadDirectory().catch(() => undefined);
  mountInbox(inboxCol, store.teams);
  inboxCol.append(teamEl);
  store.on("agents", () => {
    renderTeam();
    renderPresence();
  });
  store.on("connection", renderBanner);
  store.on("conversations", renderUnread);
  store.on("signed-out", goLogin);
  window.addEventListener("online", renderBanner);
  window.addEventListener("offline", renderBanner);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) conversation.markRead();
  });
  window.addEventListener("pagehide", saveCache);
  setInterval(saveCache, 60000);
  renderTeam();
  renderPresence();
  renderBanner();
  if (soundEnabled()) primeSound();
  live.start((id) => navigate({ name: "conversation", id }));
  if (store.me.availability) live.presence(store.me.availability);
  onRoute(show);
  show(current());
  // Messages from the service worker (a clicked push notification) open that conversation.
  navigator.serviceWorker?.addEventListener("message", (e) => {
    const data = e.data as { type?: string; conversation?: string } | null;
    if (data?.type === "open-conversation" && data.conversation) navigate({ name: "conversation", id: data.conversation });
  });
  renderList();
  root.dataset.ready = "true";
}

void boot();
