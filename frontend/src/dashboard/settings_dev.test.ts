/** Settings → Webhooks: the test delivery's one-line outcome (never a raw errno) and the event choice. */
import { describe, expect, it } from "vitest";
import { deliveryText, eventSelection } from "./settings_dev";

describe("test delivery outcome", () => {
  it("says what the endpoint answered", () => {
    expect(deliveryText({ status: "succeeded", last_response_code: 200, last_duration_ms: 84, last_error: "" })).toBe("Delivered: HTTP 200 in 84 ms.");
    expect(deliveryText({ status: "failed", last_response_code: 500, last_duration_ms: 10, last_error: "HTTP 500 Internal Server Error" }))
      .toBe("Failed: HTTP 500 — HTTP 500 Internal Server Error");
    expect(deliveryText({ status: "failed", last_response_code: null, last_duration_ms: 3, last_error: "The host 'x.example' was not found; check the address for typos" }))
      .toBe("Failed: The host 'x.example' was not found; check the address for typos");
    expect(deliveryText({ status: "failed", last_response_code: null, last_duration_ms: 3, last_error: "" })).toBe("Failed: no answer");
  });
});

describe("event checkboxes", () => {
  it("sends all events as [\"*\"], else the ticked ones", () => {
    expect(eventSelection(true, ["message.created"])).toEqual(["*"]);
    expect(eventSelection(false, ["message.created", "conversation.created"])).toEqual(["message.created", "conversation.created"]);
  });
});
