/** The tab title names the page: "(3) Inbox · Switchboard", a conversation's subject, … */
import { describe, expect, it } from "vitest";
import { pageTitle } from "./alerts";

describe("page titles", () => {
  it("names the page after the unread count", () => {
    expect(pageTitle(3, "Inbox")).toBe("(3) Inbox · Switchboard");
    expect(pageTitle(0, "Order #42 is late")).toBe("Order #42 is late · Switchboard");
  });
  it("falls back to the product name", () => {
    expect(pageTitle(0, "")).toBe("Switchboard");
    expect(pageTitle(2, "")).toBe("(2) Switchboard");
  });
});
