/**
 * The widget panel, built once and then updated in place (so focus and typed text survive): the
 * header (back, agents, team, status, close), the conversation list, the connection banner, the
 * message log with the greeting, rating and typing rows, the form overlay and the composer.
 */
import { h } from "../../shared/dom";
import { t } from "../../i18n";
import { icon, ICONS } from "../icons";
import { avatar } from "./avatar";
import { Composer } from "./composer";
import { ConversationList } from "./conversation_list";
import { MessageLog } from "./messages";

export class PanelView {
  readonly root: HTMLElement;
  readonly title = h("h1", { class: "title", id: "sb-title" });
  readonly status = h("p", { class: "status" });
  readonly avatars = h("div", { class: "avatars" });
  readonly closeBtn = h("button", { class: "icon-btn close", type: "button", "aria-label": t("Close chat") }, icon(ICONS.close));
  readonly backDot = h("span", { class: "back-dot", hidden: true, "aria-hidden": "true" });
  readonly backBtn = h("button", { class: "icon-btn back", type: "button", hidden: true, "aria-label": t("Your conversations"), title: t("Your conversations") },
    icon(ICONS.back), this.backDot);
  readonly banner = h("div", { class: "banner", role: "status", hidden: true });
  readonly scroller = h("div", { class: "scroller" });
  readonly greeting = h("div", { class: "row theirs greeting" });
  readonly ratingSlot = h("div", { class: "rating-slot" });
  readonly typingRow = h("div", { class: "typing", hidden: true, "aria-live": "polite" });
  readonly overlay = h("div", { class: "overlay", hidden: true });
  readonly messages: MessageLog;
  readonly list = new ConversationList();
  readonly composer: Composer;

  constructor(lang: string, accept: string) {
    this.messages = new MessageLog(this.scroller, lang);
    this.composer = new Composer(accept);
    const header = h(
      "header",
      { class: "head" },
      h("div", { class: "head-main" }, this.backBtn, this.avatars, h("div", { class: "head-text" }, this.title, this.status)),
      this.closeBtn,
    );
    this.scroller.append(this.greeting, this.messages.root, this.ratingSlot, this.typingRow);
    this.root = h(
      "section",
      { class: "panel", role: "dialog", "aria-labelledby": "sb-title" },
      header,
      this.list.root,
      this.banner,
      this.scroller,
      this.overlay,
      this.composer.root,
    );
  }

  setHeader(team: string, online: boolean, agents: { name: string }[]): void {
    this.title.textContent = team;
    this.status.replaceChildren(
      h("span", { class: online ? "dot on" : "dot", "aria-hidden": "true" }),
      online ? t("We're online") : t("We're away right now"),
    );
    this.status.title = online ? t("We typically reply in a few minutes") : t("Leave a message and we'll reply by email");
    const shown = agents.slice(0, 3);
    this.avatars.replaceChildren(...(shown.length ? shown.map((a) => avatar(a.name)) : [avatar(team, "avatar team")]));
  }

  /** The back button to the list: shown when there is a list; a dot and a longer label when unread. */
  setBack(shown: boolean, unread: number): void {
    this.backBtn.hidden = !shown;
    this.backDot.hidden = unread === 0;
    const label = unread ? t("Your conversations ({n} unread)", { n: unread }) : t("Your conversations");
    this.backBtn.setAttribute("aria-label", label);
    this.backBtn.title = label;
  }

  /** Show the list (true) or the conversation (false); CSS hides the other one. */
  showList(on: boolean): void {
    this.root.classList.toggle("show-list", on);
  }

  get listShown(): boolean {
    return this.root.classList.contains("show-list");
  }

  /** What covers the conversation: "prechat", "offline", "thanks" or "" (nothing). */
  get overlayKind(): string {
    return this.overlay.dataset.kind ?? "";
  }

  /** Cover the conversation (and the composer) with a form, or uncover it (null). */
  setOverlay(kind: string, content: HTMLElement | null): void {
    this.overlay.dataset.kind = kind;
    this.overlay.hidden = !content;
    this.composer.root.hidden = !!content;
    this.root.classList.toggle("has-overlay", !!content);
    this.overlay.replaceChildren(...(content ? [content] : []));
  }

  /** Replace the overlay's form with a card of `kind` (the composer stays hidden). */
  swapOverlay(kind: string, content: HTMLElement): void {
    this.overlay.replaceChildren(content);
    this.overlay.dataset.kind = kind;
  }

  setGreeting(text: string, team: string): void {
    this.greeting.replaceChildren(avatar(team), h("div", { class: "stack" }, h("div", { class: "bubble", text })));
  }

  setBanner(text: string | null): void {
    this.banner.hidden = !text;
    this.banner.textContent = text ?? "";
  }

  setTyping(name: string | null): void {
    this.typingRow.hidden = !name;
    if (!name) {
      this.typingRow.replaceChildren();
      return;
    }
    const label = t("{name} is typing…", { name });
    this.typingRow.replaceChildren(
      avatar(name),
      h("div", { class: "bubble dots", "aria-label": label, title: label }, h("i"), h("i"), h("i")),
    );
    this.scrollToEnd();
  }

  scrollToEnd(): void {
    this.messages.scrollToEnd();
  }
}
