#!/usr/bin/env bash
# Back up the PostgreSQL database named by DATABASE_URL with pg_dump, then delete backups older than
# BACKUP_KEEP_DAYS days. Prints the new backup's path on stdout; progress goes to stderr.
#
# Environment:
#   DATABASE_URL      required: postgres://user:password@host:port/dbname, the value the app reads
#                     (postgresql://, psql://, pgsql:// and postgis:// are accepted too)
#   BACKUP_DIR        directory for the dumps (default /var/backups/commerce)
#   BACKUP_KEEP_DAYS  keep this many days of dumps, at least 1 (default 14)
#   BACKUP_NAME       file name prefix (default commerce): files are BACKUP_NAME-YYYYmmddTHHMMSSZ.dump
#
# Dumps are pg_dump's custom format (compressed; restore selectively with pg_restore), without owners or
# grants so they restore under any role. A dump is written under a temporary name, checked with
# pg_restore --list and only then renamed, so a failed run leaves no file that looks like a backup, and it
# exits before pruning: old backups are deleted only after a new one succeeded.
# pg_dump must be the server's major version or newer. Restore with ops/backup/pg_restore.sh.
set -euo pipefail

log() { printf '%s pg_backup: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# libpq understands only postgres:// and postgresql://; django-environ also accepts these aliases.
libpq_url() {
  case "$1" in
    postgres://* | postgresql://*) printf '%s' "$1" ;;
    psql://* | pgsql://* | postgis://*) printf 'postgresql://%s' "${1#*://}" ;;
    *) return 1 ;;
  esac
}

[[ -n "${DATABASE_URL:-}" ]] || die "DATABASE_URL must be set (postgres://user:password@host:port/dbname)"
url=$(libpq_url "$DATABASE_URL") || die "DATABASE_URL is not a PostgreSQL URL (postgres://...)"

backup_dir=${BACKUP_DIR:-/var/backups/commerce}
keep_days=${BACKUP_KEEP_DAYS:-14}
name=${BACKUP_NAME:-commerce}
if ! [[ "$keep_days" =~ ^[0-9]+$ ]] || ((10#$keep_days < 1)); then
  die "BACKUP_KEEP_DAYS must be a whole number >= 1, got '$keep_days'"
fi
keep_days=$((10#$keep_days))
[[ "$name" =~ ^[A-Za-z0-9._-]+$ ]] || die "BACKUP_NAME may only contain letters, digits, '.', '_' and '-'"

command -v pg_dump >/dev/null || die "pg_dump not found (install the PostgreSQL client)"
command -v pg_restore >/dev/null || die "pg_restore not found (install the PostgreSQL client)"

umask 077
mkdir -p "$backup_dir"

target="$backup_dir/$name-$(date -u +%Y%m%dT%H%M%SZ).dump"
[[ ! -e "$target" ]] || die "$target already exists"
partial="$target.partial"
trap 'rm -f "$partial"' EXIT

log "dumping to $target"
pg_dump --format=custom --no-owner --no-privileges --dbname="$url" --file="$partial" \
  || die "pg_dump failed; older backups were left untouched"
pg_restore --list "$partial" >/dev/null || die "the new dump is not a readable archive; older backups were left untouched"
mv "$partial" "$target"
trap - EXIT
log "wrote $target ($(du -h "$target" | cut -f1))"

# Retention: by modification time, minutes rather than find's rounded-down days.
keep_minutes=$((keep_days * 24 * 60))
while IFS= read -r -d '' old; do
  rm -f -- "$old"
  log "deleted $old (older than $keep_days days)"
done < <(find "$backup_dir" -maxdepth 1 -type f \( -name "$name-*.dump" -o -name "$name-*.dump.partial" \) \
  -mmin +"$keep_minutes" -print0)

printf '%s\n' "$target"
