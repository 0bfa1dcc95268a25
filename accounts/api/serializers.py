"""Input validation and output shapes of the accounts API. No business rules here: services decide."""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from accounts.models import User
from accounts.phone import normalize_phone
from accounts.selectors import two_factor_status, user_roles
from accounts.services.two_factor import mask_phone


class PhoneField(serializers.CharField):
    """A phone number in any common form, returned in E.164 (``+919812345678``); garbage is a 400."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 32)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):  # the throttles key on the same string: a JSON number would dodge them
            self.fail("invalid")
        value = super().to_internal_value(data)
        try:
            return normalize_phone(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages[0], code="invalid_phone") from exc


class CodeField(serializers.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 32)
        kwargs.setdefault("trim_whitespace", True)
        super().__init__(**kwargs)


class CaptchaField(serializers.CharField):
    """The CAPTCHA widget's token (``GET auth/captcha`` says when one is needed and which provider)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("write_only", True)
        kwargs.setdefault("max_length", 8192)
        super().__init__(**kwargs)


# --- Users ----------------------------------------------------------------------------------------------


class UserSerializer(serializers.ModelSerializer):
    roles = serializers.SerializerMethodField()
    two_factor_enabled = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = (
            "id",
            "email",
            "phone",
            "phone_verified",
            "full_name",
            "date_joined",
            "is_staff",
            "roles",
            "two_factor_enabled",
        )
        read_only_fields = fields

    def get_roles(self, user: User) -> list[str]:
        return user_roles(user=user)

    def get_two_factor_enabled(self, user: User) -> bool:
        return two_factor_status(user=user).enabled


class MeUpdateSerializer(serializers.Serializer):
    full_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    email = serializers.EmailField(max_length=254, required=False)
    current_password = serializers.CharField(
        required=False, write_only=True, trim_whitespace=False, help_text="Needed to change the email."
    )


class RegisterSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(write_only=True, trim_whitespace=False, max_length=128)
    full_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    referral_code = serializers.CharField(
        max_length=12,
        required=False,
        allow_blank=True,
        default="",
        help_text="Optional: a friend's referral code (any text up to 12 characters; an unknown or refused code "
        "does not stop the sign-up, it only earns no referral points).",
    )
    captcha = CaptchaField(help_text="CAPTCHA token; required while a CAPTCHA provider is configured.")


# --- Tokens ---------------------------------------------------------------------------------------------


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class RegisteredSerializer(TokenPairSerializer):
    user = UserSerializer()


class TokenObtainSerializer(serializers.Serializer):
    email = serializers.CharField(max_length=254)
    password = serializers.CharField(write_only=True, trim_whitespace=False, max_length=128)
    otp = CodeField(
        required=False,
        allow_blank=True,
        help_text="Second factor for accounts with 2FA: authenticator code, SMS code or a backup code.",
    )
    captcha = CaptchaField(
        help_text="CAPTCHA token; required after repeated failed sign-ins from this client (see GET auth/captcha)."
    )


class RefreshSerializer(serializers.Serializer):
    refresh = serializers.CharField()


class OtpRequestSerializer(serializers.Serializer):
    phone = PhoneField()


class OtpLoginRequestSerializer(OtpRequestSerializer):
    captcha = CaptchaField(
        help_text="CAPTCHA token; required after repeated failed sign-ins from this client (see GET auth/captcha)."
    )


class OtpRequestedSerializer(serializers.Serializer):
    detail = serializers.CharField()


class OtpVerifySerializer(serializers.Serializer):
    phone = PhoneField()
    code = CodeField()
    otp = CodeField(
        required=False,
        allow_blank=True,
        help_text="Authenticator or backup code, for accounts with an authenticator app.",
    )


class PhoneLoginSerializer(TokenPairSerializer):
    created = serializers.BooleanField(help_text="True when this login created the account.")
    user = UserSerializer()


class CaptchaConfigSerializer(serializers.Serializer):
    provider = serializers.CharField(
        allow_null=True,
        help_text="The widget to show: turnstile, hcaptcha or recaptcha (always_pass/always_fail in development); "
        "null when CAPTCHA is off.",
    )
    site_key = serializers.CharField(allow_null=True, help_text="The widget's public site key.")
    required_for = serializers.ListField(
        child=serializers.CharField(), help_text='Actions that always need a CAPTCHA: "register" while it is on.'
    )
    signin_required = serializers.BooleanField(
        help_text="True when this client must send a CAPTCHA to auth/token and auth/otp/request now."
    )


# --- Phone and 2FA --------------------------------------------------------------------------------------


class PhoneVerifySerializer(serializers.Serializer):
    phone = PhoneField()
    code = CodeField()


class CodeSerializer(serializers.Serializer):
    code = CodeField()


class OtpSerializer(serializers.Serializer):
    otp = CodeField(required=False, allow_blank=True, help_text="A current second-factor or backup code.")


class TotpSetupSerializer(serializers.Serializer):
    secret = serializers.CharField(help_text="Base32 secret, for typing into the app by hand.")
    provisioning_uri = serializers.CharField(help_text="otpauth:// URI.")
    qr_code = serializers.CharField(help_text="The provisioning URI as a QR code, an SVG data URI.")


class BackupCodesSerializer(serializers.Serializer):
    backup_codes = serializers.ListField(child=serializers.CharField(), help_text="Each works once; shown only now.")


class TwoFactorStatusSerializer(serializers.Serializer):
    enabled = serializers.BooleanField()
    totp = serializers.BooleanField()
    sms = serializers.BooleanField()
    sms_phone = serializers.CharField(allow_null=True, help_text="Masked.")
    backup_codes_remaining = serializers.IntegerField()

    def to_representation(self, status):
        return {
            "enabled": status.enabled,
            "totp": status.totp,
            "sms": status.sms_phone is not None,
            "sms_phone": mask_phone(status.sms_phone) if status.sms_phone else None,
            "backup_codes_remaining": status.backup_codes_remaining,
        }


class SessionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
