/** Building blocks of the settings forms: a labelled field with its error line, and the server's
 * field errors (`error.fields` of a 400) put next to the fields they name. */
import { ApiError } from "./api";
import { h } from "../shared/dom";
import { toast } from "./toast";

let uid = 0;

/** A label, a control, an optional hint and the line where this field's error appears. */
export function field(label: string, control: HTMLElement, opts: { name: string; help?: string } = { name: "" }): HTMLElement {
  const id = control.id || `f-${opts.name || "x"}-${++uid}`;
  control.id = id;
  const error = h("p", { class: "field-error", id: `${id}-error`, "data-error-for": opts.name, hidden: true });
  const help = opts.help ? h("p", { class: "field-help", id: `${id}-help` }, opts.help) : null;
  control.setAttribute("aria-describedby", [help ? `${id}-help` : "", `${id}-error`].filter(Boolean).join(" "));
  return h("div", { class: "field", "data-field": opts.name }, h("label", { for: id, class: "field-label" }, label), control, help, error);
}

export function clearErrors(form: HTMLElement): void {
  for (const el of form.querySelectorAll<HTMLElement>(".field-error")) {
    el.hidden = true;
    el.textContent = "";
  }
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
}

/** Shows what the server refused: each named field's message under it (focus on the first), the rest as a toast. */
export function showErrors(form: HTMLElement, err: unknown, fallback: string): void {
  clearErrors(form);
  if (!(err instanceof ApiError)) {
    toast(err instanceof Error ? err.message : fallback, "error");
    return;
  }
  let first: HTMLElement | null = null;
  let firstSlot: HTMLElement | null = null;
  const unplaced: string[] = [];
  for (const [name, messages] of Object.entries(err.fields)) {
    const slot = form.querySelector<HTMLElement>(`.field-error[data-error-for="${CSS.escape(name)}"]`);
    if (!slot) {
      unplaced.push(messages.join(" "));
      continue;
    }
    slot.textContent = messages.join(" ");
    slot.hidden = false;
    const control = slot.parentElement?.querySelector<HTMLElement>("input, textarea, select, [data-control]");
    control?.setAttribute("aria-invalid", "true");
    first = first || control || null;
    firstSlot = firstSlot || slot;
  }
  first?.focus({ preventScroll: true });
  firstSlot?.scrollIntoView({ block: "center" });
  if (unplaced.length || !Object.keys(err.fields).length) toast(unplaced.join(" ") || err.message || fallback, "error");
}

/** Runs `action` with `button` disabled (no double submits), reporting failure on `form`. */
export async function busy<T>(button: HTMLButtonElement, form: HTMLElement, fallback: string, action: () => Promise<T>): Promise<T | undefined> {
  button.disabled = true;
  try {
    const result = await action();
    clearErrors(form);
    return result;
  } catch (err) {
    showErrors(form, err, fallback);
    return undefined;
  } finally {
    button.disabled = false;
  }
}

/** A button that copies `text`, saying so. */
export function copyButton(text: () => string, label: string, done: string, failed: string): HTMLButtonElement {
  return h("button", {
    type: "button", class: "btn small",
    onclick: () => void navigator.clipboard.writeText(text()).then(() => toast(done), () => toast(failed, "error")),
  }, label);
}
