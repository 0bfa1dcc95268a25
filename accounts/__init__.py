"""Users, roles and permissions, OTP and 2FA, tokens and the staff audit log."""
