/** The 1–5 star rating (with an optional comment) under a resolved conversation. */
import { h } from "../../shared/dom";
import { t } from "../../i18n";
import { icon, ICONS } from "../icons";

/**
 * `send` stores the rating (false: nothing was sent, e.g. no visitor token yet; it throws with a
 * message to show when the server refuses). On success the form becomes a thank-you card.
 */
export function ratingForm(send: (rating: number, comment: string) => Promise<boolean>): HTMLFormElement {
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
    if (!chosen) return;
    submit.disabled = true;
    let sent: boolean;
    try {
      sent = await send(chosen, comment.value.trim());
    } catch (e) {
      err.textContent = (e as Error).message;
      submit.disabled = false;
      return;
    }
    if (!sent) {
      submit.disabled = false;
      return;
    }
    form.replaceWith(h("div", { class: "card thanks", role: "status" }, h("p", { text: t("Thanks for your feedback!") })));
  });
  return form;
}
