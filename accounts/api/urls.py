from django.urls import path

from . import views

urlpatterns = [
    path("auth/register", views.RegisterView.as_view(), name="auth-register"),
    path("auth/token", views.TokenObtainView.as_view(), name="auth-token"),
    path("auth/token/refresh", views.TokenRefreshView.as_view(), name="auth-token-refresh"),
    path("auth/logout", views.LogoutView.as_view(), name="auth-logout"),
    path("auth/otp/request", views.OtpRequestView.as_view(), name="auth-otp-request"),
    path("auth/otp/verify", views.OtpVerifyView.as_view(), name="auth-otp-verify"),
    path("auth/captcha", views.CaptchaConfigView.as_view(), name="auth-captcha"),
    path("me", views.MeView.as_view(), name="me"),
    path("me/phone", views.MePhoneView.as_view(), name="me-phone"),
    path("me/phone/verify", views.MePhoneVerifyView.as_view(), name="me-phone-verify"),
    path("me/sessions", views.SessionListView.as_view(), name="me-sessions"),
    path("me/sessions/<int:session_id>", views.SessionDetailView.as_view(), name="me-session"),
    path("me/2fa", views.TwoFactorStatusView.as_view(), name="me-2fa"),
    path("me/2fa/totp", views.TotpView.as_view(), name="me-2fa-totp"),
    path("me/2fa/totp/confirm", views.TotpConfirmView.as_view(), name="me-2fa-totp-confirm"),
    path("me/2fa/sms", views.SmsFactorView.as_view(), name="me-2fa-sms"),
    path("me/2fa/sms/challenge", views.SmsChallengeView.as_view(), name="me-2fa-sms-challenge"),
    path("me/2fa/backup-codes", views.BackupCodesView.as_view(), name="me-2fa-backup-codes"),
]
