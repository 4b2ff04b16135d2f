/** The visitor chat app inside the widget iframe: bootstrap, realtime client, forms and rendering. */
import { createClient, type Message, type PendingSend, type RealtimeClient, type ServerFrame } from "../client";
import { ApiError, bootstrap, rate, saveProfile, upload, type Bootstrap, type VisitorConversation } from "./api";
import { inkFor, safeColor } from "./colors";
import { h } from "../shared/dom";
import { icon, ICONS } from "./icons";
import { ACCEPT, acceptFor, checkFile, DEFAULT_LIMITS, humanSize, limitsFrom, type FileLimits } from "./files";
import { hasUnread, lastActivity, previewText, relativeTime, sortConversations } from "./history";
import { t } from "../i18n";
import { PanelView, type Bubble, type ListItem } from "./view";

export interface HostBridge {
  post(msg: Record<string, unknown>): void;
}

export interface AppOptions {
  key: string;
  lang: string;
  bridge: HostBridge;
  mount: HTMLElement;
}

const TYPING_SEND_EVERY_MS = 3000;
const TYPING_IDLE_MS = 4000;
const TYPING_SHOW_MS = 7000;
const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
/** The thread of messages typed before their conversation exists (a new conversation). */
const DRAFT = "";

export class WidgetApp {
  private readonly view: PanelView;
  private readonly store: Storage | null;
  private client: RealtimeClient | null = null;
  private boot: Bootstrap | null = null;
  private token: string | null = null;
  /** All the visitor's conversations we know of, by id. */
  private convs = new Map<string, VisitorConversation>();
  /** Messages per conversation id (DRAFT: sends waiting for their new conversation). */
  private threads = new Map<string, Map<string, Bubble>>();
  /** The conversation shown; null = a new one (the draft). */
  private current: string | null = null;
  /** The visitor asked for a new conversation: don't switch them to another one on our own. */
  private chosenNew = false;
  /** Resolved conversations the visitor chose to write in anyway (the server reopens them). */
  private replying = new Set<string>();
  /** Per conversation, the last seq when we learnt of it: replayed history is not news for the host page. */
  private knownSeq = new Map<string, number>();
  private limits: FileLimits = DEFAULT_LIMITS;
  private open = false;
  private teamOnline = false;
  private typingOffTimer: ReturnType<typeof setTimeout> | null = null;
  private typingShowTimer: ReturnType<typeof setTimeout> | null = null;
  private lastTypingSent = 0;
  private bannerTimer: ReturnType<typeof setTimeout> | null = null;
  private pendingFile: { file: File; url: string | null } | null = null;
  private identity: unknown = null;
  private context: Record<string, unknown> = {};
  private attributes: Record<string, unknown> = {};

  constructor(private readonly opts: AppOptions) {
    this.store = safeStorage();
    this.view = new PanelView(opts.lang, ACCEPT);
    opts.mount.replaceChildren(this.view.root);
    this.wireComposer();
    this.view.closeBtn.addEventListener("click", () => this.requestClose());
    this.view.backBtn.addEventListener("click", () => this.openList());
    this.view.newBtn.addEventListener("click", () => this.startNew());
    this.view.resolvedNew.addEventListener("click", () => this.startNew());
    this.view.replyBtn.addEventListener("click", () => {
      if (this.current) this.replying.add(this.current);
      this.render();
      this.view.textarea.focus();
    });
    document.addEventListener("keydown", (ev) => this.onKey(ev));
    document.addEventListener("visibilitychange", () => this.markRead());
  }

  // ---- lifecycle ------------------------------------------------------------------------------

  async start(context: Record<string, unknown>, identity: unknown, attributes: Record<string, unknown>): Promise<void> {
    this.context = context;
    this.identity = identity ?? null;
    this.attributes = attributes ?? {};
    let boot: Bootstrap;
    try {
      boot = await bootstrap({
        widget_key: this.opts.key,
        visitor_token: this.storeGet("token"),
        identity: this.identity,
        context: { ...context, timezone: Intl.DateTimeFormat().resolvedOptions().timeZone, language: this.opts.lang },
      });
    } catch (err) {
      // A refused key/origin/identity: no launcher, and say why in the console for the site owner.
      console.warn("Switchboard: the chat widget is not available here:", err instanceof Error ? err.message : err);
      this.view.root.replaceChildren(h("p", { class: "unavailable", text: t("Chat is unavailable on this site.") }));
      return;
    }
    this.applyBootstrap(boot);
    if (Object.keys(this.attributes).length) void this.pushProfile({ attributes: this.attributes });
    this.opts.bridge.post({
      type: "ready",
      settings: { color: safeColor(boot.settings.color), position: boot.settings.position === "left" ? "left" : "right", label: t("Chat") },
    });
    this.connect();
  }

  private applyBootstrap(boot: Bootstrap): void {
    this.boot = boot;
    this.token = boot.visitor_token;
    this.storeSet("token", boot.visitor_token);
    this.teamOnline = boot.team_online;
    document.documentElement.style.setProperty("--brand", safeColor(boot.settings.color));
    document.documentElement.style.setProperty("--brand-ink", inkFor(safeColor(boot.settings.color)));
    this.view.setGreeting(boot.settings.greetings?.[this.opts.lang] || boot.settings.greeting, boot.settings.team_name);
    this.limits = limitsFrom(boot.settings.attachments);
    this.view.fileInput.accept = acceptFor(this.limits.types);
    this.updateHeader();
    for (const c of boot.conversations) this.learn(c);
    // A returning visitor sees their latest conversation; the others are one click away.
    this.current = sortConversations(this.convs.values())[0]?.id ?? null;
    this.renderOverlay();
  }

  /** identify() after load: bootstrap again with the identity; the chat view follows the new contact. */
  async reidentify(identity: unknown): Promise<void> {
    this.identity = identity;
    this.client?.stop();
    this.client = null;
    this.convs.clear();
    this.threads.clear();
    this.knownSeq.clear();
    this.replying.clear();
    this.current = null;
    this.chosenNew = false;
    this.view.showList(false);
    await this.start(this.context, identity, this.attributes);
  }

  setAttributes(attributes: Record<string, unknown>): void {
    this.attributes = { ...this.attributes, ...attributes };
    if (this.token) void this.pushProfile({ attributes: this.attributes });
  }

  private requestClose(): void {
    this.setOpen(false);
    this.opts.bridge.post({ type: "close" });
  }

  setOpen(open: boolean): void {
    this.open = open;
    if (open) {
      this.view.scrollToEnd();
      const target = this.focusTarget();
      setTimeout(() => target?.focus(), 50);
      this.markRead();
    } else {
      this.reportUnread();
    }
  }

  private connect(): void {
    const client = createClient({
      role: "visitor",
      token: () => this.token,
      storageKey: `sb:${this.opts.key}:outbox`,
    });
    this.client = client;
    // The server follows (and replays) the visitor's recent conversations; follow all we list.
    for (const id of this.convs.keys()) client.track(id, 0);
    for (const p of client.pending()) this.upsertPending(p);
    // Sends still waiting for a new conversation (typed before a reload): that is where they were.
    if (this.thread(DRAFT).size) this.current = null;
    client.on("message", (m) => this.onMessage(m));
    client.on("ack", (clientId, m) => this.onAck(clientId, m));
    client.on("error", (f, dropped) => this.onError(f, dropped));
    client.on("typing", (f) => this.onTyping(f));
    client.on("read", (f) => this.onRead(f));
    client.on("conversation", (f) => this.onConversation(f.conversation as VisitorConversation));
    client.on("presence", (f) => this.onPresence(f));
    client.on("welcome", (f) => this.onWelcome(f));
    client.on("state", (s) => this.onState(s));
    client.start();
    this.render();
  }

  // ---- realtime events ------------------------------------------------------------------------

  private onWelcome(f: ServerFrame): void {
    if (typeof f.team_online === "boolean") this.onPresence(f);
    const convs = Array.isArray(f.conversations) ? (f.conversations as VisitorConversation[]) : [];
    for (const c of convs) this.learn(c);
    // Nothing shown yet and conversations exist (e.g. started in another tab): show the latest.
    if (this.current === null && !this.chosenNew && !this.thread(DRAFT).size) {
      this.current = sortConversations(this.convs.values())[0]?.id ?? null;
    }
    this.render();
  }

  /** Add or update a conversation (a frame's fields win; a bootstrap preview is kept). */
  private learn(c: Partial<VisitorConversation> & { id: string }): VisitorConversation {
    const had = this.convs.get(c.id);
    const merged: VisitorConversation = {
      status: "open", last_seq: 0, contact_last_read_seq: 0, agent_last_read_seq: 0, assignee: null,
      ...had,
      ...c,
      preview: c.preview ?? had?.preview ?? null,
    };
    if (had) {
      // Read marks only move forward (frames can cross).
      merged.contact_last_read_seq = Math.max(had.contact_last_read_seq, c.contact_last_read_seq ?? 0);
      merged.agent_last_read_seq = Math.max(had.agent_last_read_seq, c.agent_last_read_seq ?? 0);
    }
    this.convs.set(c.id, merged);
    if (!this.knownSeq.has(c.id)) this.knownSeq.set(c.id, c.last_seq ?? 0);
    this.client?.track(c.id, 0);
    return merged;
  }

  private thread(id: string | null): Map<string, Bubble> {
    const key = id ?? DRAFT;
    let th = this.threads.get(key);
    if (!th) this.threads.set(key, (th = new Map()));
    return th;
  }

  private get conversation(): VisitorConversation | null {
    return this.current ? (this.convs.get(this.current) ?? null) : null;
  }

  /** The draft's sends now have their conversation (the server started it): move them there. */
  private adoptDraft(id: string): void {
    const draft = this.thread(DRAFT);
    const th = this.thread(id);
    for (const [k, b] of draft) if (!th.has(k)) th.set(k, b);
    draft.clear();
    if (this.current === null) {
      this.current = id;
      this.chosenNew = false;
    }
  }

  private notePreview(conv: VisitorConversation, m: Message): void {
    if (m.kind !== "text" && m.kind !== "attachment") return;
    if (conv.preview && conv.preview.seq > m.seq) return;
    conv.preview = { author: m.author.type, body: m.body, attachment: m.attachment?.name ?? null, seq: m.seq, at: m.created };
  }

  private onMessage(m: Message): void {
    if (m.client_id && this.thread(DRAFT).has(m.client_id)) this.adoptDraft(m.conversation);
    const conv = this.convs.get(m.conversation) ?? this.learn({ id: m.conversation, last_seq: m.seq });
    if (!this.knownSeq.has(m.conversation)) this.knownSeq.set(m.conversation, 0);
    // Our first message arriving from another tab: show the conversation it started.
    if (this.current === null && !this.chosenNew && !this.thread(DRAFT).size) this.current = m.conversation;
    conv.last_seq = Math.max(conv.last_seq, m.seq);
    this.notePreview(conv, m);
    const th = this.thread(m.conversation);
    const bubble = this.toBubble(m);
    if (bubble) {
      const key = m.client_id && th.has(m.client_id) ? m.client_id : bubble.key;
      th.set(key, { ...bubble, key });
    }
    if (m.author.type === "agent") {
      // The server counts an agent's reply as reading everything before it; so do we.
      if (m.kind !== "note") conv.agent_last_read_seq = Math.max(conv.agent_last_read_seq, m.seq);
      if (m.conversation === this.current) this.setTypingName(null);
      if (m.seq > (this.knownSeq.get(m.conversation) ?? 0)) {
        this.opts.bridge.post({ type: "message", message: { body: m.body, author: m.author.name ?? "" } });
      }
    }
    if (m.kind === "event" && m.data?.event === "status_changed") conv.status = String(m.data.status);
    this.render();
    this.markRead();
  }

  private onAck(clientId: string, m: Message): void {
    if (this.thread(DRAFT).has(clientId)) this.adoptDraft(m.conversation);
    const conv = this.convs.get(m.conversation) ?? this.learn({ id: m.conversation, last_seq: m.seq });
    conv.contact_last_read_seq = Math.max(conv.contact_last_read_seq, m.seq);
    // A visitor's message reopens a resolved conversation (support.services.messages.post_message).
    if (conv.status !== "open") conv.status = "open";
    this.notePreview(conv, m);
    const th = this.thread(m.conversation);
    const b = th.get(clientId);
    if (b) th.set(clientId, { ...b, state: "sent", seq: m.seq, order: m.seq, created: m.created });
    this.render();
  }

  private onError(f: ServerFrame, dropped: PendingSend | undefined): void {
    if (dropped) {
      for (const th of this.threads.values()) {
        const b = th.get(dropped.client_id);
        if (b) th.set(dropped.client_id, { ...b, state: "failed", error: t("Not sent: {detail}", { detail: String(f.detail ?? f.code) }) });
      }
      this.render();
    } else if (f.code === "unauthenticated" || f.code === "verification_required") {
      // The token stopped working (e.g. the tenant turned on verification): start over.
      this.storeSet("token", "");
      void this.reidentify(this.identity);
    }
  }

  private onTyping(f: ServerFrame): void {
    if (!this.current || f.conversation !== this.current) return;
    const author = (f.author ?? {}) as { type?: string; name?: string };
    if (author.type !== "agent") return;
    this.setTypingName(f.on ? author.name || t("Someone") : null);
  }

  private setTypingName(name: string | null): void {
    if (this.typingShowTimer) clearTimeout(this.typingShowTimer);
    this.view.setTyping(name);
    // A lost "typing off" must not leave the dots forever.
    if (name) this.typingShowTimer = setTimeout(() => this.view.setTyping(null), TYPING_SHOW_MS);
  }

  private onRead(f: ServerFrame): void {
    const conv = typeof f.conversation === "string" ? this.convs.get(f.conversation) : undefined;
    if (!conv || typeof f.seq !== "number") return;
    if (f.reader === "agent") conv.agent_last_read_seq = Math.max(conv.agent_last_read_seq, f.seq);
    else if (f.reader === "contact") conv.contact_last_read_seq = Math.max(conv.contact_last_read_seq, f.seq); // another tab
    this.render();
  }

  private onConversation(c: VisitorConversation | undefined): void {
    if (!c || typeof c.id !== "string" || !c.id) return;
    this.learn(c);
    this.render();
  }

  private onPresence(f: ServerFrame): void {
    if (typeof f.team_online === "boolean") {
      this.teamOnline = f.team_online;
      this.updateHeader();
      this.renderOverlay();
    }
  }

  private onState(state: string): void {
    // Quiet by design: long-polling is normal, and a short blip is not worth a word.
    if (this.bannerTimer) clearTimeout(this.bannerTimer);
    this.bannerTimer = null;
    if (state === "reconnecting" || state === "connecting") {
      this.bannerTimer = setTimeout(() => this.view.setBanner(t("Reconnecting…")), 2500);
    } else {
      this.view.setBanner(null);
    }
  }

  // ---- rendering ------------------------------------------------------------------------------

  private toBubble(m: Message): Bubble | null {
    const mine = m.author.type === "contact";
    let body = m.body;
    if (m.kind === "event") {
      const ev = String(m.data?.event ?? "");
      if (ev === "assigned" && m.data?.assignee_name) body = t("{name} joined the conversation", { name: String(m.data.assignee_name) });
      else if (ev === "status_changed" && m.data?.status === "resolved") body = t("This conversation was marked as resolved.");
      else if (ev === "status_changed" && m.data?.status === "open" && m.data?.previous === "resolved") body = t("Conversation reopened");
      else return null;
    }
    return {
      key: m.client_id ?? m.id,
      seq: m.seq,
      order: m.seq,
      mine,
      authorName: mine ? t("You") : m.author.name || this.boot?.settings.team_name || t("Team"),
      kind: m.kind,
      body,
      attachment: m.attachment,
      state: "sent",
      created: m.created,
    };
  }

  private upsertPending(p: PendingSend): void {
    const meta = (p.meta ?? {}) as { name?: string; content_type?: string; size?: number; preview?: string };
    this.thread(p.conversation).set(p.client_id, {
      key: p.client_id,
      seq: null,
      order: 1e12 + p.queued_at,
      mine: true,
      authorName: t("You"),
      kind: p.kind,
      body: p.body,
      attachment: p.attachment ? { id: p.attachment, name: meta.name ?? "file", content_type: meta.content_type ?? "", size: meta.size ?? 0, url: meta.preview ?? null } : undefined,
      state: "pending",
      created: new Date(p.queued_at).toISOString(),
    });
  }

  private render(): void {
    const conv = this.conversation;
    const bubbles = [...this.thread(this.current).values()].sort((a, b) => a.order - b.order);
    this.view.renderMessages(bubbles, conv?.agent_last_read_seq ?? 0, this.token);
    this.view.setResolved(!!conv && conv.status === "resolved" && !this.replying.has(conv.id));
    this.renderRating();
    this.renderOverlay();
    this.view.setBack(this.convs.size > 0, this.unreadCount(this.current));
    if (this.view.listShown) this.renderList();
    this.reportUnread();
  }

  // ---- the conversation list --------------------------------------------------------------------

  private renderList(): void {
    const now = Date.now();
    const team = this.boot?.settings.team_name || t("Team");
    const items: ListItem[] = sortConversations(this.convs.values()).map((c) => ({
      id: c.id,
      who: c.assignee?.name || team,
      preview: previewText(c.preview),
      time: relativeTime(lastActivity(c), now, this.opts.lang),
      resolved: c.status === "resolved",
      unread: this.unreadCount(null, c.id) > 0 || (!this.thread(c.id).size && hasUnread(c)),
      current: c.id === this.current,
    }));
    this.view.renderList(items, (id) => this.openConversation(id));
  }

  private openList(): void {
    this.stopTyping();
    this.view.showList(true);
    this.renderList();
    this.view.listHeading.focus();
  }

  private openConversation(id: string | null): void {
    if (id !== this.current) {
      this.stopTyping();
      this.setTypingName(null);
      this.clearFile();
      this.view.showNotice(null);
    }
    this.current = id;
    this.view.showList(false);
    this.render();
    this.view.scrollToEnd();
    this.markRead();
    this.focusTarget()?.focus();
  }

  private startNew(): void {
    this.chosenNew = true;
    this.openConversation(null);
  }

  /** Where focus goes when the panel or a view opens. */
  private focusTarget(): HTMLElement | null {
    if (this.view.listShown) return this.view.listHeading;
    if (!this.view.overlay.hidden) return this.view.overlay.querySelector<HTMLElement>("input,textarea,button");
    if (!this.view.resolvedBar.hidden) return this.view.resolvedNew;
    return this.view.textarea;
  }

  private updateHeader(): void {
    if (!this.boot) return;
    this.view.setHeader(this.boot.settings.team_name, this.teamOnline && this.boot.open_now, this.teamOnline ? this.boot.agents : []);
  }

  /** Agent messages not yet read: in conversation `only`, or in all but `except`. */
  private unreadCount(except: string | null = null, only?: string): number {
    let n = 0;
    for (const [id, conv] of this.convs) {
      if (id === except || (only !== undefined && id !== only)) continue;
      for (const b of this.thread(id).values()) if (!b.mine && b.kind !== "event" && (b.seq ?? 0) > conv.contact_last_read_seq) n++;
    }
    return n;
  }

  private reportUnread(): void {
    this.opts.bridge.post({ type: "unread", count: this.open ? 0 : this.unreadCount() });
  }

  private markRead(): void {
    const conv = this.conversation;
    if (!this.open || document.visibilityState === "hidden" || !conv || !this.client || this.view.listShown) return;
    let top = 0;
    for (const b of this.thread(conv.id).values()) if (!b.mine && b.seq && b.seq > top) top = b.seq;
    if (top > conv.contact_last_read_seq) {
      conv.contact_last_read_seq = top;
      this.client.read(conv.id, top);
      this.view.setBack(true, this.unreadCount(this.current));
    }
    this.reportUnread();
  }

  // ---- overlays: pre-chat form, offline form --------------------------------------------------

  private overlayKind(): "prechat" | "offline" | null {
    if (!this.boot || this.current || this.thread(DRAFT).size) return null;
    if (this.storeGet("offline-sent")) return null;
    if (!this.teamOnline || !this.boot.open_now) return "offline";
    if (this.boot.settings.prechat_form && !this.boot.contact.email && !this.storeGet("prechat-done")) return "prechat";
    return null;
  }

  private renderOverlay(): void {
    const current = this.view.overlay.dataset.kind ?? "";
    if (current === "thanks") return; // shown for a moment after the offline form, then cleared
    const kind = this.overlayKind();
    if ((kind ?? "") === current) return;
    this.view.overlay.dataset.kind = kind ?? "";
    this.view.overlay.hidden = !kind;
    this.view.footer.hidden = !!kind;
    this.view.root.classList.toggle("has-overlay", !!kind);
    if (!kind) {
      this.view.overlay.replaceChildren();
      return;
    }
    this.view.overlay.replaceChildren(kind === "prechat" ? this.prechatForm() : this.offlineForm());
  }

  private field(label: string, input: HTMLInputElement | HTMLTextAreaElement, id: string): HTMLElement {
    input.id = id;
    const err = h("span", { class: "field-error", id: `${id}-err`, "aria-live": "polite" });
    input.setAttribute("aria-describedby", err.id);
    input.addEventListener("input", () => {
      if (input.getAttribute("aria-invalid") === "true") this.clearInvalid(input);
    });
    return h("div", { class: "field" }, h("label", { for: id, text: label }), input, err);
  }

  private invalid(input: HTMLInputElement | HTMLTextAreaElement, message: string): boolean {
    const err = document.getElementById(`${input.id}-err`);
    if (err) err.textContent = message;
    input.setAttribute("aria-invalid", message ? "true" : "false");
    if (message) input.focus();
    return !!message;
  }

  /** Clear an error without moving focus (the visitor is typing the fix). */
  private clearInvalid(input: HTMLInputElement | HTMLTextAreaElement): void {
    const err = document.getElementById(`${input.id}-err`);
    if (err) err.textContent = "";
    input.setAttribute("aria-invalid", "false");
  }

  private prechatForm(): HTMLElement {
    const name = h("input", { type: "text", autocomplete: "name", maxlength: 120, required: true });
    const email = h("input", { type: "email", autocomplete: "email", maxlength: 254, required: true });
    const submit = h("button", { class: "primary", type: "submit", text: t("Start chat") });
    const form = h("form", { class: "card", novalidate: true },
      h("h2", { text: t("Before we start") }),
      h("p", { class: "muted", text: t("Tell us who you are so we can follow up if you leave.") }),
      this.field(t("Name"), name, "sb-pre-name"),
      this.field(t("Email"), email, "sb-pre-email"),
      submit,
    );
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      this.invalid(name, "");
      this.invalid(email, "");
      if (this.invalid(name, name.value.trim() ? "" : t("This field is required."))) return;
      if (this.invalid(email, EMAIL_RE.test(email.value.trim()) ? "" : t("Please enter a valid email address."))) return;
      submit.disabled = true;
      const ok = await this.pushProfile({ name: name.value.trim(), email: email.value.trim() }, email);
      submit.disabled = false;
      if (!ok) return;
      this.storeSet("prechat-done", "1");
      if (this.boot) this.boot.contact.email = email.value.trim();
      this.renderOverlay();
      this.view.textarea.focus();
    });
    return form;
  }

  private offlineForm(): HTMLElement {
    const email = h("input", { type: "email", autocomplete: "email", maxlength: 254, required: true, value: this.boot?.contact.email ?? "" });
    const message = h("textarea", { rows: 4, maxlength: 10000, required: true });
    const submit = h("button", { class: "primary", type: "submit", text: t("Send message") });
    const form = h("form", { class: "card", novalidate: true },
      h("h2", { text: t("Leave us a message") }),
      h("p", { class: "muted", text: t("Nobody is available right now. Leave your email and message and we'll get back to you.") }),
      this.field(t("Email"), email, "sb-off-email"),
      this.field(t("Message"), message, "sb-off-message"),
      submit,
    );
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      this.invalid(email, "");
      this.invalid(message, "");
      if (this.invalid(email, EMAIL_RE.test(email.value.trim()) ? "" : t("Please enter a valid email address."))) return;
      if (this.invalid(message, message.value.trim() ? "" : t("This field is required."))) return;
      submit.disabled = true;
      const ok = await this.pushProfile({ email: email.value.trim() }, email);
      submit.disabled = false;
      if (!ok || !this.client) return;
      // Becomes an offline conversation: the server marks conversations started with nobody online.
      const item = this.client.send({ conversation: null, body: message.value.trim() });
      this.upsertPending(item);
      this.storeSet("offline-sent", "1");
      this.view.overlay.replaceChildren(
        h("div", { class: "card thanks", role: "status" }, icon(ICONS.checks, "big"), h("p", { text: t("Thanks! We got your message and will reply to {email}.", { email: email.value.trim() }) })),
      );
      this.view.overlay.dataset.kind = "thanks";
      setTimeout(() => {
        this.view.overlay.dataset.kind = "";
        this.renderOverlay();
      }, 4000);
      this.render();
    });
    return form;
  }

  private async pushProfile(fields: { name?: string; email?: string; attributes?: Record<string, unknown> }, input?: HTMLInputElement): Promise<boolean> {
    if (!this.token) return false;
    try {
      await saveProfile({ token: this.token, ...fields });
      return true;
    } catch (err) {
      if (input) this.invalid(input, err instanceof ApiError && err.code === "invalid_email" ? t("Please enter a valid email address.") : String((err as Error).message));
      return false;
    }
  }

  // ---- rating ---------------------------------------------------------------------------------

  private renderRating(): void {
    const c = this.conversation;
    const slot = this.view.ratingSlot;
    const want = c && c.status === "resolved" && !this.storeGet(`rated:${c.id}`) ? c.id : "";
    if ((slot.dataset.conv ?? "") === want) return;
    slot.dataset.conv = want;
    if (!want) {
      slot.replaceChildren();
      return;
    }
    let chosen = 0;
    const stars = [1, 2, 3, 4, 5].map((n) => {
      const b = h("button", { type: "button", class: "star", role: "radio", "aria-checked": "false", "aria-label": t("{n} out of 5", { n }) }, icon(ICONS.star));
      b.addEventListener("click", () => {
        chosen = n;
        stars.forEach((s, i) => {
          s.classList.toggle("on", i < n);
          s.setAttribute("aria-checked", String(i === n - 1));
        });
        submit.disabled = false;
      });
      return b;
    });
    const comment = h("textarea", { rows: 2, maxlength: 1000, placeholder: t("Anything to add? (optional)"), "aria-label": t("Anything to add? (optional)") });
    const submit = h("button", { class: "primary", type: "submit", disabled: true, text: t("Send feedback") });
    const err = h("p", { class: "field-error", role: "alert" });
    const form = h("form", { class: "card rating" },
      h("h2", { text: t("How was this conversation?") }),
      h("div", { class: "stars", role: "radiogroup", "aria-label": t("How was this conversation?") }, ...stars),
      comment, err, submit,
    );
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      if (!chosen || !this.token) return;
      submit.disabled = true;
      try {
        await rate({ token: this.token, conversation: want, rating: chosen, comment: comment.value.trim() });
      } catch (e) {
        err.textContent = (e as Error).message;
        submit.disabled = false;
        return;
      }
      this.storeSet(`rated:${want}`, String(chosen));
      slot.replaceChildren(h("div", { class: "card thanks", role: "status" }, h("p", { text: t("Thanks for your feedback!") })));
    });
    slot.replaceChildren(form);
    this.view.scrollToEnd();
  }

  // ---- composer -------------------------------------------------------------------------------

  private wireComposer(): void {
    const { textarea, sendBtn, attachBtn, fileInput } = this.view;
    const form = textarea.form!;
    const update = () => {
      sendBtn.disabled = !textarea.value.trim() && !this.pendingFile;
      textarea.style.height = "auto";
      textarea.style.height = `${Math.min(textarea.scrollHeight, 120)}px`;
    };
    textarea.addEventListener("input", () => {
      update();
      this.typed();
    });
    textarea.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        form.requestSubmit();
      }
    });
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      void this.submit().then(update);
    });
    attachBtn.addEventListener("click", () => fileInput.click());
    fileInput.addEventListener("change", () => {
      const file = fileInput.files?.[0];
      fileInput.value = "";
      if (file) this.pickFile(file);
      update();
    });
    this.view.root.addEventListener("dragover", (ev) => ev.preventDefault());
    this.view.root.addEventListener("drop", (ev) => {
      ev.preventDefault();
      const file = ev.dataTransfer?.files?.[0];
      if (file) this.pickFile(file);
      update();
    });
    this.view.textarea.addEventListener("paste", (ev) => {
      const file = ev.clipboardData?.files?.[0];
      if (file) {
        ev.preventDefault();
        this.pickFile(file);
        update();
      }
    });
  }

  private pickFile(file: File): void {
    const check = checkFile(file, this.limits);
    if (!check.ok) {
      this.view.showNotice(
        check.reason === "too_large"
          ? t("“{name}” is too large ({size}). The limit is {limit}.", { name: file.name, size: nbsp(humanSize(file.size)), limit: nbsp(humanSize(this.limits.maxBytes, Math.floor)) })
          : t("“{name}” can't be sent: only images, PDF, text, CSV, ZIP, Word and Excel files are allowed.", { name: file.name }),
      );
      return;
    }
    this.view.showNotice(null);
    this.clearFile();
    const url = check.image ? URL.createObjectURL(file) : null;
    this.pendingFile = { file, url };
    const remove = h("button", { type: "button", class: "icon-btn", "aria-label": t("Remove attachment") }, icon(ICONS.close));
    remove.addEventListener("click", () => {
      this.clearFile();
      this.view.sendBtn.disabled = !this.view.textarea.value.trim();
      this.view.textarea.focus();
    });
    this.view.chip.replaceChildren(
      url ? h("img", { src: url, alt: "" }) : icon(ICONS.file, "fi"),
      h("span", { class: "fname", text: file.name }),
      h("span", { class: "fsize", text: humanSize(file.size) }),
      remove,
    );
    this.view.chip.hidden = false;
  }

  private clearFile(): void {
    if (this.pendingFile?.url) URL.revokeObjectURL(this.pendingFile.url);
    this.pendingFile = null;
    this.view.chip.hidden = true;
    this.view.chip.replaceChildren();
  }

  private typed(): void {
    const conv = this.conversation?.id;
    if (!conv || !this.client) return;
    const now = Date.now();
    if (now - this.lastTypingSent > TYPING_SEND_EVERY_MS) {
      this.lastTypingSent = now;
      this.client.typing(conv, true);
    }
    if (this.typingOffTimer) clearTimeout(this.typingOffTimer);
    this.typingOffTimer = setTimeout(() => this.stopTyping(), TYPING_IDLE_MS);
  }

  private stopTyping(): void {
    if (this.typingOffTimer) clearTimeout(this.typingOffTimer);
    this.typingOffTimer = null;
    if (this.lastTypingSent && this.conversation && this.client) this.client.typing(this.conversation.id, false);
    this.lastTypingSent = 0;
  }

  private async submit(): Promise<void> {
    if (!this.client || !this.token) return;
    const body = this.view.textarea.value.trim();
    const picked = this.pendingFile;
    if (!body && !picked) return;
    this.stopTyping();
    let attachment: string | undefined;
    let meta: Record<string, unknown> | undefined;
    if (picked) {
      this.view.sendBtn.disabled = true;
      this.view.chip.classList.add("uploading");
      try {
        const up = await upload(this.token, picked.file);
        attachment = up.id;
        meta = { name: up.name, content_type: up.content_type, size: up.size };
      } catch (err) {
        this.view.chip.classList.remove("uploading");
        this.view.showNotice(
          err instanceof ApiError && err.code === "too_large"
            ? t("“{name}” is larger than the {limit} limit.", { name: picked.file.name, limit: nbsp(humanSize(this.limits.maxBytes, Math.floor)) })
            : t("The file could not be uploaded: {detail}", { detail: (err as Error).message }),
        );
        return; // the file and the text stay where they are
      }
      this.view.chip.classList.remove("uploading");
      this.clearFile();
    }
    this.view.showNotice(null);
    this.view.textarea.value = "";
    const item = this.client.send({ conversation: this.current, body, attachment, meta });
    this.upsertPending(item);
    this.render();
    this.view.scrollToEnd();
  }

  // ---- keyboard: Esc closes, Tab stays inside the panel ---------------------------------------

  private onKey(ev: KeyboardEvent): void {
    if (ev.key === "Escape") {
      ev.preventDefault();
      this.requestClose();
      return;
    }
    if (ev.key !== "Tab") return;
    const focusable = [...this.view.root.querySelectorAll<HTMLElement>(
      'button:not([disabled]),textarea:not([disabled]),input:not([type=file]):not([disabled]),a[href],[tabindex]:not([tabindex="-1"])',
    )].filter((el) => el.offsetParent !== null);
    if (!focusable.length) return;
    const first = focusable[0];
    const last = focusable[focusable.length - 1];
    const active = document.activeElement;
    if (ev.shiftKey && (active === first || !this.view.root.contains(active))) {
      ev.preventDefault();
      last.focus();
    } else if (!ev.shiftKey && (active === last || !this.view.root.contains(active))) {
      ev.preventDefault();
      first.focus();
    }
  }

  // ---- storage (our origin's localStorage, per widget key) ------------------------------------

  private storeGet(name: string): string | null {
    try {
      return this.store?.getItem(`sb:${this.opts.key}:${name}`) || null;
    } catch {
      return null;
    }
  }

  private storeSet(name: string, value: string): void {
    try {
      this.store?.setItem(`sb:${this.opts.key}:${name}`, value);
    } catch {
      /* storage blocked: the visitor simply starts fresh next time */
    }
  }
}

/** "2 KB" never breaks between the number and the unit. */
function nbsp(size: string): string {
  return size.replace(" ", "\u00a0");
}

function safeStorage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}
