// @vitest-environment jsdom
/** The composer in a DOM: Enter sends, Shift+Enter does not, the send button follows the text and the file chip. */
import { beforeEach, describe, expect, it, vi } from "vitest";
import { setLanguage } from "../../i18n";
import { Composer, type ComposerHandlers } from "./composer";

function setup(): { composer: Composer; handlers: ComposerHandlers & { picked: File[] } } {
  setLanguage("en", {});
  const composer = new Composer("image/png,.pdf");
  document.body.replaceChildren(composer.root);
  const picked: File[] = [];
  const handlers = {
    picked,
    typed: vi.fn(),
    submit: vi.fn(async () => undefined),
    pick: vi.fn((file: File) => {
      picked.push(file);
      composer.setFile(file, false);
    }),
  };
  composer.wire(handlers, document.body);
  return { composer, handlers };
}

const type = (composer: Composer, text: string) => {
  composer.textarea.value = text;
  composer.textarea.dispatchEvent(new Event("input", { bubbles: true }));
};
const key = (composer: Composer, init: KeyboardEventInit) => {
  const ev = new KeyboardEvent("keydown", { bubbles: true, cancelable: true, ...init });
  composer.textarea.dispatchEvent(ev);
  return ev;
};

describe("Composer", () => {
  beforeEach(() => document.body.replaceChildren());

  it("enables Send when there is text, and reports typing", () => {
    const { composer, handlers } = setup();
    expect(composer.sendBtn.disabled).toBe(true);
    type(composer, "   ");
    expect(composer.sendBtn.disabled).toBe(true);
    type(composer, "hello");
    expect(composer.sendBtn.disabled).toBe(false);
    expect(handlers.typed).toHaveBeenCalledTimes(2);
  });

  it("Enter submits; Shift+Enter and Enter while composing (IME) do not", () => {
    const { composer, handlers } = setup();
    type(composer, "hello");
    expect(key(composer, { key: "Enter", shiftKey: true }).defaultPrevented).toBe(false);
    key(composer, { key: "Enter", isComposing: true });
    expect(handlers.submit).not.toHaveBeenCalled();
    expect(key(composer, { key: "Enter" }).defaultPrevented).toBe(true);
    expect(handlers.submit).toHaveBeenCalledTimes(1);
  });

  it("shows a picked file's name as text, enables Send, and Remove takes it away", () => {
    const { composer, handlers } = setup();
    const file = new File(["%PDF"], `<img src=x onerror=alert(1)>.pdf`, { type: "application/pdf" });
    const drop = new Event("drop", { bubbles: true, cancelable: true }) as Event & { dataTransfer: unknown };
    drop.dataTransfer = { files: [file] };
    document.body.dispatchEvent(drop);
    expect(handlers.picked).toEqual([file]);
    expect(composer.chip.hidden).toBe(false);
    expect(composer.chip.querySelector(".fname")?.textContent).toBe(file.name);
    expect(composer.chip.querySelector("img")).toBeNull();
    expect(composer.sendBtn.disabled).toBe(false);
    composer.chip.querySelector<HTMLButtonElement>("button[aria-label='Remove attachment']")!.click();
    expect(composer.file).toBeNull();
    expect(composer.chip.hidden).toBe(true);
    expect(composer.sendBtn.disabled).toBe(true);
    expect(document.activeElement).toBe(composer.textarea);
  });

  it("shows notices as text and gives way to the resolved bar", () => {
    const { composer } = setup();
    composer.showNotice("“<b>x</b>” is too large");
    expect(composer.notice.hidden).toBe(false);
    expect(composer.notice.textContent).toBe("“<b>x</b>” is too large");
    expect(composer.notice.querySelector("b")).toBeNull();
    composer.showNotice(null);
    expect(composer.notice.hidden).toBe(true);
    composer.setResolved(true);
    expect([composer.form.hidden, composer.resolvedBar.hidden]).toEqual([true, false]);
    composer.setResolved(false);
    expect([composer.form.hidden, composer.resolvedBar.hidden]).toEqual([false, true]);
  });
});
