/** Settings → Team: which roles the role menu offers (the server enforces the same rules). */
import { describe, expect, it } from "vitest";
import { assignableRoles } from "./settings_team";

describe("role menu", () => {
  it("lets owners make owners, admins only admins and agents", () => {
    expect(assignableRoles("owner")).toEqual(["owner", "admin", "agent"]);
    expect(assignableRoles("admin")).toEqual(["admin", "agent"]);
  });
});
