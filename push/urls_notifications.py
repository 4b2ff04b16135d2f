"""Web push subscriptions, notification preferences and the visitor's conversation page (/notifications/)."""
from django.urls import path

from push.notifications import views

app_name = "notifications"

urlpatterns = [
    path("subscriptions", views.subscriptions, name="subscriptions"),
    path("vapid-public-key", views.vapid_public_key, name="vapid-public-key"),
    path("preferences", views.preferences, name="preferences"),
    path("c/<str:token>/", views.conversation_page, name="conversation-page"),
]
