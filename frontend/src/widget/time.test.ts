import { describe, expect, it } from "vitest";
import { messageTime } from "./history";

// Local times: "today" is the reader's day, whatever the machine's time zone.
const NOW = new Date(2026, 10, 27, 12, 0);
const at = (...parts: [number, number, number, number, number]) => new Date(...parts).toISOString();

describe("message times", () => {
  it("shows the time today, in the widget's language", () => {
    expect(messageTime(at(2026, 10, 27, 9, 5), "en-GB", NOW)?.text).toBe("09:05");
    expect(messageTime(at(2026, 10, 27, 14, 30), "en-US", NOW)?.text).toBe("02:30 PM");
    expect(messageTime(at(2026, 10, 27, 14, 30), "zh-Hans", NOW)?.text).toBe("14:30");
  });

  it("adds the date on other days, and the year in other years", () => {
    expect(messageTime(at(2026, 10, 26, 9, 5), "en-GB", NOW)?.text).toBe("26 Nov, 09:05");
    expect(messageTime(at(2026, 10, 26, 9, 5), "zh-Hans", NOW)?.text).toBe("11月26日 09:05");
    expect(messageTime(at(2025, 11, 31, 23, 0), "en-GB", NOW)?.text).toBe("31 Dec 2025, 23:00");
  });

  it("gives the full date and time for the tooltip, and nothing for a bad stamp", () => {
    // The punctuation of a full date differs between ICU versions: check its parts.
    const full = messageTime(at(2026, 10, 27, 9, 5), "en-GB", NOW)?.full || "";
    for (const part of ["Friday", "27 November 2026", "09:05"]) expect(full).toContain(part);
    expect(messageTime("not a date", "en", NOW)).toBeNull();
  });
});
