"""Render notification templates.

Email: ``templates/emails/<name>/subject.txt`` (one line; whitespace and line breaks collapse to single spaces),
``body.txt`` (plain text, required) and ``body.html`` (optional HTML alternative).
SMS: ``templates/sms/<name>.txt``, surrounding whitespace stripped.

Text templates are rendered without HTML auto-escaping (``&`` stays ``&``); the HTML body is auto-escaped as
usual. A missing required template raises ``TemplateDoesNotExist``: that is a programming error and surfaces
when the notification is requested, not later in a worker.
"""

from dataclasses import dataclass
from typing import Any

from django.template import Context, TemplateDoesNotExist
from django.template.loader import get_template


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def _render(name: str, context: dict[str, Any], *, autoescape: bool) -> str:
    # get_template() returns the backend wrapper; its .template renders with a Context we control.
    template = get_template(name).template  # type: ignore[attr-defined]  # the DjangoTemplates backend wrapper
    return template.render(Context(context, autoescape=autoescape))


def render_email(*, template: str, context: dict[str, Any]) -> RenderedEmail:
    base = f"emails/{template}"
    subject = " ".join(_render(f"{base}/subject.txt", context, autoescape=False).split())
    text = _render(f"{base}/body.txt", context, autoescape=False).strip() + "\n"
    try:
        html = _render(f"{base}/body.html", context, autoescape=True).strip() + "\n"
    except TemplateDoesNotExist:
        html = ""
    return RenderedEmail(subject=subject, text=text, html=html)


def render_sms(*, template: str, context: dict[str, Any]) -> str:
    return _render(f"sms/{template}.txt", context, autoescape=False).strip()
