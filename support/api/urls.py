"""REST API routes (/api/): the OpenAPI schema, its docs, and version 1 of the API."""
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from support.api import (
    docs_views,
    schema,  # noqa: F401  (registers the token security scheme)
    views_attachments,
    views_contacts,
    views_conversations,
    views_counts,
    views_directory,
    views_install,
    views_messages,
    views_reports,
    views_team,
    views_tokens,
    views_webhooks,
    views_workspace,
)
from support.api.errors import not_found_view

v1 = [
    path("me", views_tokens.MeView.as_view(), name="api-me"),
    path("conversations", views_conversations.ConversationListView.as_view(), name="api-conversations"),
    path("conversations/counts", views_counts.ConversationCountsView.as_view(), name="api-conversation-counts"),
    path("conversations/<str:conversation_id>", views_conversations.ConversationDetailView.as_view(),
         name="api-conversation"),
    path("conversations/<str:conversation_id>/messages", views_messages.MessageListView.as_view(),
         name="api-messages"),
    path("attachments", views_attachments.AttachmentUploadView.as_view(), name="api-attachments"),
    path("attachments/<str:attachment_id>", views_attachments.AttachmentDetailView.as_view(), name="api-attachment"),
    path("attachments/<str:attachment_id>/download", views_attachments.AttachmentDownloadView.as_view(),
         name="api-attachment-download"),
    path("contacts", views_contacts.ContactListView.as_view(), name="api-contacts"),
    path("contacts/<str:contact_id>", views_contacts.ContactDetailView.as_view(), name="api-contact"),
    path("contacts/<str:contact_id>/conversations", views_contacts.ContactConversationsView.as_view(),
         name="api-contact-conversations"),
    path("agents", views_directory.AgentListView.as_view(), name="api-agents"),
    path("agents/<str:agent_id>", views_directory.AgentDetailView.as_view(), name="api-agent"),
    path("teams", views_directory.TeamListView.as_view(), name="api-teams"),
    path("teams/<str:team_id>", views_directory.TeamDetailView.as_view(), name="api-team"),
    path("labels", views_directory.LabelListView.as_view(), name="api-labels"),
    path("labels/<str:label_id>", views_directory.LabelDetailView.as_view(), name="api-label"),
    path("canned-responses", views_directory.CannedListView.as_view(), name="api-canned-responses"),
    path("canned-responses/<str:canned_id>", views_directory.CannedDetailView.as_view(), name="api-canned-response"),
    path("webhooks", views_webhooks.EndpointListView.as_view(), name="api-webhooks"),
    path("webhooks/<str:endpoint_id>", views_webhooks.EndpointDetailView.as_view(), name="api-webhook"),
    path("webhooks/<str:endpoint_id>/ping", views_webhooks.EndpointPingView.as_view(), name="api-webhook-ping"),
    path("webhooks/<str:endpoint_id>/deliveries", views_webhooks.DeliveryListView.as_view(),
         name="api-webhook-deliveries"),
    path("webhooks/<str:endpoint_id>/deliveries/<str:delivery_id>/redeliver",
         views_webhooks.RedeliverView.as_view(), name="api-webhook-redeliver"),
    path("reports/summary", views_reports.SummaryView.as_view(), name="api-report-summary"),
    path("reports/conversations", views_reports.ConversationReportView.as_view(), name="api-report-conversations"),
    path("reports/agents", views_reports.AgentReportView.as_view(), name="api-report-agents"),
    path("install-check", views_install.InstallCheckView.as_view(), name="api-install-check"),
    path("allowed-origins", views_install.AllowedOriginsView.as_view(), name="api-allowed-origins"),
    path("members", views_team.MemberListView.as_view(), name="api-members"),
    path("members/<str:member_id>", views_team.MemberDetailView.as_view(), name="api-member"),
    path("invitations", views_team.InvitationListView.as_view(), name="api-invitations"),
    path("invitations/<str:invitation_id>", views_team.InvitationDetailView.as_view(), name="api-invitation"),
    path("workspace", views_workspace.WorkspaceView.as_view(), name="api-workspace"),
    path("tokens", views_tokens.TokenListView.as_view(), name="api-tokens"),
    path("tokens/<str:token_id>", views_tokens.TokenDetailView.as_view(), name="api-token"),
    re_path(r"^.*$", not_found_view),
]

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", docs_views.RedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("v1/", include(v1)),
]
