"""Provider channels: one module each, registered in channels.registry."""
