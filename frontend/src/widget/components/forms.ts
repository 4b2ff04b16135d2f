/**
 * The forms that cover the conversation: pre-chat (name, email) and offline (email, message), with
 * their checks and error messages tied to the fields; and the thank-you card after the offline one.
 */
import { h } from "../../shared/dom";
import { t } from "../../i18n";
import { icon, ICONS } from "../icons";

const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

type Input = HTMLInputElement | HTMLTextAreaElement;

/** Called with the checked values; `fail` shows the server's refusal under the email field. */
export type FormSubmit<V> = (values: V, fail: (message: string) => void) => Promise<void>;

function field(label: string, input: Input, id: string): HTMLElement {
  input.id = id;
  const err = h("span", { class: "field-error", id: `${id}-err`, "aria-live": "polite" });
  input.setAttribute("aria-describedby", err.id);
  input.addEventListener("input", () => {
    if (input.getAttribute("aria-invalid") === "true") clearInvalid(input);
  });
  return h("div", { class: "field" }, h("label", { for: id, text: label }), input, err);
}

/** Show `message` under the field (focusing it); "" clears it. True when there is an error. */
function invalid(input: Input, message: string): boolean {
  const err = input.ownerDocument.getElementById(`${input.id}-err`);
  if (err) err.textContent = message;
  input.setAttribute("aria-invalid", message ? "true" : "false");
  if (message) input.focus();
  return !!message;
}

/** Clear an error without moving focus (the visitor is typing the fix). */
function clearInvalid(input: Input): void {
  const err = input.ownerDocument.getElementById(`${input.id}-err`);
  if (err) err.textContent = "";
  input.setAttribute("aria-invalid", "false");
}

const required = (input: Input) => (input.value.trim() ? "" : t("This field is required."));
const email = (input: Input) => (EMAIL_RE.test(input.value.trim()) ? "" : t("Please enter a valid email address."));

interface Field {
  label: string;
  input: Input;
  id: string;
  /** The error message for the field's value, or "" when it is fine. */
  check: (input: Input) => string;
}

/**
 * A card with a heading, a line of explanation, the fields and the submit button. Submitting
 * checks the fields in order (the first error wins), then calls `submit` with the button disabled.
 */
function cardForm<V>(heading: string, intro: string, fields: Field[], submitLabel: string,
  values: () => V, failOn: Input, submit: FormSubmit<V>): HTMLFormElement {
  const button = h("button", { class: "primary", type: "submit", text: submitLabel });
  const form = h("form", { class: "card", novalidate: true }, h("h2", { text: heading }), h("p", { class: "muted", text: intro }),
    ...fields.map((f) => field(f.label, f.input, f.id)), button);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    for (const f of fields) invalid(f.input, "");
    for (const f of fields) if (invalid(f.input, f.check(f.input))) return;
    button.disabled = true;
    await submit(values(), (message) => invalid(failOn, message));
    button.disabled = false;
  });
  return form;
}

export function prechatForm(submit: FormSubmit<{ name: string; email: string }>): HTMLFormElement {
  const name = h("input", { type: "text", autocomplete: "name", maxlength: 120, required: true });
  const address = h("input", { type: "email", autocomplete: "email", maxlength: 254, required: true });
  return cardForm(t("Before we start"), t("Tell us who you are so we can follow up if you leave."), [
    { label: t("Name"), input: name, id: "sb-pre-name", check: required },
    { label: t("Email"), input: address, id: "sb-pre-email", check: email },
  ], t("Start chat"), () => ({ name: name.value.trim(), email: address.value.trim() }), address, submit);
}

export function offlineForm(knownEmail: string, submit: FormSubmit<{ email: string; message: string }>): HTMLFormElement {
  const address = h("input", { type: "email", autocomplete: "email", maxlength: 254, required: true, value: knownEmail });
  const message = h("textarea", { rows: 4, maxlength: 10000, required: true });
  return cardForm(t("Leave us a message"), t("Nobody is available right now. Leave your email and message and we'll get back to you."), [
    { label: t("Email"), input: address, id: "sb-off-email", check: email },
    { label: t("Message"), input: message, id: "sb-off-message", check: required },
  ], t("Send message"), () => ({ email: address.value.trim(), message: message.value.trim() }), address, submit);
}

export function offlineThanks(email: string): HTMLElement {
  return h("div", { class: "card thanks", role: "status" }, icon(ICONS.checks, "big"),
    h("p", { text: t("Thanks! We got your message and will reply to {email}.", { email }) }));
}
