"""CAPTCHA for sign-up and, after repeated failures from one client, sign-in.

:mod:`~accounts.captcha.providers` holds the verifier interface (:class:`CaptchaVerifier`, whose ``verify``
returns a :class:`CaptchaResult`) and its adapters (Cloudflare Turnstile, hCaptcha, Google reCAPTCHA v2/v3,
and the ``always_pass``/``always_fail`` test adapters); :mod:`~accounts.captcha.gate` decides when one is
needed and checks it. Configuration: the ``CAPTCHA_*`` settings (see ``.env.example``).
"""

from .gate import (
    CAPTCHA_FIELD,
    captcha_check,
    captcha_client_config,
    captcha_enabled,
    captcha_verifier,
    signin_attempt,
    signin_captcha_check,
    signin_captcha_required,
    signin_failure_record,
    signin_failures,
    signin_failures_reset,
)
from .providers import CaptchaResult, CaptchaUnavailable, CaptchaVerifier

__all__ = [
    "CAPTCHA_FIELD",
    "CaptchaResult",
    "CaptchaUnavailable",
    "CaptchaVerifier",
    "captcha_check",
    "captcha_client_config",
    "captcha_enabled",
    "captcha_verifier",
    "signin_attempt",
    "signin_captcha_check",
    "signin_captcha_required",
    "signin_failure_record",
    "signin_failures",
    "signin_failures_reset",
]
