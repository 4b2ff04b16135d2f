/** The inbox column: Mine / Unassigned / All views, status, team and label filters, search, live list. */
import { api, ApiError, type Conversation, type ConversationFilters, type Label } from "./api";
import { clear, h } from "../shared/dom";
import { icon } from "./icons";
import { contactName, initials, lastMessageText, relativeTime, shortDateTime, statusLabel } from "./format";
import { navigate } from "./router";
import { countText, store } from "./store";
import { locale, t } from "../i18n";

export type View = "mine" | "unassigned" | "all";
type Status = "open" | "pending" | "snoozed" | "resolved" | "";

interface InboxState {
  view: View;
  status: Status;
  team: string;
  label: string;
  q: string;
  next: string | null;
  loading: boolean;
  error: string;
  searchIds: Set<string> | null; // when searching, the server's matches
  selected: string | null;
}

const saved = JSON.parse(localStorage.getItem("sb.inbox") || "{}") as Partial<InboxState>;
const state: InboxState = {
  view: saved.view || "mine",
  status: saved.status ?? "open",
  team: saved.team || "",
  label: saved.label || "",
  q: "",
  next: null,
  loading: false,
  error: "",
  searchIds: null,
  selected: null,
};

function persist(): void {
  localStorage.setItem("sb.inbox", JSON.stringify({ view: state.view, status: state.status, team: state.team, label: state.label }));
}

/** A search looks in every status: the conversation an agent remembers is often resolved. */
function filters(): ConversationFilters {
  return {
    status: (!state.q && state.status) || undefined,
    assignee: state.view === "mine" ? "me" : state.view === "unassigned" ? "none" : undefined,
    team: state.team || undefined,
    label: state.label || undefined,
    q: state.q || undefined,
  };
}

/** The same filters, applied locally so live frames move conversations in and out of the list. */
function matches(conv: Conversation): boolean {
  if (state.status && !state.q && conv.status !== state.status) return false;
  if (state.view === "mine" && conv.assignee?.id !== store.me?.id) return false;
  if (state.view === "unassigned" && conv.assignee) return false;
  if (state.team && conv.team?.id !== state.team) return false;
  if (state.label && !conv.labels?.some((l) => l.id === state.label)) return false;
  if (state.searchIds && !state.searchIds.has(conv.id)) return false;
  return true;
}

function sortKey(conv: Conversation): number {
  return Date.parse(conv.last_message_at || conv.updated || conv.created) || 0;
}

let listEl: HTMLElement;
let footEl: HTMLElement;
let tabsEl: HTMLElement;
let loadSeq = 0;
let searchEl: HTMLInputElement | null = null;
let statusEl: HTMLSelectElement | null = null;
let teamEl: HTMLSelectElement | null = null;
let labelEl: HTMLSelectElement | null = null;
let searchNoteEl: HTMLElement | null = null;

/** How long the tab counts wait after a live frame or a filter change (a burst costs one request). */
const COUNTS_DEBOUNCE_MS = 1000;
let countsSeq = 0;
let countsTimer = 0;
let countsLive = false; // off in the offline shell: it makes no requests

/** One request for all three tab counts, with the list's status, team and label filters (search is not counted). */
async function refreshCounts(): Promise<void> {
  clearTimeout(countsTimer);
  if (!countsLive) return;
  const mySeq = ++countsSeq;
  const f = filters();
  try {
    const counts = await api.conversationCounts({ status: state.status || undefined, team: f.team, label: f.label });
    if (mySeq === countsSeq) store.setCounts(counts);
  } catch {
    // No number rather than a wrong one; the next frame or filter change tries again.
    if (mySeq === countsSeq) store.setCounts(null);
  }
}

function scheduleCounts(): void {
  clearTimeout(countsTimer);
  if (!countsLive) return;
  countsTimer = window.setTimeout(() => void refreshCounts(), COUNTS_DEBOUNCE_MS);
}

export async function load(more = false): Promise<void> {
  if (more && (!state.next || state.loading)) return;
  const mySeq = ++loadSeq;
  state.loading = true;
  state.error = "";
  renderFoot();
  try {
    const page = await api.conversations(filters(), more ? state.next : null);
    if (mySeq !== loadSeq) return; // a newer filter change superseded this answer
    const results = page.results || [];
    if (state.q) {
      if (!more || !state.searchIds) state.searchIds = new Set();
      results.forEach((c) => state.searchIds!.add(c.id));
    } else {
      state.searchIds = null;
    }
    results.forEach((c) => store.upsertConversation(c));
    state.next = page.next || null;
  } catch (err) {
    if (mySeq !== loadSeq) return;
    state.error = err instanceof ApiError ? err.message : t("Could not load conversations.");
  } finally {
    if (mySeq === loadSeq) state.loading = false;
    renderList();
  }
}

export function select(id: string | null): void {
  state.selected = id;
  renderList();
}

function tab(view: View, label: string, iconName: "user" | "inbox" | "users"): HTMLElement {
  return h("button", {
    class: `tab${state.view === view ? " active" : ""}`, type: "button", role: "tab",
    "aria-selected": String(state.view === view), "data-view": view,
    onclick: () => setView(view),
  }, icon(iconName, 14), label, tabCount(view));
}

/** The tab's number; the hidden word makes the tab's accessible name "Mine 3 conversations". */
function tabCount(view: View): HTMLElement | null {
  const text = countText(store.counts?.[view]);
  if (!text) return null;
  return h("span", { class: "tab-count" }, text,
    h("span", { class: "sr-only" }, text === "1" ? t(" conversation") : t(" conversations")));
}

function renderTabs(): void {
  clear(tabsEl);
  tabsEl.append(tab("mine", t("Mine"), "user"), tab("unassigned", t("Unassigned"), "inbox"), tab("all", t("All"), "users"));
}

/** New counts replace only the numbers: rebuilding the buttons would drop keyboard focus from a tab. */
function renderCounts(): void {
  if (!tabsEl) return;
  for (const button of tabsEl.querySelectorAll<HTMLElement>("button.tab[data-view]")) {
    button.querySelector(".tab-count")?.remove();
    const count = tabCount(button.dataset.view as View);
    if (count) button.append(count);
  }
}

/** The preview line, from the row itself (no request): who wrote the newest message when it was
 * the team ("You: …", "Ben: …"). */
function previewText(conv: Conversation): string {
  const msg = conv.last_message;
  const text = lastMessageText(msg) || conv.subject || "";
  if (!msg || !text || msg.author.type !== "agent" || msg.kind === "note") return text;
  if (msg.author.id && msg.author.id === store.me?.id) return t("You: {text}", { text });
  const name = (msg.author.name || store.agentName(msg.author.id) || "").split(/\s+/)[0];
  return name ? `${name}: ${text}` : text;
}

/** "No resolved conversations assigned to you." — whole sentences, so each language can order its words. */
function emptyFilterText(view: string, status: string, team: boolean, label: string): string {
  const values = { status };
  const sentence = view === "mine"
    ? (status ? t("No {status} conversations assigned to you.", values) : t("No conversations assigned to you."))
    : view === "unassigned"
      ? (status ? t("No {status} conversations waiting for an agent.", values) : t("No conversations waiting for an agent."))
      : (status ? t("No {status} conversations.", values) : t("No conversations."));
  const notes = [sentence];
  if (team) notes.push(t("Only this team's conversations are shown."));
  if (label) notes.push(t("Only conversations labelled “{name}” are shown.", { name: label }));
  return notes.join(" ");
}

function item(conv: Conversation): HTMLElement {
  const unread = store.isUnread(conv);
  const name = contactName(conv.contact);
  const chips: HTMLElement[] = [];
  if (conv.status !== "open") {
    const until = conv.status === "snoozed" && conv.snoozed_until ? ` · ${shortDateTime(conv.snoozed_until)}` : "";
    chips.push(h("span", { class: `chip status-${conv.status}` }, statusLabel(conv.status) + until));
  }
  if (state.view === "all" && conv.assignee) {
    chips.push(h("span", { class: "chip assignee", title: t("Assigned to {name}", { name: conv.assignee.name }) }, icon("user", 11), conv.assignee.name));
  }
  if (conv.team) chips.push(h("span", { class: "chip muted", title: t("Team: {team}", { team: conv.team.name }) }, conv.team.name));
  for (const label of conv.labels || []) chips.push(labelChip(label));
  if (conv.channel === "email") {
    chips.unshift(h("span", { class: "chip email", title: conv.subject ? t("Email: {subject}", { subject: conv.subject }) : t("Email conversation") }, icon("mail", 11), t("Email")));
  }
  const preview = previewText(conv);
  const typing = store.threads.get(conv.id)?.visitorTyping;
  const when = conv.last_message_at || conv.updated;
  return h("a", {
    class: `conv-item${unread ? " unread" : ""}${state.selected === conv.id ? " selected" : ""}`,
    href: `/app/c/${encodeURIComponent(conv.id)}`, "data-conversation": conv.id,
    "aria-current": state.selected === conv.id ? "page" : null,
    onclick: (e: Event) => {
      const ev = e as MouseEvent;
      if (ev.metaKey || ev.ctrlKey || ev.shiftKey) return;
      e.preventDefault();
      navigate({ name: "conversation", id: conv.id });
    },
  },
  h("span", { class: "avatar", style: `--hue:${hue(conv.contact?.id || conv.id)}`, "aria-hidden": "true" }, initials(name)),
  h("span", { class: "conv-main" },
    h("span", { class: "conv-top" },
      h("span", { class: "conv-name", title: name }, name),
      h("time", { class: "conv-time", datetime: when, title: when ? new Date(when).toLocaleString(locale()) : null }, relativeTime(when))),
    h("span", { class: "conv-line" },
      h("span", { class: `conv-preview${typing ? " typing" : ""}` }, typing ? t("typing…") : preview || (conv.last_seq > 0 ? "" : t("No messages yet"))),
      unread ? h("span", { class: "unread-dot", role: "img", "aria-label": t("Unread") }) : null),
    chips.length ? h("span", { class: "conv-chips" }, chips) : null));
}

/** A label as a chip: its colour is a dot beside the name (the tenant picks colours; text stays readable). */
export function labelChip(label: Label, ...extra: HTMLElement[]): HTMLElement {
  return h("span", { class: "chip label-chip", "data-label": label.id },
    h("span", { class: "label-dot", style: `background:${safeColor(label.color)}`, "aria-hidden": "true" }),
    h("span", { class: "label-name" }, label.name), ...extra);
}

/** Only a plain hex colour reaches a style attribute. */
export function safeColor(color: string | undefined): string {
  return color && /^#[0-9a-fA-F]{6}$/.test(color) ? color : "#64748b";
}

function renderSearchNote(): void {
  if (searchNoteEl) searchNoteEl.hidden = !state.q;
}

export function hue(id: string): number {
  let hash = 0;
  for (let i = 0; i < id.length; i++) hash = (hash * 31 + id.charCodeAt(i)) | 0;
  return Math.abs(hash) % 360;
}

export function renderList(): void {
  if (!listEl) return;
  const convs = [...store.conversations.values()].filter(matches).sort((a, b) => sortKey(b) - sortKey(a));
  // The list is rebuilt on every change: keep keyboard focus on the row it was on.
  const focused = (document.activeElement as HTMLElement | null)?.closest?.<HTMLElement>(".conv-item")?.dataset.conversation;
  clear(listEl);
  if (!convs.length && !state.loading) listEl.append(emptyState());
  // First load: grey rows where the conversations will be, instead of a blank column.
  if (!convs.length && state.loading) {
    for (let i = 0; i < 5; i++) listEl.append(h("div", { class: "conv-item skeleton", "aria-hidden": "true" }, h("span", { class: "avatar" }), h("span", { class: "conv-main" }, h("span", { class: "bar w60" }), h("span", { class: "bar w90" }))));
  }
  for (const conv of convs) listEl.append(h("div", { role: "listitem" }, item(conv)));
  if (focused) listEl.querySelector<HTMLElement>(`.conv-item[data-conversation="${CSS.escape(focused)}"]`)?.focus({ preventScroll: true });
  renderFoot();
}

/** What an empty list says, with the one step that most likely helps. */
function emptyState(): HTMLElement {
  let title = t("No conversations here");
  let text = t("New conversations show up here as they arrive.");
  let action: [string, () => void] | null = null;
  const statusName = state.status ? statusLabel(state.status).toLowerCase() : "";
  if (state.q) {
    title = t("No matches");
    text = t("Nothing in these conversations matches “{q}”.", { q: state.q });
    action = [t("Clear search"), () => {
      if (searchEl) searchEl.value = "";
      state.q = "";
      void load();
    }];
  } else if (state.view === "mine" && (!state.status || state.status === "open") && !state.team) {
    title = t("You're all caught up");
    text = t("Nothing open is assigned to you.");
    action = [t("See unassigned"), () => setView("unassigned")];
  } else if (state.status || state.team || state.label) {
    text = emptyFilterText(state.view, statusName, !!state.team, store.labels.find((l) => l.id === state.label)?.name || "");
    action = [t("Clear filters"), () => {
      state.status = "";
      state.team = "";
      state.label = "";
      if (statusEl) statusEl.value = "";
      if (teamEl) teamEl.value = "";
      if (labelEl) labelEl.value = "";
      persist();
      void load();
      scheduleCounts();
    }];
  } else if (state.view === "unassigned") {
    title = t("Nobody is waiting");
    text = t("Every conversation has an agent.");
  }
  return h("div", { class: "empty" }, icon("inbox", 28), h("strong", null, title), h("p", null, text),
    action ? h("button", { class: "btn small", type: "button", onclick: action[1] }, action[0]) : null);
}

function setView(view: View): void {
  state.view = view;
  persist();
  renderTabs();
  void load();
}

function renderFoot(): void {
  if (!footEl) return;
  clear(footEl);
  if (state.error) {
    footEl.append(h("div", { class: "list-error" }, state.error, " ",
      h("button", { class: "link", type: "button", onclick: () => void load() }, t("Retry"))));
  } else if (state.loading) {
    footEl.append(h("div", { class: "spinner-row" }, h("span", { class: "spinner" })));
  } else if (state.next) {
    footEl.append(h("button", { class: "link", type: "button", onclick: () => void load(true) }, t("Load more")));
  }
}

/** A filter's select: a change is remembered, reloads the list and refreshes the tab counts. */
function onFilterChange(select: HTMLSelectElement, apply: (value: string) => void): void {
  select.addEventListener("change", () => {
    apply(select.value);
    persist();
    void load();
    scheduleCounts();
  });
}

/** Builds the inbox column; `offline` shows only what the store already has (no request). */
export function mountInbox(root: HTMLElement, teams: { id: string; name: string }[], offline = false): void {
  countsLive = !offline;
  tabsEl = h("div", { class: "tabs", role: "tablist" });
  renderTabs();
  let searchTimer = 0;
  const search = h("input", {
    type: "search", class: "search", placeholder: t("Search conversations"), "aria-label": t("Search conversations"),
  });
  searchEl = search;
  search.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = window.setTimeout(() => {
      state.q = search.value.trim();
      renderSearchNote();
      void load();
    }, 250);
  });
  const status = h("select", { class: "select", "aria-label": t("Status") },
    ...(["open", "pending", "snoozed", "resolved", ""] as Status[]).map((s) =>
      h("option", { value: s, selected: state.status === s }, s ? statusLabel(s) : t("Any status"))));
  statusEl = status;
  onFilterChange(status, (value) => (state.status = value as Status));
  const team = h("select", { class: "select", "aria-label": t("Team") },
    h("option", { value: "" }, t("All teams")),
    ...teams.map((t) => h("option", { value: t.id, selected: state.team === t.id }, t.name)));
  teamEl = team;
  onFilterChange(team, (value) => (state.team = value));
  // The tenant's labels (loaded with the directory); a saved filter for a deleted label is dropped.
  if (state.label && !store.labels.some((l) => l.id === state.label)) state.label = "";
  const label = h("select", { class: "select", "aria-label": t("Label"), hidden: !store.labels.length },
    h("option", { value: "" }, t("All labels")),
    ...store.labels.map((l) => h("option", { value: l.id, selected: state.label === l.id }, l.name)));
  labelEl = label;
  onFilterChange(label, (value) => (state.label = value));
  searchNoteEl = h("p", { class: "search-note", id: "search-note", hidden: true }, t("Searching every status"));
  search.setAttribute("aria-describedby", "search-note");
  listEl = h("div", { class: "conv-list", role: "list" });
  // Arrow keys move between conversations once one has keyboard focus (Enter opens it).
  listEl.addEventListener("keydown", (e) => {
    if (e.key !== "ArrowDown" && e.key !== "ArrowUp") return;
    const items = [...listEl.querySelectorAll<HTMLElement>("a.conv-item")];
    const at = items.indexOf(document.activeElement as HTMLElement);
    if (at < 0) return;
    e.preventDefault();
    items[Math.min(items.length - 1, Math.max(0, at + (e.key === "ArrowDown" ? 1 : -1)))].focus();
  });
  footEl = h("div", { class: "list-foot" });
  const scroller = h("div", { class: "inbox-scroll" }, listEl, footEl);
  scroller.addEventListener("scroll", () => {
    if (scroller.scrollTop + scroller.clientHeight > scroller.scrollHeight - 120) void load(true);
  });
  root.append(
    h("div", { class: "inbox-head" },
      h("div", { class: "inbox-title" }, h("h1", null, t("Inbox"))),
      h("label", { class: "search-wrap" }, icon("search", 15), search),
      tabsEl,
      h("div", { class: "filters" }, status, team, label),
      searchNoteEl),
    scroller,
  );
  store.on("conversations", renderList);
  store.on("inbox-resync", () => {
    void load();
    void refreshCounts();
  });
  store.on("counts", renderCounts);
  store.on("inbox-frame", scheduleCounts);
  // Relative times drift: refresh them every half minute.
  setInterval(renderList, 30000);
  if (offline) renderList();
  else {
    void load();
    void refreshCounts();
  }
}
