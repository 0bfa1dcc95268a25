# syntax=docker/dockerfile:1
#
# The production image: one image runs the web server (the default command), the Celery worker and beat
# (docker-compose.yml overrides the command). Build:  docker build --build-arg RELEASE=$(git rev-parse --short HEAD) .
#
# At run time config.settings.production needs DJANGO_SECRET_KEY, DJANGO_ALLOWED_HOSTS and DATABASE_URL
# (see .env.example and ops/README.md). Nothing secret is needed, or baked in, at build time.

# Debian bookworm: its postgresql-client (15) is the major version of the compose stack's server, which
# manage.py backup/restore need (pg_dump must be the server's major version or newer).
# --- builder: the pinned runtime requirements in a virtualenv ---------------------------------------------
FROM python:3.11-slim-bookworm AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

# Only the requirements file first, so the dependency layer is reused until requirements change.
COPY requirements/base.txt /tmp/requirements/base.txt
RUN pip install --upgrade pip \
    && pip install -r /tmp/requirements/base.txt

# --- runtime: the virtualenv and the project, run as an unprivileged user ---------------------------------
FROM python:3.11-slim-bookworm AS runtime

ARG RELEASE=dev

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production \
    RELEASE=${RELEASE} \
    GUNICORN_WORKERS=3

# pg_dump, pg_restore for manage.py backup, restore, backup_verify and migrate_safe.
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home --shell /usr/sbin/nologin app

WORKDIR /app
COPY --from=builder /opt/venv /opt/venv
# The code stays owned by root: the app user can read it but not change it.
COPY . /app

# Static files are collected at build time with the base settings (no secrets or database needed), into the
# same whitenoise manifest storage production.py serves from, so hashed names resolve at run time.
RUN DJANGO_SETTINGS_MODULE=config.settings.base \
    STATICFILES_STORAGE=whitenoise.storage.CompressedManifestStaticFilesStorage \
    python manage.py collectstatic --noinput -v0 \
    && mkdir -p /app/media /app/backups \
    && chown app:app /app/media /app/backups

USER app

EXPOSE 8000

# Plain HTTP from inside the container: production.py exempts ^api/v1/health from the SSL redirect.
# The probe sends a Host header taken from DJANGO_ALLOWED_HOSTS so the host check passes (no curl in slim).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "/app/ops/docker/healthcheck.py", "http://127.0.0.1:8000/api/v1/health"]

# Bind 0.0.0.0:8000, GUNICORN_WORKERS workers (default 3); the rest is in ops/docker/gunicorn.conf.py.
CMD ["gunicorn", "config.wsgi:application", "--config", "/app/ops/docker/gunicorn.conf.py", "--bind", "0.0.0.0:8000"]
