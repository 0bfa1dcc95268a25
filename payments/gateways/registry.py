"""Which payment gateways are on, and the adapter for each.

A provider is **enabled** when its settings are present: Stripe with ``STRIPE_SECRET_KEY`` and
``STRIPE_WEBHOOK_SECRET``; Razorpay with ``RAZORPAY_KEY_ID``, ``RAZORPAY_KEY_SECRET`` and
``RAZORPAY_WEBHOOK_SECRET``; the demo gateway with ``PAYMENTS_DEMO_ENABLED`` (on in the embedded default, refused by
production settings). Adapters are imported only when asked for, so an adapter module that is missing or broken
disables its provider instead of breaking the others (it is logged).

:func:`gateway_for` builds a fresh adapter on every call: adapters read the settings in their constructor, so a
changed setting (or a test's ``override_settings``) takes effect at once.
"""

import importlib
import logging

from django.conf import settings

from commerce.core.errors import InvalidInput

from ..models import Provider
from .base import Gateway

logger = logging.getLogger(__name__)

#: ``provider -> (module, class)``, in the order :func:`enabled_providers` lists them.
ADAPTERS: dict[str, tuple[str, str]] = {
    Provider.STRIPE: ("payments.gateways.stripe", "StripeGateway"),
    Provider.RAZORPAY: ("payments.gateways.razorpay", "RazorpayGateway"),
    Provider.DEMO: ("payments.gateways.demo", "DemoGateway"),
}

#: The settings each provider needs, all non-empty.
REQUIRED_SETTINGS: dict[str, tuple[str, ...]] = {
    Provider.STRIPE: ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET"),
    Provider.RAZORPAY: ("RAZORPAY_KEY_ID", "RAZORPAY_KEY_SECRET", "RAZORPAY_WEBHOOK_SECRET"),
    Provider.DEMO: ("PAYMENTS_DEMO_ENABLED",),
}


def _configured(provider: str) -> bool:
    return all(bool(getattr(settings, name, "")) for name in REQUIRED_SETTINGS[provider])


def _adapter_class(provider: str) -> type | None:
    module_name, class_name = ADAPTERS[provider]
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        logger.exception("payment gateway %s: adapter module %s cannot be imported", provider, module_name)
        return None
    adapter = getattr(module, class_name, None)
    return adapter if isinstance(adapter, type) else None


def _refuse(provider: object) -> InvalidInput:
    choices = ", ".join(enabled_providers()) or "none"
    return InvalidInput(
        f"{provider if provider in ADAPTERS else 'That provider'} is not available here (available: {choices}).",
        code="provider_unavailable",
        fields={"provider": [f"Choose one of: {choices}."]},
    )


def enabled_providers() -> list[str]:
    """The providers that are configured and whose adapter loads, in a fixed order (stripe, razorpay, demo)."""
    return [provider for provider in ADAPTERS if _configured(provider) and _adapter_class(provider) is not None]


def gateway_for(provider: str) -> Gateway:
    """The adapter of ``provider``; 400 ``provider_unavailable`` (with ``fields.provider``) when the name is
    unknown, the provider is not configured or its adapter does not load."""
    if not isinstance(provider, str) or provider not in ADAPTERS or not _configured(provider):
        raise _refuse(provider)
    adapter = _adapter_class(provider)
    if adapter is None:
        raise _refuse(provider)
    gateway: Gateway = adapter()
    return gateway
