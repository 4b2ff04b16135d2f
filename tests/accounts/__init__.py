"""Account page tests: signup, login throttling, password reset, invitations, switching."""
