/** Settings → Business hours: the weekly editor's state to and from the API shape, its checks, and
 * "open now?" in the workspace's time zone (the same rule as support.services.visitors.is_open_now). */
import { describe, expect, it } from "vitest";
import { hoursFromWeek, localDayTime, openAt, weekFromHours, weekProblems } from "./settings_hours";

describe("weekly editor", () => {
  it("round-trips the API shape: open days with sorted ranges, closed days left out", () => {
    const week = weekFromHours({ mon: [["13:00", "17:00"], ["09:00", "12:00"]], sat: [["10:00", "14:00"]] });
    expect(week.tue).toEqual({ open: false, ranges: [["09:00", "17:00"]] });
    expect(hoursFromWeek(week)).toEqual({ mon: [["09:00", "12:00"], ["13:00", "17:00"]], sat: [["10:00", "14:00"]] });
    week.sat.open = false;
    expect(Object.keys(hoursFromWeek(week))).toEqual(["mon"]);
  });
  it("names a range that closes before it opens, overlapping ranges and missing times", () => {
    const week = weekFromHours({ mon: [["17:00", "09:00"]], tue: [["09:00", "13:00"], ["12:00", "18:00"]], wed: [["09:00", ""]] });
    const problems = weekProblems(week);
    expect(problems.mon).toBe("17:00–09:00 closes before it opens.");
    expect(problems.tue).toBe("09:00–13:00 and 12:00–18:00 overlap.");
    expect(problems.wed).toBeTruthy();
    expect(problems.thu).toBeUndefined();
  });
});

describe("open now", () => {
  // Tuesday 2026-12-01 08:30 UTC = 16:30 in Shanghai, 09:30 in Paris.
  const at = new Date("2026-12-01T08:30:00Z");
  it("reads the weekday and time in the time zone", () => {
    expect(localDayTime(at, "Asia/Shanghai")).toEqual({ day: "tue", time: "16:30" });
    expect(localDayTime(at, "Europe/Paris")).toEqual({ day: "tue", time: "09:30" });
  });
  it("is open inside a range (end excluded), closed outside, always open without hours", () => {
    const hours = { tue: [["09:00", "16:30"]] as [string, string][] };
    expect(openAt(hours, "Europe/Paris", at)).toBe(true);
    expect(openAt(hours, "Asia/Shanghai", at)).toBe(false);
    expect(openAt({ mon: [["00:00", "23:59"]] }, "UTC", at)).toBe(false);
    expect(openAt({}, "UTC", at)).toBe(true);
  });
});
