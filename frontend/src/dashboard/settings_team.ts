/** Settings → Teammates: invite people by email, see and revoke pending invitations, change members' roles
 * and deactivate or reactivate them (/api/v1/members, /api/v1/invitations; the role rules are the server's). */
import { t } from "../i18n";
import { ApiError, request } from "./api";
import { clear, h } from "../shared/dom";
import { initials } from "./format";
import { busy, field, showErrors } from "./settings_form";
import { store } from "./store";
import { toast } from "./toast";

export interface Member {
  id: string;
  name: string;
  email: string;
  role: "owner" | "admin" | "agent";
  is_active: boolean;
  joined: string;
  is_you: boolean;
  can_manage: boolean;
}

export interface Invitation {
  id: string;
  email: string;
  role: "admin" | "agent";
  invited_by: string | null;
  created: string;
  expires: string;
  expired: boolean;
  can_revoke: boolean;
}

const T = {
  title: t("Teammates"),
  intro: t("Who answers your visitors. Admins also manage the settings; the owner manages billing."),
  invite: t("Invite a teammate"),
  email: t("Email address"),
  role: t("Role"),
  send: t("Send invitation"),
  inviteFailed: t("Could not send the invitation."),
  pending: t("Pending invitations"),
  nonePending: t("No pending invitations."),
  revoke: t("Revoke"),
  resend: t("Resend"),
  resendLimited: t("This invitation was sent several times in the last hour. Try again later."),
  expired: t("Expired"),
  members: t("Members"),
  you: t("(you)"),
  deactivated: t("Deactivated"),
  deactivate: t("Deactivate"),
  reactivate: t("Reactivate"),
  changeFailed: t("Could not change this member."),
  roles: { owner: t("Owner"), admin: t("Admin"), agent: t("Agent") } as Record<string, string>,
};

/** The roles the signed-in member may give: owners any, admins admin or agent. */
export function assignableRoles(myRole: string | undefined): Member["role"][] {
  return myRole === "owner" ? ["owner", "admin", "agent"] : ["admin", "agent"];
}

export class TeamSettings {
  el: HTMLElement;
  private members: HTMLElement;
  private pending: HTMLElement;

  constructor() {
    this.el = h("section", { class: "settings-section", "aria-labelledby": "settings-team-title" });
    this.members = h("ul", { class: "settings-list", "aria-label": T.members, "data-list": "members" });
    this.pending = h("ul", { class: "settings-list", "aria-label": T.pending, "data-list": "invitations" });
  }

  async load(): Promise<void> {
    clear(this.el);
    const email = h("input", { class: "input wide", type: "email", name: "email", required: true, maxlength: 254, autocomplete: "off" });
    const role = h("select", { class: "select", name: "role" },
      h("option", { value: "agent" }, T.roles.agent), h("option", { value: "admin" }, T.roles.admin));
    const send = h("button", { type: "submit", class: "btn primary" }, T.send);
    const form = h("form", { class: "settings-card inline-form invite-form", novalidate: true },
      h("div", { class: "grow" }, field(T.email, email, { name: "email" })),
      field(T.role, role, { name: "role" }),
      h("div", { class: "field" }, h("span", { class: "field-label", "aria-hidden": "true" }, "\u00a0"), send));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      void busy(send, form, T.inviteFailed, () => request<Invitation>("POST", "/invitations", { email: email.value, role: role.value }))
        .then((inv) => {
          if (!inv) return;
          toast(t("Invitation sent to {email}.", { email: inv.email }));
          email.value = "";
          void this.refresh();
        });
    });
    this.el.append(
      h("header", { class: "settings-head" }, h("h2", { id: "settings-team-title" }, T.title), h("p", { class: "muted" }, T.intro)),
      h("h3", { class: "list-title" }, T.invite), form,
      h("h3", { class: "list-title" }, T.pending), this.pending,
      h("h3", { class: "list-title" }, T.members), this.members);
    await this.refresh();
  }

  private async refresh(): Promise<void> {
    const [members, invitations] = await Promise.all([
      request<Member[]>("GET", "/members"), request<Invitation[]>("GET", "/invitations")]);
    this.drawInvitations(invitations);
    this.drawMembers(members);
  }

  private drawInvitations(list: Invitation[]): void {
    clear(this.pending);
    if (!list.length) this.pending.append(h("li", { class: "empty" }, T.nonePending));
    for (const inv of list) {
      const revoke = h("button", { type: "button", class: "btn small danger", "aria-label": `${T.revoke} ${inv.email}` }, T.revoke);
      revoke.addEventListener("click", () => void busy(revoke, this.pending, T.changeFailed, () => request("DELETE", `/invitations/${encodeURIComponent(inv.id)}`))
        .then(() => {
          toast(t("Invitation to {email} revoked.", { email: inv.email }));
          void this.refresh();
        }));
      this.pending.append(h("li", { "data-invitation": inv.email },
        h("div", { class: "grow" }, h("div", { class: "row-title" }, inv.email),
          h("div", { class: "row-sub" }, `${T.roles[inv.role]} · `,
            inv.expired ? T.expired : t("Link valid until {date}", { date: new Date(inv.expires).toLocaleDateString() }))),
        inv.can_revoke ? this.resendButton(inv) : null,
        inv.can_revoke ? revoke : null));
    }
  }

  /** Emails the invitation again with a new link (the server limits how often). */
  private resendButton(inv: Invitation): HTMLButtonElement {
    const resend = h("button", { type: "button", class: "btn small", "aria-label": `${T.resend} ${inv.email}` }, T.resend);
    resend.addEventListener("click", () => {
      resend.disabled = true;
      request<Invitation>("POST", `/invitations/${encodeURIComponent(inv.id)}/resend`)
        .then(() => {
          toast(t("Invitation sent again to {email}. The earlier link no longer works.", { email: inv.email }));
          void this.refresh();
        }, (err: unknown) => {
          toast(err instanceof ApiError && err.status === 429 ? T.resendLimited : err instanceof Error ? err.message : T.changeFailed, "error");
        })
        .finally(() => { resend.disabled = false; });
    });
    return resend;
  }

  private drawMembers(list: Member[]): void {
    clear(this.members);
    for (const m of list) {
      const row = h("li", { "data-member": m.email, class: m.is_active ? "" : "inactive" },
        h("span", { class: "avatar sm", "aria-hidden": "true" }, initials(m.name)),
        h("div", { class: "grow" },
          h("div", { class: "row-title" }, m.name, m.is_you ? ` ${T.you}` : ""),
          h("div", { class: "row-sub" }, m.email, m.is_active ? "" : ` · ${T.deactivated}`)));
      if (m.can_manage && m.is_active) {
        const roles = assignableRoles(store.me?.role);
        const select = h("select", { class: "select", name: `role-${m.id}`, "aria-label": t("Role of {name}", { name: m.name }) },
          ...[...new Set([m.role, ...roles])].map((r) => h("option", { value: r, selected: r === m.role }, T.roles[r])));
        select.addEventListener("change", () => void this.change(m, { role: select.value }, row));
        row.append(select);
      } else {
        row.append(h("span", { class: "chip muted" }, T.roles[m.role]));
      }
      if (m.can_manage) {
        const toggle = h("button", { type: "button", class: `btn small${m.is_active ? " danger" : ""}` }, m.is_active ? T.deactivate : T.reactivate);
        toggle.addEventListener("click", () => void this.change(m, { is_active: !m.is_active }, row));
        row.append(toggle);
      }
      this.members.append(row);
    }
  }

  private async change(m: Member, changes: { role?: string; is_active?: boolean }, row: HTMLElement): Promise<void> {
    try {
      const changed = await request<Member>("PATCH", `/members/${encodeURIComponent(m.id)}`, changes);
      if (changes.role) toast(t("{name} is now {role}.", { name: changed.name, role: T.roles[changed.role] }));
      else toast(changed.is_active ? t("{name} is active again.", { name: changed.name }) : t("{name} can no longer sign in to this workspace.", { name: changed.name }));
    } catch (err) {
      showErrors(row, err, T.changeFailed);
    }
    await this.refresh();
  }
}
