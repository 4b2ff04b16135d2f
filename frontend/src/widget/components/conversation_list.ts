/** The visitor's conversations as a labelled region of buttons, and "Start a new conversation" under them. */
import { h } from "../../shared/dom";
import { t } from "../../i18n";
import { icon, ICONS } from "../icons";
import type { ListItem } from "../state";
import { avatar } from "./avatar";

export class ConversationList {
  readonly heading = h("h2", { class: "list-title", id: "sb-list-title", tabindex: -1, text: t("Your conversations") });
  readonly list = h("ul", { class: "convs", "aria-labelledby": "sb-list-title" });
  readonly newBtn = h("button", { class: "primary new", type: "button" }, icon(ICONS.plus), t("Start a new conversation"));
  readonly root = h("section", { class: "convlist", "aria-labelledby": "sb-list-title" },
    this.heading, this.list, h("div", { class: "list-foot" }, this.newBtn));

  render(items: ListItem[], pick: (id: string) => void): void {
    // Rows are rebuilt when a message arrives: keep keyboard focus on the row it was on.
    const active = document.activeElement;
    const focusedId = active instanceof HTMLElement && this.list.contains(active) ? active.dataset.id : undefined;
    this.list.replaceChildren(
      ...items.map((it) => {
        const status = it.resolved ? t("Resolved") : t("Open");
        const btn = h(
          "button",
          {
            type: "button", class: `conv${it.unread ? " unread" : ""}`, "data-id": it.id,
            "aria-label": t("{who}, {status}, {time}: {preview}", { who: it.who, status, time: it.time, preview: it.preview }) + (it.unread ? ` (${t("Unread")})` : ""),
            "aria-current": it.current ? "true" : null,
          },
          avatar(it.who),
          h(
            "span",
            { class: "conv-main" },
            h("span", { class: "conv-top" }, h("span", { class: "conv-who", text: it.who }), h("span", { class: "conv-time", text: it.time })),
            h(
              "span",
              { class: "conv-bottom" },
              h("span", { class: "conv-preview", text: it.preview }),
              it.unread ? h("span", { class: "unread-dot", "aria-hidden": "true" }) : h("span", { class: `pill${it.resolved ? "" : " open"}`, text: status }),
            ),
          ),
          icon(ICONS.chevron, "chev"),
        );
        btn.addEventListener("click", () => pick(it.id));
        return h("li", {}, btn);
      }),
    );
    if (focusedId) this.list.querySelector<HTMLElement>(`[data-id="${CSS.escape(focusedId)}"]`)?.focus();
  }
}
