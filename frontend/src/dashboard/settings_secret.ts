/** Settings → Widget: the identity-verification secret, hidden until an owner or admin asks for it.
 * It is never part of the page or of /workspace: "Show" fetches it from /workspace/identity-secret
 * (owners and admins only), "Hide" forgets it again. */
import { t } from "../i18n";
import { request } from "./api";
import { h } from "../shared/dom";
import { copyButton } from "./settings_form";
import { toast } from "./toast";

const T = {
  title: t("Identity verification secret"),
  help: t("Your server signs each signed-in visitor's user ID with it (HMAC-SHA256, in hex) and passes the hash to the widget. Keep it on your server: never put it in your pages."),
  show: t("Show secret"),
  hide: t("Hide"),
  copy: t("Copy"),
  copied: t("Secret copied."),
  copyFailed: t("Select the secret and copy it with Ctrl+C."),
  failed: t("Could not load the secret."),
};

/** What the hidden secret shows in its place. */
export const MASK = "•".repeat(24);

export function identitySecretCard(): HTMLElement {
  let secret = "";
  const value = h("code", { class: "snippet secret", id: "identity-secret", "data-secret": "hidden" }, MASK);
  const copy = copyButton(() => secret, T.copy, T.copied, T.copyFailed);
  copy.hidden = true;
  const toggle = h("button", { type: "button", class: "btn small", "aria-expanded": "false", "aria-controls": "identity-secret" }, T.show);
  const hide = () => {
    secret = "";
    value.textContent = MASK;
    value.dataset.secret = "hidden";
    copy.hidden = true;
    toggle.textContent = T.show;
    toggle.setAttribute("aria-expanded", "false");
  };
  toggle.addEventListener("click", () => {
    if (secret) return hide();
    toggle.disabled = true;
    request<{ identity_secret: string }>("GET", "/workspace/identity-secret")
      .then((data) => {
        secret = data.identity_secret;
        value.textContent = secret;
        value.dataset.secret = "shown";
        copy.hidden = false;
        toggle.textContent = T.hide;
        toggle.setAttribute("aria-expanded", "true");
      }, () => toast(T.failed, "error"))
      .finally(() => { toggle.disabled = false; });
  });
  return h("div", { class: "field snippet-field", "data-field": "identity_secret" },
    h("span", { class: "field-label" }, T.title),
    h("div", { class: "snippet-row" }, value, toggle, copy),
    h("p", { class: "field-help" }, T.help));
}
