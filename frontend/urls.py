"""Dashboard, widget and demo host page."""
from django.urls import include, path

from frontend import views

urlpatterns = [
    path("app/", include("frontend.urls_dashboard")),
    path("widget.js", views.widget_loader, name="widget-loader"),
    path("widget/frame/", views.widget_frame, name="widget-frame"),
    path("widget/check", views.widget_check, name="widget-check"),
    path("widget/profile", views.visitor_profile, name="widget-profile"),
    path("widget/rate", views.visitor_rate, name="widget-rate"),
    path("demo/", views.demo_page, name="demo"),
]
