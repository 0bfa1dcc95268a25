"""Settings packages: ``base`` (embedded default or full stack, chosen by the environment),
``production`` (strict; refuses to start without its secrets) and ``test`` (fast hashing, quiet logs)."""
