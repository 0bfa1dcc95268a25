"""Take the README's dashboard screenshot (docs/dashboard.png) from a running server with the demo data.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/scratch DEMO_ADMIN_PASSWORD=... .venv/bin/python manage.py migrate
    DATABASE_URL=... DEMO_ADMIN_PASSWORD=... .venv/bin/python manage.py seed_demo      # prints the TOTP secret
    DATABASE_URL=... .venv/bin/python manage.py runserver 127.0.0.1:8765 --noreload &
    .venv/bin/python -m tests.browser.screenshot --url http://127.0.0.1:8765 \\
        --password ... --totp-secret <printed secret> [--out docs/dashboard.png]

It signs in as the demo admin in Debian's chromium (the browser tests' launch flags), opens the admin index at
1,366 x 768 and saves the visible part as a palette PNG (256 colours, optimised), which keeps it small.
"""

import argparse
import io
from pathlib import Path

import pyotp
from PIL import Image

from tests.browser.chromium import CHROMIUM_ARGS, LOG_IN, VIEWPORT, chromium_path

MAX_BYTES = 300_000


def take(*, url: str, email: str, password: str, totp_secret: str, out: Path) -> int:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=VIEWPORT, base_url=url, locale="en-GB")
        page.goto("/admin/login/")
        page.locator("input[name=username]").fill(email)
        page.locator("input[name=password]").fill(password)
        page.locator("input[name=otp_token]").fill(pyotp.TOTP(totp_secret).now())
        page.get_by_role("button", name=LOG_IN).click()
        page.wait_for_url(f"{url}/admin/")
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(1_000)  # let the charts finish their entry animation
        raw = page.screenshot()
        browser.close()
    image = Image.open(io.BytesIO(raw)).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    image.save(out, format="PNG", optimize=True)
    size = out.stat().st_size
    if size > MAX_BYTES:
        raise SystemExit(f"{out} is {size} bytes, more than {MAX_BYTES}")
    return size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="the running server, e.g. http://127.0.0.1:8765")
    parser.add_argument("--email", default="admin@example.com")
    parser.add_argument("--password", required=True)
    parser.add_argument("--totp-secret", required=True, help="as printed by seed_demo")
    parser.add_argument("--out", type=Path, default=Path("docs/dashboard.png"))
    args = parser.parse_args()
    size = take(
        url=args.url.rstrip("/"), email=args.email, password=args.password, totp_secret=args.totp_secret, out=args.out
    )
    print(f"{args.out}: {size} bytes")


if __name__ == "__main__":
    main()
