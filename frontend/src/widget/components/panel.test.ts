// @vitest-environment jsdom
/** The panel and its parts in a DOM: the header, the conversation list, the overlay, the rating, Tab kept inside. */
import { beforeEach, describe, expect, it, vi } from "vitest";
import { setLanguage } from "../../i18n";
import type { ListItem } from "../state";
import { keepTabInside } from "./focus_trap";
import { PanelView } from "./panel";
import { ratingForm } from "./rating";

const EVIL = `<img src=x onerror="alert(1)">`;

const item = (id: string, extra: Partial<ListItem> = {}): ListItem => ({
  id, who: "Ann", preview: "hello", time: "5 min ago", resolved: false, unread: false, current: false, ...extra,
});

describe("PanelView", () => {
  beforeEach(() => setLanguage("en", {}));

  it("shows the team and agents as text in the header", () => {
    const view = new PanelView("en", "");
    view.setHeader(EVIL, true, [{ name: EVIL }]);
    expect(view.title.textContent).toBe(EVIL);
    expect(view.status.textContent).toBe("We're online");
    expect(view.root.querySelectorAll("img")).toHaveLength(0);
    view.setHeader("Acme", false, []);
    expect(view.status.textContent).toBe("We're away right now");
    expect(view.avatars.querySelector(".avatar.team")?.textContent).toBe("AC");
  });

  it("lists conversations as labelled buttons, marks the current one, and picks on click", () => {
    const view = new PanelView("en", "");
    const pick = vi.fn();
    view.list.render([item("cv_1", { current: true }), item("cv_2", { who: EVIL, preview: EVIL, unread: true, resolved: true })], pick);
    const rows = view.list.list.querySelectorAll<HTMLButtonElement>("button.conv");
    expect(rows[0].getAttribute("aria-current")).toBe("true");
    expect(rows[0].getAttribute("aria-label")).toBe("Ann, Open, 5 min ago: hello");
    expect(rows[1].hasAttribute("aria-current")).toBe(false);
    expect(rows[1].querySelector(".conv-who")?.textContent).toBe(EVIL);
    expect(rows[1].querySelector(".conv-preview")?.textContent).toBe(EVIL);
    expect(rows[1].getAttribute("aria-label")).toBe(`${EVIL}, Resolved, 5 min ago: ${EVIL} (Unread)`);
    expect(view.list.list.querySelectorAll("img")).toHaveLength(0);
    rows[1].click();
    expect(pick).toHaveBeenCalledWith("cv_2");
  });

  it("keeps keyboard focus on the same row when the list is rebuilt", () => {
    // jsdom has no CSS.escape (browsers do); ids here are plain word characters.
    vi.stubGlobal("CSS", { escape: (s: string) => s.replace(/[^\w-]/g, (c) => `\\${c}`) });
    const view = new PanelView("en", "");
    document.body.replaceChildren(view.root);
    view.list.render([item("cv_1"), item("cv_2")], () => undefined);
    view.list.list.querySelector<HTMLElement>('[data-id="cv_2"]')!.focus();
    view.list.render([item("cv_3"), item("cv_1"), item("cv_2")], () => undefined);
    expect((document.activeElement as HTMLElement).dataset.id).toBe("cv_2");
    vi.unstubAllGlobals();
  });

  it("a form overlay hides the composer until it is taken away", () => {
    const view = new PanelView("en", "");
    const form = document.createElement("form");
    view.setOverlay("offline", form);
    expect([view.overlayKind, view.overlay.hidden, view.composer.root.hidden]).toEqual(["offline", false, true]);
    expect(view.root.classList.contains("has-overlay")).toBe(true);
    view.setOverlay("", null);
    expect([view.overlayKind, view.overlay.hidden, view.composer.root.hidden]).toEqual(["", true, false]);
    expect(view.overlay.childNodes).toHaveLength(0);
  });

  it("the back button says how many other conversations have unread replies", () => {
    const view = new PanelView("en", "");
    view.setBack(true, 2);
    expect([view.backBtn.hidden, view.backDot.hidden, view.backBtn.getAttribute("aria-label")]).toEqual([false, false, "Your conversations (2 unread)"]);
    view.setBack(true, 0);
    expect([view.backDot.hidden, view.backBtn.getAttribute("aria-label")]).toEqual([true, "Your conversations"]);
  });

  it("names who is typing as text", () => {
    const view = new PanelView("en", "");
    view.setTyping(EVIL);
    expect(view.typingRow.hidden).toBe(false);
    expect(view.typingRow.querySelector(".dots")?.getAttribute("aria-label")).toBe(`${EVIL} is typing…`);
    expect(view.typingRow.querySelectorAll("img")).toHaveLength(0);
    view.setTyping(null);
    expect([view.typingRow.hidden, view.typingRow.childNodes.length]).toEqual([true, 0]);
  });
});

describe("rating", () => {
  it("sends the chosen stars and comment, then thanks; a refusal is shown and the form stays", async () => {
    setLanguage("en", {});
    const send = vi.fn().mockRejectedValueOnce(new Error("Not allowed")).mockResolvedValueOnce(true);
    const slot = document.createElement("div");
    const form = ratingForm(send);
    slot.append(form);
    const submitBtn = form.querySelector<HTMLButtonElement>("button[type=submit]")!;
    expect(submitBtn.disabled).toBe(true);
    form.querySelectorAll<HTMLButtonElement>(".star")[3].click();
    expect([...form.querySelectorAll(".star")].map((s) => s.getAttribute("aria-checked"))).toEqual(["false", "false", "false", "true", "false"]);
    form.querySelector("textarea")!.value = " great ";
    form.dispatchEvent(new Event("submit", { cancelable: true }));
    await new Promise((r) => setTimeout(r, 0));
    expect(send).toHaveBeenLastCalledWith(4, "great");
    expect(form.querySelector("[role=alert]")?.textContent).toBe("Not allowed");
    expect(submitBtn.disabled).toBe(false);
    form.dispatchEvent(new Event("submit", { cancelable: true }));
    await new Promise((r) => setTimeout(r, 0));
    expect(slot.querySelector(".thanks")?.textContent).toBe("Thanks for your feedback!");
    expect(slot.querySelector("form")).toBeNull();
  });
});

describe("Tab inside the panel", () => {
  it("wraps from the last control to the first and back", () => {
    document.body.innerHTML = `<section><button id="a">a</button><button id="b">b</button></section>`;
    const root = document.querySelector("section")!;
    const [a, b] = [...root.querySelectorAll("button")];
    // jsdom has no layout: offsetParent is null for everything; count every control as shown.
    for (const el of [a, b]) Object.defineProperty(el, "offsetParent", { get: () => root });
    b.focus();
    const tab = new KeyboardEvent("keydown", { key: "Tab", cancelable: true });
    keepTabInside(root, tab);
    expect([tab.defaultPrevented, document.activeElement]).toEqual([true, a]);
    const back = new KeyboardEvent("keydown", { key: "Tab", shiftKey: true, cancelable: true });
    keepTabInside(root, back);
    expect(document.activeElement).toBe(b);
  });
});
