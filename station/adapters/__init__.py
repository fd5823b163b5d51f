"""Adapters from the device libraries (`drivers`, `firmware_bridge`) to the core's ports. Only the composition
root uses them; the core never imports a device library."""
