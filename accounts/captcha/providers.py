"""CAPTCHA verifiers: one interface, an adapter per provider, and two test adapters.

Every real provider works the same way: the browser widget gives the client a one-time token, the client
sends it to us as ``captcha``, and we ask the provider's *siteverify* endpoint about it with an HTTP form POST
(``secret``, ``response``, ``remoteip``), reading ``success`` (and, for reCAPTCHA v3, ``score``) from the
JSON answer. Documented endpoints:

* Cloudflare Turnstile: ``https://challenges.cloudflare.com/turnstile/v0/siteverify``
* hCaptcha: ``https://api.hcaptcha.com/siteverify``
* Google reCAPTCHA v2 and v3: ``https://www.google.com/recaptcha/api/siteverify``

When the provider cannot give a usable answer (network error, timeout, an HTTP error status, a body that is
not the documented JSON, or an error code saying *our* secret is wrong) the verifier raises
:class:`CaptchaUnavailable` (503 ``service_unavailable``): the request is refused, never let through
(fail-closed), and the cause is logged without the secret or the token.
"""

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from typing import Any, ClassVar, NoReturn

import requests

from commerce.core.errors import DependencyUnavailable

logger = logging.getLogger("accounts.captcha")

DEFAULT_TIMEOUT_SECONDS = 3.0
# Error codes with which a provider says that our side is misconfigured or that it failed itself: the
# visitor's token was never judged, so this is the provider being unusable, not a failed CAPTCHA.
PROVIDER_SIDE_ERRORS = frozenset(
    {"missing-input-secret", "invalid-input-secret", "sitekey-secret-mismatch", "internal-error", "bad-request"}
)


class CaptchaUnavailable(DependencyUnavailable):
    """The CAPTCHA provider gave no usable answer (503)."""

    def __init__(self) -> None:
        super().__init__("The CAPTCHA service is not answering. Try again in a moment.", code="service_unavailable")


@dataclass(frozen=True)
class CaptchaResult:
    """What the provider said about one token. ``success`` is the only field a caller needs to act on."""

    success: bool
    error_codes: tuple[str, ...] = ()
    score: float | None = None
    hostname: str = ""
    action: str = ""


class CaptchaVerifier(ABC):
    """Checks a CAPTCHA token. Raises :class:`CaptchaUnavailable` when the provider cannot be asked."""

    provider: ClassVar[str]

    @abstractmethod
    def verify(self, *, token: str, remote_ip: str) -> CaptchaResult: ...


def http_session() -> requests.Session:
    """The HTTP session verifiers use unless given one (tests replace this to fake the transport)."""
    return requests.Session()


class SiteverifyVerifier(CaptchaVerifier):
    """The siteverify protocol the three providers share; subclasses name the URL and may judge the answer."""

    verify_url: ClassVar[str]

    def __init__(
        self, *, secret_key: str, timeout: float = DEFAULT_TIMEOUT_SECONDS, session: requests.Session | None = None
    ) -> None:
        self.secret_key = secret_key
        self.timeout = timeout
        self.session = session if session is not None else http_session()

    def verify(self, *, token: str, remote_ip: str) -> CaptchaResult:
        form = {"secret": self.secret_key, "response": token}
        if remote_ip and remote_ip != "unknown":
            form["remoteip"] = remote_ip
        payload = self._post(form)
        success = payload.get("success")
        if not isinstance(success, bool):
            self._unusable("answer without a boolean success")
        codes = payload.get("error-codes") or []
        error_codes = tuple(str(code) for code in codes) if isinstance(codes, list) else ()
        if not success and PROVIDER_SIDE_ERRORS.intersection(error_codes):
            self._unusable(f"provider-side error {', '.join(error_codes)}", level=logging.ERROR)
        return self.judge(
            payload,
            CaptchaResult(
                success=success,
                error_codes=error_codes,
                hostname=str(payload.get("hostname") or ""),
                action=str(payload.get("action") or ""),
            ),
        )

    def judge(self, payload: dict[str, Any], result: CaptchaResult) -> CaptchaResult:
        """The final word on a well-formed answer; providers with more to check (scores) override this."""
        return result

    def _post(self, form: dict[str, str]) -> dict[str, Any]:
        try:
            response = self.session.post(self.verify_url, data=form, timeout=self.timeout)
            response.raise_for_status()
            payload = response.json()
        except requests.RequestException as exc:  # timeouts, connection errors, HTTP errors and invalid JSON
            self._unusable(type(exc).__name__)
        if not isinstance(payload, dict):
            self._unusable("answer is not a JSON object")
        return payload

    def _unusable(self, reason: str, *, level: int = logging.WARNING) -> NoReturn:
        logger.log(level, "CAPTCHA verification with %s failed: %s", self.provider, reason)
        raise CaptchaUnavailable()


class TurnstileVerifier(SiteverifyVerifier):
    provider = "turnstile"
    verify_url = "https://challenges.cloudflare.com/turnstile/v0/siteverify"


class HCaptchaVerifier(SiteverifyVerifier):
    provider = "hcaptcha"
    verify_url = "https://api.hcaptcha.com/siteverify"


class RecaptchaVerifier(SiteverifyVerifier):
    """reCAPTCHA v2 answers only ``success``; v3 adds a ``score`` (0.0 bot … 1.0 human), which must reach
    ``min_score``. A success below it is a failure with the error code ``score-too-low``."""

    provider = "recaptcha"
    verify_url = "https://www.google.com/recaptcha/api/siteverify"

    def __init__(self, *, min_score: float = 0.5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.min_score = min_score

    def judge(self, payload: dict[str, Any], result: CaptchaResult) -> CaptchaResult:
        if "score" not in payload:  # v2
            return result
        score = payload["score"]
        if isinstance(score, bool) or not isinstance(score, int | float):
            self._unusable("score is not a number")
        score = float(score)
        if result.success and score < self.min_score:
            return replace(result, success=False, error_codes=(*result.error_codes, "score-too-low"), score=score)
        return replace(result, score=score)


class AlwaysPassVerifier(CaptchaVerifier):
    """Accepts any non-empty token without asking anyone: for tests and development. Refused in production."""

    provider = "always_pass"

    def verify(self, *, token: str, remote_ip: str) -> CaptchaResult:
        return CaptchaResult(success=True)


class AlwaysFailVerifier(CaptchaVerifier):
    """Refuses every token: for trying out how a client handles ``captcha_invalid``. Refused in production."""

    provider = "always_fail"

    def verify(self, *, token: str, remote_ip: str) -> CaptchaResult:
        return CaptchaResult(success=False, error_codes=("invalid-input-response",))


SITEVERIFY_PROVIDERS: dict[str, type[SiteverifyVerifier]] = {
    verifier.provider: verifier for verifier in (TurnstileVerifier, HCaptchaVerifier, RecaptchaVerifier)
}
TEST_PROVIDERS: dict[str, type[CaptchaVerifier]] = {
    verifier.provider: verifier for verifier in (AlwaysPassVerifier, AlwaysFailVerifier)
}
