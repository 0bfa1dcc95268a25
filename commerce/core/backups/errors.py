class BackupError(Exception):
    """A backup, restore or verification could not be done; the message says why and what to do.

    The management commands turn it into a ``CommandError`` (a non-zero exit with the message)."""
