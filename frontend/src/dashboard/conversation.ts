/** One conversation: header with assign/transfer, labels, snooze, resolve/reopen; the thread; the composer. */
import { api, ApiError, type Conversation, type Label } from "./api";
import { Composer } from "./composer";
import { ContactPanel } from "./contact_panel";
import { clear, h } from "../shared/dom";
import { icon } from "./icons";
import { menuButton } from "./menu_button";
import { canEmail, contactName, replyChannelText, shortDateTime, statusLabel } from "./format";
import { labelChip } from "./inbox";
import { live } from "./live";
import { navigate } from "./router";
import { store, type PendingMessage } from "./store";
import { ThreadView } from "./thread";
import { toast } from "./toast";
import { t } from "../i18n";

function snoozeOptions(): { label: string; until: Date }[] {
  const now = new Date();
  const inHours = (n: number) => new Date(now.getTime() + n * 3600000);
  const tomorrow = new Date(now);
  tomorrow.setDate(now.getDate() + 1);
  tomorrow.setHours(9, 0, 0, 0);
  const nextWeek = new Date(now);
  nextWeek.setDate(now.getDate() + ((8 - now.getDay()) % 7 || 7));
  nextWeek.setHours(9, 0, 0, 0);
  return [
    { label: t("1 hour"), until: inHours(1) },
    { label: t("4 hours"), until: inHours(4) },
    { label: t("Tomorrow morning"), until: tomorrow },
    { label: t("Next Monday"), until: nextWeek },
  ];
}

export class ConversationView {
  el: HTMLElement;
  private header: HTMLElement;
  private thread: ThreadView | null = null;
  private composer: Composer | null = null;
  private body: HTMLElement;
  /** Above the composer while nobody has the conversation: who is waiting, and a one-click "Assign to me". */
  private takeBar = h("div", { class: "take-bar", hidden: true });
  /** Above the composer in an email conversation: where the reply goes, and "Switch to chat". */
  private channelBar = h("div", { class: "channel-bar", hidden: true });
  private unsubs: (() => void)[] = [];
  private headerKey = "";
  private snoozeOpen = false;
  private labelsOpen = false;
  id = "";

  constructor(private panel: ContactPanel) {
    this.header = h("header", { class: "conv-header" });
    this.body = h("div", { class: "conv-body" });
    this.el = h("section", { class: "conversation", "aria-label": t("Conversation") }, this.header, this.body);
    this.empty();
  }

  private conv(): Conversation {
    return store.conversations.get(this.id)!;
  }

  empty(): void {
    this.close();
    clear(this.header);
    clear(this.body);
    this.el.classList.add("is-empty");
    this.body.append(h("div", { class: "empty big" }, icon("inbox", 40),
      h("h2", null, t("Pick a conversation")), h("p", null, t("Choose one from the inbox to read and reply."))));
    this.panel.hide();
  }

  private close(): void {
    this.unsubs.forEach((u) => u());
    this.unsubs = [];
    if (this.id) live.unsubscribe(this.id);
    this.id = "";
    this.headerKey = "";
    this.snoozeOpen = false;
    this.labelsOpen = false;
    this.thread = null;
    this.composer = null;
  }

  async open(id: string): Promise<void> {
    if (this.id === id) return;
    this.close();
    this.id = id;
    this.el.classList.remove("is-empty");
    clear(this.header);
    clear(this.body);
    this.body.append(h("div", { class: "spinner-row center" }, h("span", { class: "spinner" })));
    // A row known only from live frames may lack its labels (docs/protocol.md): read it once.
    const known = store.conversations.has(id);
    if (!known || store.conversations.get(id)!.labels === undefined) {
      let failed: unknown = null;
      try {
        store.upsertConversation(await api.conversation(id));
      } catch (err) {
        failed = err;
      }
      if (this.id !== id) return;
      const gone = failed instanceof ApiError && failed.status === 404;
      // A row already shown (only its labels missing, e.g. offline) opens as it is, unless it is gone.
      if (failed && (!known || gone)) {
        clear(this.body);
        this.body.append(h("div", { class: "empty big" }, icon("inbox", 40),
          h("h2", null, gone ? t("Conversation not found") : t("Could not load this conversation")),
          h("p", null, gone ? t("It may have been removed, or belongs to another workspace.") : t("Check your connection and try again."))));
        return;
      }
    }
    if (this.id !== id) return;
    this.thread = new ThreadView(() => this.conv(), (p) => this.retry(p));
    this.composer = new Composer({
      send: (body, kind, file) => this.send(body, kind, file),
      typing: (on) => live.typing(this.id, on),
    }, `sb.draft.${id}`);
    clear(this.body);
    this.body.append(this.thread.el, this.takeBar, this.channelBar, this.composer.el);
    this.renderHeader();
    this.panel.show(this.conv());
    this.unsubs.push(
      store.on(`conversation:${id}`, () => {
        this.renderHeader();
        this.thread?.render();
        this.panel.show(this.conv());
      }),
      store.on(`messages:${id}`, () => {
        this.thread?.render();
        this.markRead();
      }),
      store.on(`typing:${id}`, () => this.thread?.render()),
    );
    try {
      await this.thread.loadInitial();
    } catch {
      toast(t("Could not load the message history. It will appear when the connection is back."));
    }
    if (this.id !== id) return;
    live.subscribe(id, store.contiguousTop(id));
    this.markRead();
    this.composer.focus();
  }

  /** Tells the visitor (and teammates) the agent read up to the newest message, when visible. */
  markRead(): void {
    if (!this.id || document.hidden) return;
    const seq = store.lastSeq(this.id);
    store.markSeen(this.id, seq);
    live.read(this.id, seq);
  }

  private async send(body: string, kind: "text" | "note", file: File | null): Promise<void> {
    let attachment: string | undefined;
    if (file) {
      try {
        attachment = (await api.upload(file, this.id)).id;
      } catch (err) {
        throw new Error(err instanceof ApiError ? `Upload failed: ${err.message}` : t("Upload failed. Check your connection."));
      }
    }
    live.sendMessage(this.id, { body, kind, attachment, attachmentName: file?.name });
    this.thread?.scrollToBottom();
    this.thread?.render();
  }

  private retry(p: PendingMessage): void {
    p.error = undefined;
    live.resend(this.id, p);
    this.thread?.render();
  }

  private async update(changes: Record<string, unknown>, done: string): Promise<void> {
    try {
      store.upsertConversation(await api.updateConversation(this.id, changes));
      toast(done);
    } catch (err) {
      toast(err instanceof ApiError ? err.message : t("That change did not go through. Try again."), "error");
      this.renderHeader(true);
    }
  }

  private assignControl(conv: Conversation): HTMLElement {
    const select = h("select", { class: "select", "aria-label": t("Assign") },
      h("option", { value: "" }, t("Unassigned")),
      h("optgroup", { label: t("Agents") },
        ...[...store.agents.values()].map((a) => h("option", { value: `agent:${a.id}`, selected: conv.assignee?.id === a.id },
          a.id === store.me?.id ? t("{name} (me)", { name: a.name }) : a.name))),
      store.teams.length ? h("optgroup", { label: t("Transfer to team") },
        ...store.teams.map((team) => h("option", { value: `team:${team.id}` }, conv.team?.id === team.id ? t("{name} (current)", { name: team.name }) : team.name))) : null);
    if (conv.assignee && !store.agents.has(conv.assignee.id)) {
      select.append(h("option", { value: `agent:${conv.assignee.id}`, selected: true }, conv.assignee.name));
    }
    if (!conv.assignee) select.value = "";
    select.addEventListener("change", () => {
      const [kind, value] = select.value.split(":");
      if (!select.value) void this.update({ assignee: null }, t("Unassigned"));
      else if (kind === "agent") void this.update({ assignee: value }, t("Assigned to {name}", { name: store.agentName(value) || t("an agent") }));
      else if (kind === "team") void this.update({ team: value, assignee: null }, t("Transferred to {name}", { name: store.teams.find((team) => team.id === value)?.name || t("the team") }));
    });
    return h("label", { class: `assign${conv.assignee ? "" : " unassigned"}` }, icon("user", 14), select);
  }

  /** Email conversations say where replies go; the agent switches to the chat once the visitor is back on the site. */
  private renderChannelBar(conv: Conversation): void {
    clear(this.channelBar);
    const text = replyChannelText(conv);
    this.channelBar.hidden = !text;
    if (!text) return;
    this.channelBar.append(
      h("span", { class: "channel-text" }, icon("mail", 15), h("span", null, text)),
      h("button", { type: "button", class: "btn small", title: t("The visitor is back on the site: reply in the chat widget"),
        onclick: () => void this.update({ channel: "chat" }, t("Replies now go to the chat")) }, t("Switch to chat")));
  }

  private channelControl(conv: Conversation): HTMLElement | null {
    if (conv.channel === "email" || !canEmail(conv)) return null;
    return h("button", { type: "button", class: "btn", "aria-label": t("Reply by email"),
      title: t("Send each reply by email to {address}", { address: conv.email_address || conv.contact.email }),
      onclick: () => void this.update({ channel: "email" }, t("Replies now go by email")) },
    icon("mail", 15), h("span", { class: "btn-label" }, t("Reply by email")));
  }

  /** Unassigned conversations offer the one-click action agents use most (Intercom's and Front's "Assign to me"). */
  private renderTakeBar(conv: Conversation): void {
    const me = store.me;
    clear(this.takeBar);
    this.takeBar.hidden = !!conv.assignee || !me || conv.status === "resolved";
    if (this.takeBar.hidden || !me) return;
    this.takeBar.append(
      h("span", { class: "take-text" }, icon("inbox", 15),
        h("span", null, conv.team ? t("Unassigned in {team}", { team: conv.team.name }) : t("Unassigned"), h("span", { class: "muted" }, t(" · nobody is on it yet")))),
      h("button", { type: "button", class: "btn primary small take", onclick: () => void this.update({ assignee: me.id }, t("Assigned to you")) },
        icon("user", 14), t("Assign to me")));
  }

  /** Puts the label on, or takes it off (the complete list goes to the server; others see it live). */
  private toggleLabel(conv: Conversation, label: Label): void {
    const current = conv.labels || [];
    const on = current.some((l) => l.id === label.id);
    const next = on ? current.filter((l) => l.id !== label.id) : [...current, label];
    void this.update({ labels: next.map((l) => l.id) },
      on ? t("Label “{name}” removed", { name: label.name }) : t("Label “{name}” added", { name: label.name }));
  }

  /** The header's "Labels" menu: one checkbox item per tenant label. */
  private labelsControl(conv: Conversation): HTMLElement | null {
    if (!store.labels.length) return null;
    const menu = h("div", { class: "menu labels-menu", hidden: true, role: "menu", "aria-label": t("Labels") });
    menu.append(h("div", { class: "menu-title", "aria-hidden": "true" }, t("Labels")));
    for (const label of store.labels) {
      const on = !!conv.labels?.some((l) => l.id === label.id);
      menu.append(h("button", {
        type: "button", class: "menu-item", role: "menuitemcheckbox", "aria-checked": String(on), "data-label": label.id,
        onclick: () => {
          menu.hidden = true;
          this.toggleLabel(conv, label);
        },
      }, h("span", { class: "menu-check", "aria-hidden": "true" }, on ? icon("check", 14) : null), labelChip(label)));
    }
    const btn = h("button", { type: "button", class: "btn", "aria-label": t("Labels") }, icon("tag", 15), h("span", { class: "btn-label" }, t("Labels")));
    menuButton(btn, menu);
    menu.hidden = !this.labelsOpen;
    new MutationObserver(() => (this.labelsOpen = !menu.hidden)).observe(menu, { attributes: true, attributeFilter: ["hidden"] });
    return h("div", { class: "menu-wrap" }, btn, menu);
  }

  /** The conversation's labels under its name, each with a button that takes it off. */
  private labelChips(conv: Conversation): HTMLElement[] {
    return (conv.labels || []).map((label) => labelChip(label,
      h("button", { type: "button", class: "chip-remove", "aria-label": t("Remove label {name}", { name: label.name }), title: t("Remove label"),
        onclick: () => this.toggleLabel(conv, label) }, icon("x", 11))));
  }

  private snoozeControl(): HTMLElement {
    // The presets are a menu; the date field below them is not a menu item, so it sits beside the menu.
    const menu = h("div", { class: "menu snooze-menu", hidden: true });
    const presets = h("div", { role: "menu", "aria-label": t("Snooze until") });
    const custom = h("input", { type: "datetime-local", class: "input", "aria-label": t("Snooze until a date and time") });
    const pick = (until: Date) => {
      menu.hidden = true;
      if (Number.isNaN(until.getTime()) || until.getTime() <= Date.now()) {
        toast(t("Pick a time in the future."), "error");
        return;
      }
      void this.update({ status: "snoozed", snoozed_until: until.toISOString() }, t("Snoozed until {time}", { time: shortDateTime(until) }));
    };
    menu.append(h("div", { class: "menu-title", "aria-hidden": "true" }, t("Snooze until")), presets);
    for (const opt of snoozeOptions()) {
      presets.append(h("button", { type: "button", class: "menu-item", role: "menuitem", onclick: () => pick(opt.until) },
        h("span", { class: "menu-label" }, opt.label), h("span", { class: "menu-hint" }, shortDateTime(opt.until))));
    }
    menu.append(h("div", { class: "menu-custom" }, custom,
      h("button", { type: "button", class: "btn small", onclick: () => pick(new Date(custom.value)) }, t("Snooze"))));
    const btn = h("button", { type: "button", class: "btn", "aria-label": t("Snooze") }, icon("clock", 15), h("span", { class: "btn-label" }, t("Snooze")));
    menuButton(btn, menu);
    // The header re-renders on live updates: remember whether the menu is open across them.
    menu.hidden = !this.snoozeOpen;
    new MutationObserver(() => (this.snoozeOpen = !menu.hidden)).observe(menu, { attributes: true, attributeFilter: ["hidden"] });
    return h("div", { class: "menu-wrap" }, btn, menu);
  }

  renderHeader(force = false): void {
    const conv = store.conversations.get(this.id);
    if (!conv) return;
    // Skip re-rendering when nothing shown changed, so an open select or menu stays as it is.
    const key = JSON.stringify([conv.id, conv.status, conv.snoozed_until, conv.assignee?.id, conv.team?.id,
      contactName(conv.contact), conv.contact.email, store.agents.size, store.teams.length, conv.channel,
      conv.email_address, conv.subject, conv.labels?.map((l) => l.id), store.labels.length]);
    if (!force && key === this.headerKey) return;
    this.headerKey = key;
    clear(this.header);
    const resolved = conv.status === "resolved";
    const snoozedText = conv.status === "snoozed" && conv.snoozed_until ? ` ${t("until {time}", { time: shortDateTime(conv.snoozed_until) })}` : "";
    const name = contactName(conv.contact);
    const email = conv.contact.email && conv.contact.email !== name ? conv.contact.email : "";
    this.renderTakeBar(conv);
    this.renderChannelBar(conv);
    const emailConv = conv.channel === "email";
    const panelOpen = this.panel.isOpen();
    const info = h("button", {
      class: "btn icon-btn panel-toggle", type: "button", title: t("Contact details"), "aria-label": t("Contact details"),
      "aria-controls": this.panel.el.id, "aria-expanded": String(panelOpen), onclick: () => this.panel.setOpen(!this.panel.isOpen()),
    }, icon("info", 18));
    this.panel.onToggle = (open) => info.setAttribute("aria-expanded", String(open));
    this.header.append(
      h("button", { class: "btn icon-btn back", type: "button", "aria-label": t("Back to inbox"), onclick: () => navigate({ name: "inbox" }) },
        icon("back", 18)),
      h("div", { class: "conv-title" },
        h("h2", { title: name }, name),
        h("div", { class: "conv-sub" },
          h("span", { class: `chip status-${conv.status}` }, statusLabel(conv.status) + snoozedText),
          emailConv ? h("span", { class: "chip email", title: t("This conversation is by email") }, icon("mail", 11), t("Email")) : null,
          conv.team ? h("span", { class: "chip muted", title: t("Team: {team}", { team: conv.team.name }) }, conv.team.name) : null,
          emailConv && conv.email_address && conv.email_address !== email
            ? h("span", { class: "conv-email", title: conv.email_address }, conv.email_address)
            : email ? h("span", { class: "conv-email", title: email }, email) : null),
        conv.labels?.length ? h("div", { class: "conv-labels", "aria-label": t("Labels"), role: "group" }, this.labelChips(conv)) : null,
        emailConv && conv.subject ? h("div", { class: "conv-subject", title: conv.subject }, conv.subject) : null),
      h("div", { class: "conv-actions" },
        this.assignControl(conv),
        this.channelControl(conv),
        this.labelsControl(conv),
        resolved ? null : this.snoozeControl(),
        resolved
          ? h("button", { type: "button", class: "btn", "aria-label": t("Reopen"), onclick: () => void this.update({ status: "open" }, t("Reopened")) }, icon("undo", 15), h("span", { class: "btn-label" }, t("Reopen")))
          : h("button", { type: "button", class: "btn success", "aria-label": t("Resolve"), onclick: () => void this.update({ status: "resolved" }, t("Resolved")) }, icon("check", 15), h("span", { class: "btn-label" }, t("Resolve")))),
      info,
    );
  }
}
