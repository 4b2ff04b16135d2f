"""Signup, login/logout, password reset and invitations (/accounts/)."""
urlpatterns: list = []
