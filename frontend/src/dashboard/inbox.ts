/** The inbox column: Mine / Unassigned / All views, status and team filters, search, live list. */
import { api, ApiError, type Conversation, type ConversationFilters } from "./api";
import { clear, h, icon } from "./dom";
import { contactName, initials, messagePreview, relativeTime } from "./format";
import { refreshPreview } from "./live";
import { navigate } from "./router";
import { store } from "./store";

export type View = "mine" | "unassigned" | "all";
type Status = "open" | "pending" | "snoozed" | "resolved" | "";

interface InboxState {
  view: View;
  status: Status;
  team: string;
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
  q: "",
  next: null,
  loading: false,
  error: "",
  searchIds: null,
  selected: null,
};

function persist(): void {
  localStorage.setItem("sb.inbox", JSON.stringify({ view: state.view, status: state.status, team: state.team }));
}

function filters(): ConversationFilters {
  return {
    status: state.status || undefined,
    assignee: state.view === "mine" ? "me" : state.view === "unassigned" ? "none" : undefined,
    team: state.team || undefined,
    q: state.q || undefined,
  };
}

/** The same filters, applied locally so live frames move conversations in and out of the list. */
function matches(conv: Conversation): boolean {
  if (state.status && conv.status !== state.status) return false;
  if (state.view === "mine" && conv.assignee?.id !== store.me?.id) return false;
  if (state.view === "unassigned" && conv.assignee) return false;
  if (state.team && conv.team?.id !== state.team) return false;
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
    for (const c of results) {
      const known = store.conversations.get(c.id);
      if (c.last_seq > 0 && !known?.last_message) refreshPreview(c.id);
    }
    state.next = page.next || null;
  } catch (err) {
    if (mySeq !== loadSeq) return;
    state.error = err instanceof ApiError ? err.message : "Could not load conversations.";
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
    onclick: () => {
      state.view = view;
      persist();
      renderTabs();
      void load();
    },
  }, icon(iconName, 14), label);
}

function renderTabs(): void {
  clear(tabsEl);
  tabsEl.append(tab("mine", "Mine", "user"), tab("unassigned", "Unassigned", "inbox"), tab("all", "All", "users"));
}

function item(conv: Conversation): HTMLElement {
  const unread = store.isUnread(conv);
  const name = contactName(conv.contact);
  const chips: HTMLElement[] = [];
  if (conv.status !== "open") chips.push(h("span", { class: `chip status-${conv.status}` }, conv.status));
  if (state.view === "all" && conv.assignee) chips.push(h("span", { class: "chip" }, conv.assignee.name));
  if (conv.team) chips.push(h("span", { class: "chip muted" }, conv.team.name));
  const preview = messagePreview(conv.last_message) || conv.preview || conv.subject || "";
  const typing = store.threads.get(conv.id)?.visitorTyping;
  return h("a", {
    class: `conv-item${unread ? " unread" : ""}${state.selected === conv.id ? " selected" : ""}`,
    href: `/app/c/${encodeURIComponent(conv.id)}`, "data-conversation": conv.id,
    onclick: (e: Event) => {
      const ev = e as MouseEvent;
      if (ev.metaKey || ev.ctrlKey || ev.shiftKey) return;
      e.preventDefault();
      navigate({ name: "conversation", id: conv.id });
    },
  },
  h("span", { class: "avatar", style: `--hue:${hue(conv.contact?.id || conv.id)}` }, initials(name)),
  h("span", { class: "conv-main" },
    h("span", { class: "conv-top" },
      h("span", { class: "conv-name" }, name),
      h("time", { class: "conv-time", datetime: conv.last_message_at || conv.updated }, relativeTime(conv.last_message_at || conv.updated))),
    h("span", { class: `conv-preview${typing ? " typing" : ""}` }, typing ? "typing…" : preview || (conv.last_seq > 0 ? "" : "No messages yet")),
    chips.length ? h("span", { class: "conv-chips" }, chips) : null),
  unread ? h("span", { class: "unread-dot", "aria-label": "Unread" }) : null);
}

export function hue(id: string): number {
  let hash = 0;
  for (let i = 0; i < id.length; i++) hash = (hash * 31 + id.charCodeAt(i)) | 0;
  return Math.abs(hash) % 360;
}

export function renderList(): void {
  if (!listEl) return;
  const convs = [...store.conversations.values()].filter(matches).sort((a, b) => sortKey(b) - sortKey(a));
  clear(listEl);
  if (!convs.length && !state.loading) {
    const what = state.q ? "No conversations match your search." : state.view === "mine"
      ? "Nothing assigned to you. Enjoy the calm." : "No conversations here.";
    listEl.append(h("div", { class: "empty" }, icon("inbox", 28), h("p", null, what)));
  }
  for (const conv of convs) listEl.append(item(conv));
  renderFoot();
}

function renderFoot(): void {
  if (!footEl) return;
  clear(footEl);
  if (state.error) {
    footEl.append(h("div", { class: "list-error" }, state.error, " ",
      h("button", { class: "link", type: "button", onclick: () => void load() }, "Retry")));
  } else if (state.loading) {
    footEl.append(h("div", { class: "spinner-row" }, h("span", { class: "spinner" })));
  } else if (state.next) {
    footEl.append(h("button", { class: "link", type: "button", onclick: () => void load(true) }, "Load more"));
  }
}

/** Builds the inbox column; `offline` shows only what the store already has (no request). */
export function mountInbox(root: HTMLElement, teams: { id: string; name: string }[], offline = false): void {
  tabsEl = h("div", { class: "tabs", role: "tablist" });
  renderTabs();
  let searchTimer = 0;
  const search = h("input", {
    type: "search", class: "search", placeholder: "Search conversations", "aria-label": "Search conversations",
  });
  search.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = window.setTimeout(() => {
      state.q = search.value.trim();
      void load();
    }, 250);
  });
  const status = h("select", { class: "select", "aria-label": "Status" },
    ...(["open", "pending", "snoozed", "resolved", ""] as Status[]).map((s) =>
      h("option", { value: s, selected: state.status === s }, s ? s[0].toUpperCase() + s.slice(1) : "Any status")));
  status.addEventListener("change", () => {
    state.status = status.value as Status;
    persist();
    void load();
  });
  const team = h("select", { class: "select", "aria-label": "Team" },
    h("option", { value: "" }, "All teams"),
    ...teams.map((t) => h("option", { value: t.id, selected: state.team === t.id }, t.name)));
  team.addEventListener("change", () => {
    state.team = team.value;
    persist();
    void load();
  });
  listEl = h("div", { class: "conv-list", role: "list" });
  footEl = h("div", { class: "list-foot" });
  const scroller = h("div", { class: "inbox-scroll" }, listEl, footEl);
  scroller.addEventListener("scroll", () => {
    if (scroller.scrollTop + scroller.clientHeight > scroller.scrollHeight - 120) void load(true);
  });
  root.append(
    h("div", { class: "inbox-head" },
      h("div", { class: "inbox-title" }, h("h1", null, "Inbox")),
      h("label", { class: "search-wrap" }, icon("search", 15), search),
      tabsEl,
      h("div", { class: "filters" }, status, team)),
    scroller,
  );
  store.on("conversations", renderList);
  store.on("inbox-resync", () => void load());
  // Relative times drift: refresh them every half minute.
  setInterval(renderList, 30000);
  if (offline) renderList();
  else void load();
}
