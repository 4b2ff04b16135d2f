// @vitest-environment jsdom
import { describe, expect, it, vi } from "vitest";
import { append, clear, h, svg } from "./dom";

describe("h()", () => {
  it("puts text in as text, never as markup", () => {
    const evil = '<img src=x onerror="alert(1)"><script>alert(2)</script>';
    const el = h("p", { text: evil }, evil);
    expect(el.querySelector("img, script")).toBeNull();
    expect(el.childNodes).toHaveLength(2);
    expect(el.textContent).toBe(evil + evil);
  });

  it("sets class, attributes and boolean attributes; leaves out null, undefined and false", () => {
    const el = h("input", { class: "a b", type: "email", maxlength: 254, required: true, disabled: false, title: null, placeholder: undefined });
    expect(el.className).toBe("a b");
    expect(el.getAttribute("maxlength")).toBe("254");
    expect(el.required).toBe(true);
    expect(el.hasAttribute("disabled")).toBe(false);
    expect(el.hasAttribute("title")).toBe(false);
    expect(el.hasAttribute("placeholder")).toBe(false);
  });

  it("adds on<event> listeners and refuses a function under any other name", () => {
    const click = vi.fn();
    const el = h("button", { onClick: click });
    el.click();
    expect(click).toHaveBeenCalledTimes(1);
    expect(() => h("button", { click: () => undefined })).toThrow(/on<event>/);
  });

  it("appends nested children, numbers as text, and skips empty ones", () => {
    const el = h("ul", null, [h("li", null, 1), null, false], undefined, h("li", null, "two"));
    expect([...el.children].map((li) => li.textContent)).toEqual(["1", "two"]);
    append(el, ["tail"]);
    expect(el.lastChild?.nodeType).toBe(Node.TEXT_NODE);
    clear(el);
    expect(el.childNodes).toHaveLength(0);
  });
});

describe("svg()", () => {
  it("builds elements in the SVG namespace", () => {
    const el = svg("svg", { viewBox: "0 0 24 24" }, svg("path", { d: "M0 0" }), "<b>t</b>");
    expect(el.namespaceURI).toBe("http://www.w3.org/2000/svg");
    expect(el.firstElementChild?.namespaceURI).toBe("http://www.w3.org/2000/svg");
    expect(el.querySelector("b")).toBeNull();
  });
});
