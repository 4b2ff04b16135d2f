/** Settings → Workspace & widget: what the live preview shows for the form, in each language; origins per
 * line. (jsdom needs Node 22; the drawn preview is checked in Chromium, tests/browser/test_settings.py.) */
import { describe, expect, it } from "vitest";
import { originsFromText, previewModel, type WidgetForm } from "./settings_widget";

const form: WidgetForm = {
  name: "Acme", team_name: "", color: "#fde047", position: "left", greeting: "Hi! Ask us anything.",
  greetings: { "zh-Hans": "您好！" }, prechat_form: false, allowed_origins: [], identity_verification: "optional",
};

describe("widget preview", () => {
  it("uses the team name, else the workspace name, and the greeting of the language", () => {
    expect(previewModel(form, "en")).toMatchObject({ title: "Acme", greeting: "Hi! Ask us anything." });
    expect(previewModel({ ...form, team_name: "Acme crew" }, "zh-Hans")).toMatchObject({ title: "Acme crew", greeting: "您好！", online: "我们在线" });
    expect(previewModel({ ...form, greetings: { "zh-Hans": " " } }, "zh-Hans").greeting).toBe("Hi! Ask us anything.");
  });
  it("shows the default greeting's translation while the greeting is still the default", () => {
    const defaults = { en: "Hi! How can we help you today?", "zh-Hans": "您好！有什么可以帮您？" };
    const plain = { ...form, greeting: defaults.en, greetings: {} };
    expect(previewModel(plain, "zh-Hans", defaults).greeting).toBe("您好！有什么可以帮您？");
    expect(previewModel(plain, "en", defaults).greeting).toBe(defaults.en);
    expect(previewModel({ ...plain, greetings: { "zh-Hans": "欢迎" } }, "zh-Hans", defaults).greeting).toBe("欢迎");
  });
  it("reads dark text on a light brand colour and refuses colours that are not hex", () => {
    expect(previewModel(form, "en").ink).toBe("#0f172a");
    expect(previewModel({ ...form, color: "#111827" }, "en").ink).toBe("#ffffff");
    expect(previewModel({ ...form, color: "red;background:url(x)" }, "en").color).toBe("#4f46e5");
  });
});

describe("allowed sites", () => {
  it("takes one origin per line and drops blanks", () => {
    expect(originsFromText(" https://a.example \n\n http://localhost:3000\r\n")).toEqual(["https://a.example", "http://localhost:3000"]);
  });
});
