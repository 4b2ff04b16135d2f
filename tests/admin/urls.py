"""Only the routes the admin and account tests exercise, so other apps' URL modules cannot break them."""
from django.contrib import admin
from django.http import HttpResponse
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("support.urls_accounts")),
    path("app/", lambda request: HttpResponse("dashboard"), name="dashboard_stub"),
]
