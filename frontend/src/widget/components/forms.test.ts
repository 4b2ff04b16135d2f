// @vitest-environment jsdom
/** The offline and pre-chat forms in a DOM: checks in order, errors tied to their fields, the server's refusal shown. */
import { describe, expect, it, vi } from "vitest";
import { setLanguage } from "../../i18n";
import { offlineForm, offlineThanks, prechatForm } from "./forms";

const fill = (form: HTMLElement, selector: string, value: string) => {
  const input = form.querySelector<HTMLInputElement | HTMLTextAreaElement>(selector)!;
  input.value = value;
  return input;
};
const submit = (form: HTMLFormElement) => form.dispatchEvent(new Event("submit", { cancelable: true }));
const errorOf = (input: Element) => document.getElementById(input.getAttribute("aria-describedby")!)!.textContent;
const flush = () => new Promise((r) => setTimeout(r, 0));

describe("offline form", () => {
  it("starts from the email we know and checks the email, then the message", async () => {
    setLanguage("en", {});
    const send = vi.fn(async () => undefined);
    const form = offlineForm("known@example.com", send);
    document.body.replaceChildren(form);
    const email = form.querySelector<HTMLInputElement>("#sb-off-email")!;
    expect(email.value).toBe("known@example.com");
    fill(form, "#sb-off-email", "not an email");
    submit(form);
    expect(errorOf(email)).toBe("Please enter a valid email address.");
    expect(email.getAttribute("aria-invalid")).toBe("true");
    expect(document.activeElement).toBe(email);
    fill(form, "#sb-off-email", "ada@example.com");
    const message = fill(form, "#sb-off-message", "  ");
    submit(form);
    expect(errorOf(email)).toBe("");
    expect(errorOf(message)).toBe("This field is required.");
    expect(send).not.toHaveBeenCalled();
    // Typing the fix clears the error without moving focus.
    message.value = "x";
    message.dispatchEvent(new Event("input"));
    expect(message.getAttribute("aria-invalid")).toBe("false");
    expect(errorOf(message)).toBe("");
  });

  it("sends the trimmed values with the button disabled meanwhile, and shows a refusal under the email", async () => {
    setLanguage("en", {});
    let release: () => void = () => undefined;
    const send = vi.fn((_values: { email: string; message: string }, fail: (m: string) => void) =>
      new Promise<void>((resolve) => {
        release = () => {
          fail("<b>refused</b>");
          resolve();
        };
      }));
    const form = offlineForm("", send);
    document.body.replaceChildren(form);
    const email = fill(form, "#sb-off-email", " ada@example.com ");
    fill(form, "#sb-off-message", " Where is my order? ");
    submit(form);
    const button = form.querySelector<HTMLButtonElement>("button[type=submit]")!;
    expect(send).toHaveBeenCalledWith({ email: "ada@example.com", message: "Where is my order?" }, expect.any(Function));
    expect(button.disabled).toBe(true);
    release();
    await flush();
    expect(button.disabled).toBe(false);
    expect(errorOf(email)).toBe("<b>refused</b>");
    expect(form.querySelector("b")).toBeNull();
  });

  it("thanks the visitor by their email, as text", () => {
    const card = offlineThanks("<i>ada</i>@example.com");
    expect(card.getAttribute("role")).toBe("status");
    expect(card.textContent).toContain("<i>ada</i>@example.com");
    expect(card.querySelector("i")).toBeNull();
  });
});

describe("pre-chat form", () => {
  it("asks for the name first, then a valid email", () => {
    setLanguage("en", {});
    const send = vi.fn(async () => undefined);
    const form = prechatForm(send);
    document.body.replaceChildren(form);
    submit(form);
    expect(errorOf(form.querySelector("#sb-pre-name")!)).toBe("This field is required.");
    expect(errorOf(form.querySelector("#sb-pre-email")!)).toBe("");
    fill(form, "#sb-pre-name", "Ada");
    submit(form);
    expect(errorOf(form.querySelector("#sb-pre-email")!)).toBe("Please enter a valid email address.");
    fill(form, "#sb-pre-email", "ada@example.com");
    submit(form);
    expect(send).toHaveBeenCalledWith({ name: "Ada", email: "ada@example.com" }, expect.any(Function));
  });
});
