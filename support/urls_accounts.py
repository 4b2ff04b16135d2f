"""Signup, login/logout, password reset, invitations, team and workspace switching (/accounts/)."""
from django.urls import path

from support import views_accounts as views

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("signup/sent/", views.signup_sent, name="signup_sent"),
    path("signup/finish/<str:token>/", views.signup_finish, name="signup_finish"),
    path("login/", views.login, name="login"),
    path("language/", views.set_language, name="set_language"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("password/reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("password/reset/sent/", views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path("password/reset/<uidb64>/<token>/", views.PasswordResetConfirmView.as_view(),
         name="password_reset_confirm"),
    path("password/reset/done/", views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("invite/<str:token>/", views.accept_invite, name="accounts_accept_invite"),
    path("team/", views.team, name="accounts_team"),
    path("team/invitations/<str:public_id>/revoke/", views.revoke_invite, name="accounts_revoke_invite"),
    path("workspaces/", views.workspaces, name="accounts_workspaces"),
    path("switch/<str:public_id>/", views.switch_tenant, name="accounts_switch"),
]
