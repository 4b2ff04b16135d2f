"""The webhook endpoints' REST API routes (/api/v1/webhooks…), mounted by config/urls.py under
/api/v1/ ahead of the rest of the API (support/api/urls.py, whose last route answers every other
path with the API's 404). Views are named by dotted path and imported on their first request
(support/api/lazy_views.py), like every API view.
"""
from support.api.lazy_views import api_path

urlpatterns = [
    api_path("webhooks", "push.webhooks.api.EndpointListView", name="api-webhooks"),
    api_path("webhooks/<str:endpoint_id>", "push.webhooks.api.EndpointDetailView", name="api-webhook"),
    api_path("webhooks/<str:endpoint_id>/ping", "push.webhooks.api.EndpointPingView", name="api-webhook-ping"),
    api_path("webhooks/<str:endpoint_id>/deliveries", "push.webhooks.api.DeliveryListView",
             name="api-webhook-deliveries"),
    api_path("webhooks/<str:endpoint_id>/deliveries/<str:delivery_id>/redeliver",
             "push.webhooks.api.RedeliverView",
             name="api-webhook-redeliver"),
]
