/** Shapes the widget's tests start from: a bootstrap answer and a visitor's conversation. */
import type { Bootstrap, VisitorConversation } from "../src/widget/api";

/** Bootstrap for tenant "Acme" with Ann Lee online and no conversations; `extra` overrides. */
export function bootstrapResponse(extra: Partial<Bootstrap> = {}): Bootstrap {
  return {
    visitor_token: "vt_1",
    contact: { id: "ct_1", name: "", email: "", verified: false },
    conversations: [],
    settings: { greeting: "Hi there", color: "#4f46e5", position: "right", team_name: "Acme", prechat_form: false },
    team_online: true,
    agents: [{ name: "Ann Lee" }],
    open_now: true,
    ...extra,
  };
}

/** An open conversation with nothing read yet; `extra` overrides. */
export function visitorConversation(id: string, extra: Partial<VisitorConversation> = {}): VisitorConversation {
  return { id, status: "open", last_seq: 0, contact_last_read_seq: 0, agent_last_read_seq: 0, assignee: null, ...extra };
}
