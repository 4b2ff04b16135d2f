/**
 * The visitor chat app inside the widget iframe: it bootstraps, runs the realtime client, feeds
 * frames to the state (state.ts) and shows the state in the panel (components/), and answers the
 * host page (open, close, unread, identify).
 */
import { createClient, type Message, type PendingSend, type RealtimeClient, type ServerFrame } from "../client";
import { t } from "../i18n";
import { h } from "../shared/dom";
import { ApiError, bootstrap, rate, saveProfile, upload, type Bootstrap, type VisitorConversation } from "./api";
import { inkFor, safeColor } from "./colors";
import { ACCEPT, acceptFor, checkFile, DEFAULT_LIMITS, humanSize, limitsFrom, type FileLimits } from "./files";
import { keepTabInside } from "./components/focus_trap";
import { offlineForm, offlineThanks, prechatForm } from "./components/forms";
import { PanelView } from "./components/panel";
import { ratingForm } from "./components/rating";
import { WidgetState } from "./state";
import { WidgetStorage } from "./storage";

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

export class WidgetController {
  private readonly view: PanelView;
  private readonly store: WidgetStorage;
  private readonly state: WidgetState;
  private client: RealtimeClient | null = null;
  private token: string | null = null;
  private limits: FileLimits = DEFAULT_LIMITS;
  private open = false;
  private typingOffTimer: ReturnType<typeof setTimeout> | null = null;
  private typingShowTimer: ReturnType<typeof setTimeout> | null = null;
  private lastTypingSent = 0;
  private bannerTimer: ReturnType<typeof setTimeout> | null = null;
  private identity: unknown = null;
  private context: Record<string, unknown> = {};
  private attributes: Record<string, unknown> = {};

  constructor(private readonly opts: AppOptions) {
    this.store = new WidgetStorage(opts.key);
    this.state = new WidgetState((id) => this.client?.track(id, 0));
    this.view = new PanelView(opts.lang, ACCEPT);
    opts.mount.replaceChildren(this.view.root);
    const composer = this.view.composer;
    composer.wire({ typed: () => this.typed(), submit: () => this.submit(), pick: (file) => this.pickFile(file) }, this.view.root);
    this.view.closeBtn.addEventListener("click", () => this.requestClose());
    this.view.backBtn.addEventListener("click", () => this.openList());
    this.view.list.newBtn.addEventListener("click", () => this.startNew());
    composer.resolvedNew.addEventListener("click", () => this.startNew());
    composer.replyBtn.addEventListener("click", () => {
      if (this.state.current) this.state.replyTo(this.state.current);
      this.render();
      composer.textarea.focus();
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
        visitor_token: this.store.get("token"),
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
    this.token = boot.visitor_token;
    this.store.set("token", boot.visitor_token);
    document.documentElement.style.setProperty("--brand", safeColor(boot.settings.color));
    document.documentElement.style.setProperty("--brand-ink", inkFor(safeColor(boot.settings.color)));
    this.view.setGreeting(boot.settings.greetings?.[this.opts.lang] || boot.settings.greeting, boot.settings.team_name);
    this.limits = limitsFrom(boot.settings.attachments);
    this.view.composer.fileInput.accept = acceptFor(this.limits.types);
    this.state.applyBootstrap(boot);
    this.updateHeader();
    this.renderOverlay();
  }

  /** identify() after load: bootstrap again with the identity; the chat view follows the new contact. */
  async reidentify(identity: unknown): Promise<void> {
    this.identity = identity;
    this.client?.stop();
    this.client = null;
    this.state.reset();
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
      storageKey: this.store.key("outbox"),
    });
    this.client = client;
    // The server follows (and replays) the visitor's recent conversations; follow all we list.
    for (const id of this.state.convs.keys()) client.track(id, 0);
    // Sends still waiting (typed before a reload) are shown, a new conversation's in the draft.
    this.state.connected(client.pending());
    client.on("message", (m) => this.onMessage(m));
    client.on("ack", (clientId, m) => this.onAck(clientId, m));
    client.on("error", (f, dropped) => this.onError(f, dropped));
    client.on("typing", (f) => this.onTyping(f));
    client.on("read", (f) => {
      if (this.state.read(f.conversation, f.reader, f.seq)) this.render();
    });
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
    this.state.welcome(Array.isArray(f.conversations) ? (f.conversations as VisitorConversation[]) : []);
    this.render();
  }

  private onMessage(m: Message): void {
    const { news, agentInCurrent } = this.state.receive(m);
    if (agentInCurrent) this.setTypingName(null);
    if (news) this.opts.bridge.post({ type: "message", message: { body: m.body, author: m.author.name ?? "" } });
    this.render();
    this.markRead();
  }

  private onAck(clientId: string, m: Message): void {
    this.state.acknowledge(clientId, m);
    this.render();
  }

  private onError(f: ServerFrame, dropped: PendingSend | undefined): void {
    if (dropped) {
      this.state.fail(dropped.client_id, String(f.detail ?? f.code));
      this.render();
    } else if (f.code === "unauthenticated" || f.code === "verification_required") {
      // The token stopped working (e.g. the tenant turned on verification): start over.
      this.store.set("token", "");
      void this.reidentify(this.identity);
    }
  }

  private onTyping(f: ServerFrame): void {
    if (!this.state.current || f.conversation !== this.state.current) return;
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

  private onConversation(c: VisitorConversation | undefined): void {
    if (!c || typeof c.id !== "string" || !c.id) return;
    this.state.learn(c);
    this.render();
  }

  private onPresence(f: ServerFrame): void {
    if (typeof f.team_online === "boolean") {
      this.state.teamOnline = f.team_online;
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

  private render(): void {
    const conv = this.state.conversation;
    this.view.messages.render(this.state.bubbles(), conv?.agent_last_read_seq ?? 0, this.token);
    this.view.composer.setResolved(this.state.resolvedShown);
    this.renderRating();
    this.renderOverlay();
    this.view.setBack(this.state.convs.size > 0, this.state.unreadCount(this.state.current));
    if (this.view.listShown) this.renderList();
    this.reportUnread();
  }

  // ---- the conversation list --------------------------------------------------------------------

  private renderList(): void {
    this.view.list.render(this.state.listItems(Date.now(), this.opts.lang), (id) => this.openConversation(id));
  }

  private openList(): void {
    this.stopTyping();
    this.view.showList(true);
    this.renderList();
    this.view.list.heading.focus();
  }

  private openConversation(id: string | null): void {
    if (id !== this.state.current) {
      this.stopTyping();
      this.setTypingName(null);
      this.view.composer.clearFile();
      this.view.composer.showNotice(null);
    }
    this.state.current = id;
    this.view.showList(false);
    this.render();
    this.view.scrollToEnd();
    this.markRead();
    this.focusTarget()?.focus();
  }

  private startNew(): void {
    this.state.chosenNew = true;
    this.openConversation(null);
  }

  /** Where focus goes when the panel or a view opens. */
  private focusTarget(): HTMLElement | null {
    if (this.view.listShown) return this.view.list.heading;
    if (!this.view.overlay.hidden) return this.view.overlay.querySelector<HTMLElement>("input,textarea,button");
    if (!this.view.composer.resolvedBar.hidden) return this.view.composer.resolvedNew;
    return this.view.composer.textarea;
  }

  private updateHeader(): void {
    const boot = this.state.boot;
    if (!boot) return;
    const online = this.state.teamOnline;
    this.view.setHeader(boot.settings.team_name, online && boot.open_now, online ? boot.agents : []);
  }

  private reportUnread(): void {
    this.opts.bridge.post({ type: "unread", count: this.open ? 0 : this.state.unreadCount() });
  }

  private markRead(): void {
    const conv = this.state.conversation;
    if (!this.open || document.visibilityState === "hidden" || !conv || !this.client || this.view.listShown) return;
    const top = this.state.takeUnreadTop();
    if (top !== null) {
      this.client.read(conv.id, top);
      this.view.setBack(true, this.state.unreadCount(this.state.current));
    }
    this.reportUnread();
  }

  // ---- overlays: pre-chat form, offline form --------------------------------------------------

  private renderOverlay(): void {
    const current = this.view.overlayKind;
    if (current === "thanks") return; // shown for a moment after the offline form, then cleared
    const kind = this.state.overlayKind({ offlineSent: !!this.store.get("offline-sent"), prechatDone: !!this.store.get("prechat-done") });
    if ((kind ?? "") === current) return;
    if (!kind) this.view.setOverlay("", null);
    else this.view.setOverlay(kind, kind === "prechat" ? this.prechatForm() : this.offlineForm());
  }

  private prechatForm(): HTMLElement {
    return prechatForm(async (fields, fail) => {
      if (!(await this.pushProfile(fields, fail))) return;
      this.store.set("prechat-done", "1");
      if (this.state.boot) this.state.boot.contact.email = fields.email;
      this.renderOverlay();
      this.view.composer.textarea.focus();
    });
  }

  private offlineForm(): HTMLElement {
    return offlineForm(this.state.boot?.contact.email ?? "", async ({ email, message }, fail) => {
      if (!(await this.pushProfile({ email }, fail)) || !this.client) return;
      // Becomes an offline conversation: the server marks conversations started with nobody online.
      this.state.addPending(this.client.send({ conversation: null, body: message }));
      this.store.set("offline-sent", "1");
      this.view.swapOverlay("thanks", offlineThanks(email));
      // Then the conversation with the message (renderOverlay keeps a "thanks" card, so clear it here).
      setTimeout(() => {
        this.view.setOverlay("", null);
        this.renderOverlay();
      }, 4000);
      this.render();
    });
  }

  /** Save the contact's fields; `fail` shows why the server refused them. */
  private async pushProfile(fields: { name?: string; email?: string; attributes?: Record<string, unknown> }, fail?: (message: string) => void): Promise<boolean> {
    if (!this.token) return false;
    try {
      await saveProfile({ token: this.token, ...fields });
      return true;
    } catch (err) {
      fail?.(err instanceof ApiError && err.code === "invalid_email" ? t("Please enter a valid email address.") : String((err as Error).message));
      return false;
    }
  }

  // ---- rating ---------------------------------------------------------------------------------

  private renderRating(): void {
    const c = this.state.conversation;
    const slot = this.view.ratingSlot;
    const want = c && c.status === "resolved" && !this.store.get(`rated:${c.id}`) ? c.id : "";
    if ((slot.dataset.conv ?? "") === want) return;
    slot.dataset.conv = want;
    if (!want) {
      slot.replaceChildren();
      return;
    }
    slot.replaceChildren(ratingForm(async (rating, comment) => {
      if (!this.token) return false;
      await rate({ token: this.token, conversation: want, rating, comment });
      this.store.set(`rated:${want}`, String(rating));
      return true;
    }));
    this.view.scrollToEnd();
  }

  // ---- composer -------------------------------------------------------------------------------

  private pickFile(file: File): void {
    const composer = this.view.composer;
    const check = checkFile(file, this.limits);
    if (!check.ok) {
      composer.showNotice(
        check.reason === "too_large"
          ? t("“{name}” is too large ({size}). The limit is {limit}.", { name: file.name, size: nbsp(humanSize(file.size)), limit: nbsp(humanSize(this.limits.maxBytes, Math.floor)) })
          : t("“{name}” can't be sent: only images, PDF, text, CSV, ZIP, Word and Excel files are allowed.", { name: file.name }),
      );
      return;
    }
    composer.showNotice(null);
    composer.setFile(file, check.image);
  }

  private typed(): void {
    const conv = this.state.conversation?.id;
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
    const conv = this.state.conversation;
    if (this.lastTypingSent && conv && this.client) this.client.typing(conv.id, false);
    this.lastTypingSent = 0;
  }

  private async submit(): Promise<void> {
    if (!this.client || !this.token) return;
    const composer = this.view.composer;
    const body = composer.textarea.value.trim();
    const picked = composer.file;
    if (!body && !picked) return;
    this.stopTyping();
    let attachment: string | undefined;
    let meta: Record<string, unknown> | undefined;
    if (picked) {
      composer.setUploading(true);
      try {
        const up = await upload(this.token, picked.file);
        attachment = up.id;
        meta = { name: up.name, content_type: up.content_type, size: up.size };
      } catch (err) {
        composer.setUploading(false);
        composer.showNotice(
          err instanceof ApiError && err.code === "too_large"
            ? t("“{name}” is larger than the {limit} limit.", { name: picked.file.name, limit: nbsp(humanSize(this.limits.maxBytes, Math.floor)) })
            : t("The file could not be uploaded: {detail}", { detail: (err as Error).message }),
        );
        return; // the file and the text stay where they are
      }
      composer.setUploading(false);
      composer.clearFile();
    }
    composer.showNotice(null);
    composer.textarea.value = "";
    this.state.addPending(this.client.send({ conversation: this.state.current, body, attachment, meta }));
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
    keepTabInside(this.view.root, ev);
  }
}

/** "2 KB" never breaks between the number and the unit. */
function nbsp(size: string): string {
  return size.replace(" ", "\u00a0");
}
