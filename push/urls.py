"""Visitor HTTP routes under /rt/ (docs/protocol.md). The long-poll endpoints /rt/{visitor,agent}/{send,poll}
are not Django views: push/longpoll_app.py serves them in front of Django (config/asgi.py)."""
from django.urls import path

from push import widget_views
from push.mqtt import views as mqtt_views

app_name = "rt"

urlpatterns = [
    path("widget/bootstrap", widget_views.bootstrap, name="bootstrap"),
    path("visitor/upload", widget_views.upload, name="visitor-upload"),
    path("visitor/attachments/<str:attachment_id>", widget_views.download, name="visitor-attachment"),
    path("mqtt/visitor/credentials", mqtt_views.visitor_credentials, name="mqtt-visitor-credentials"),
    path("mqtt/agent/credentials", mqtt_views.agent_credentials, name="mqtt-agent-credentials"),
]
