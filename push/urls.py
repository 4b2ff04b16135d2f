"""Long-poll transport and visitor HTTP routes (/rt/); docs/protocol.md describes each."""
from django.urls import path

from push import longpoll, widget_views
from push.mqtt import views as mqtt_views

app_name = "rt"

urlpatterns = [
    path("widget/bootstrap", widget_views.bootstrap, name="bootstrap"),
    path("visitor/send", longpoll.visitor_send, name="visitor-send"),
    path("visitor/poll", longpoll.visitor_poll, name="visitor-poll"),
    path("visitor/upload", widget_views.upload, name="visitor-upload"),
    path("visitor/attachments/<str:attachment_id>", widget_views.download, name="visitor-attachment"),
    path("agent/send", longpoll.agent_send, name="agent-send"),
    path("agent/poll", longpoll.agent_poll, name="agent-poll"),
    path("mqtt/visitor/credentials", mqtt_views.visitor_credentials, name="mqtt-visitor-credentials"),
    path("mqtt/agent/credentials", mqtt_views.agent_credentials, name="mqtt-agent-credentials"),
]
