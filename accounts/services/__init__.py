"""Every write of the accounts app, by topic: ``audit``, ``otp``, ``two_factor``, ``tokens``, ``registration``,
``profile``. Functions are keyword-only and named ``<entity>_<action>``."""
