#!/usr/bin/env bash
# Restore a dump made by pg_backup.sh into the PostgreSQL database named by DATABASE_URL.
#
# Usage: pg_restore.sh [--yes] BACKUP_FILE
#        pg_restore.sh [--yes] latest        (the newest BACKUP_NAME-*.dump in BACKUP_DIR)
#
# Environment: DATABASE_URL (required), BACKUP_DIR and BACKUP_NAME as for pg_backup.sh, and
# RESTORE_CONFIRM=yes as an alternative to --yes.
#
# Every object in the dump is dropped and recreated (pg_restore --clean --if-exists) in one transaction:
# on any error nothing is changed. Objects that are not in the dump (tables from later migrations) are left
# alone, so for an exact copy restore into a new, empty database. Stop web, worker and beat first.
# This overwrites data, so it asks for the database name to confirm, or needs --yes when unattended.
set -euo pipefail

log() { printf '%s pg_restore: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}
usage() {
  printf 'usage: %s [--yes] BACKUP_FILE|latest\n' "$(basename "$0")" >&2
  exit 2
}

libpq_url() {
  case "$1" in
    postgres://* | postgresql://*) printf '%s' "$1" ;;
    psql://* | pgsql://* | postgis://*) printf 'postgresql://%s' "${1#*://}" ;;
    *) return 1 ;;
  esac
}

confirmed=${RESTORE_CONFIRM:-no}
source_arg=""
while (($#)); do
  case "$1" in
    -y | --yes) confirmed=yes ;;
    -h | --help) usage ;;
    -*) usage ;;
    *)
      [[ -z "$source_arg" ]] || usage
      source_arg=$1
      ;;
  esac
  shift
done
[[ -n "$source_arg" ]] || usage

[[ -n "${DATABASE_URL:-}" ]] || die "DATABASE_URL must be set (postgres://user:password@host:port/dbname)"
url=$(libpq_url "$DATABASE_URL") || die "DATABASE_URL is not a PostgreSQL URL (postgres://...)"
dbname=${url##*/}
dbname=${dbname%%\?*}

if [[ "$source_arg" == latest ]]; then
  backup_dir=${BACKUP_DIR:-/var/backups/commerce}
  name=${BACKUP_NAME:-commerce}
  # The timestamp in the name sorts chronologically.
  backup=$(find "$backup_dir" -maxdepth 1 -type f -name "$name-*.dump" 2>/dev/null | LC_ALL=C sort | tail -n 1)
  [[ -n "$backup" ]] || die "no $name-*.dump in $backup_dir"
else
  backup=$source_arg
fi
[[ -f "$backup" && -r "$backup" ]] || die "cannot read $backup"

command -v pg_restore >/dev/null || die "pg_restore not found (install the PostgreSQL client)"
pg_restore --list "$backup" >/dev/null || die "$backup is not a pg_dump custom-format archive"

if [[ "$confirmed" != yes ]]; then
  [[ -t 0 ]] || die "refusing to overwrite database '$dbname' without --yes (or RESTORE_CONFIRM=yes)"
  printf 'This replaces the data in database "%s" with %s.\nType the database name to continue: ' \
    "$dbname" "$backup" >&2
  read -r answer
  [[ "$answer" == "$dbname" ]] || die "not confirmed; nothing was changed"
fi

log "restoring $backup into database '$dbname'"
pg_restore --clean --if-exists --no-owner --no-privileges --single-transaction --exit-on-error \
  --dbname="$url" "$backup" || die "pg_restore failed; the transaction was rolled back and nothing was changed"
log "restored $backup"
