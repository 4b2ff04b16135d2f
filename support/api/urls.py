"""REST API routes (/api/): the OpenAPI schema, its docs, and version 1 of the API.

Views are named by dotted path and imported on their first request (support/api/lazy_views.py):
a web node that serves only sockets never loads DRF's views, serializers or drf-spectacular.
The webhook endpoints' routes (/api/v1/webhooks…) are push's (push/webhooks/api_urls.py), mounted
beside these by config/urls.py.
"""
from django.urls import include, path

from support.api.lazy_views import api_path

v1 = [
    api_path("me", "support.api.views_tokens.MeView", name="api-me"),
    api_path("conversations", "support.api.views_conversations.ConversationListView", name="api-conversations"),
    api_path("conversations/counts", "support.api.views_counts.ConversationCountsView", name="api-conversation-counts"),
    api_path("conversations/<str:conversation_id>", "support.api.views_conversations.ConversationDetailView",
             name="api-conversation"),
    api_path("conversations/<str:conversation_id>/messages", "support.api.views_messages.MessageListView",
             name="api-messages"),
    api_path("attachments", "support.api.views_attachments.AttachmentUploadView", name="api-attachments"),
    api_path("attachments/<str:attachment_id>", "support.api.views_attachments.AttachmentDetailView",
             name="api-attachment"),
    api_path("attachments/<str:attachment_id>/download", "support.api.views_attachments.AttachmentDownloadView",
             name="api-attachment-download"),
    api_path("contacts", "support.api.views_contacts.ContactListView", name="api-contacts"),
    api_path("contacts/<str:contact_id>", "support.api.views_contacts.ContactDetailView", name="api-contact"),
    api_path("contacts/<str:contact_id>/conversations", "support.api.views_contacts.ContactConversationsView",
             name="api-contact-conversations"),
    api_path("agents", "support.api.views_directory.AgentListView", name="api-agents"),
    api_path("agents/<str:agent_id>", "support.api.views_directory.AgentDetailView", name="api-agent"),
    api_path("teams", "support.api.views_directory.TeamListView", name="api-teams"),
    api_path("teams/<str:team_id>", "support.api.views_directory.TeamDetailView", name="api-team"),
    api_path("labels", "support.api.views_directory.LabelListView", name="api-labels"),
    api_path("labels/<str:label_id>", "support.api.views_directory.LabelDetailView", name="api-label"),
    api_path("canned-responses", "support.api.views_directory.CannedListView", name="api-canned-responses"),
    api_path("canned-responses/<str:canned_id>", "support.api.views_directory.CannedDetailView",
             name="api-canned-response"),
    api_path("reports/summary", "support.api.views_reports.SummaryView", name="api-report-summary"),
    api_path("reports/conversations", "support.api.views_reports.ConversationReportView",
             name="api-report-conversations"),
    api_path("reports/agents", "support.api.views_reports.AgentReportView", name="api-report-agents"),
    api_path("install-check", "support.api.views_install.InstallCheckView", name="api-install-check"),
    api_path("allowed-origins", "support.api.views_install.AllowedOriginsView", name="api-allowed-origins"),
    api_path("members", "support.api.views_team.MemberListView", name="api-members"),
    api_path("members/<str:member_id>", "support.api.views_team.MemberDetailView", name="api-member"),
    api_path("invitations", "support.api.views_team.InvitationListView", name="api-invitations"),
    api_path("invitations/<str:invitation_id>", "support.api.views_team.InvitationDetailView", name="api-invitation"),
    api_path("invitations/<str:invitation_id>/resend", "support.api.views_team.InvitationResendView",
             name="api-invitation-resend"),
    api_path("workspace", "support.api.views_workspace.WorkspaceView", name="api-workspace"),
    api_path("workspace/identity-secret", "support.api.views_workspace.IdentitySecretView",
             name="api-workspace-identity-secret"),
    api_path("tokens", "support.api.views_tokens.TokenListView", name="api-tokens"),
    api_path("tokens/<str:token_id>", "support.api.views_tokens.TokenDetailView", name="api-token"),
    api_path(r"^.*$", "support.api.errors.not_found_view", regex=True),
]

urlpatterns = [
    api_path("schema/", "support.api.docs_views.SchemaView", name="api-schema"),
    api_path("docs/", "drf_spectacular.views.SpectacularSwaggerView", name="api-docs", url_name="api-schema"),
    api_path("redoc/", "support.api.docs_views.RedocView", name="api-redoc", url_name="api-schema"),
    path("v1/", include(v1)),
]
