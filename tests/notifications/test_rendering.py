import pytest
from django.template import TemplateDoesNotExist

from commerce.notifications.rendering import render_email, render_sms


def test_welcome_email_renders_subject_text_and_html():
    rendered = render_email(template="welcome", context={"user_name": "Asha"})
    assert rendered.subject == "Welcome to Commerce, Asha"
    assert rendered.text.startswith("Hi Asha,\n\nWelcome to Commerce.")
    assert rendered.text.endswith("The Commerce team\n")
    assert "<p>Hi Asha,</p>" in rendered.html
    assert rendered.html.startswith("<!doctype html>")


def test_text_parts_are_not_html_escaped_but_the_html_part_is():
    rendered = render_email(template="welcome", context={"user_name": "Ann & <Bob>"})
    assert rendered.subject == "Welcome to Commerce, Ann & <Bob>"
    assert rendered.text.startswith("Hi Ann & <Bob>,\n")
    assert "<p>Hi Ann &amp; &lt;Bob&gt;,</p>" in rendered.html


def test_subject_is_collapsed_to_one_line():
    rendered = render_email(template="welcome", context={"user_name": "Line\nBreak"})
    assert rendered.subject == "Welcome to Commerce, Line Break"


def test_otp_sms_templates_render_exactly():
    assert render_sms(template="otp_login", context={"code": "482913", "minutes": 5}) == (
        "482913 is your login code. It expires in 5 minutes. Never share it with anyone."
    )
    assert render_sms(template="otp_second_factor", context={"code": "007731", "minutes": 10}) == (
        "007731 is your verification code to finish signing in. It expires in 10 minutes. "
        "If this was not you, change your password."
    )


def test_missing_templates_raise():
    with pytest.raises(TemplateDoesNotExist):
        render_email(template="no_such_email", context={})
    with pytest.raises(TemplateDoesNotExist):
        render_sms(template="no_such_sms", context={})
