"""Provider adapters behind one interface (``base.Gateway``); :func:`registry.gateway_for` picks one by name."""
