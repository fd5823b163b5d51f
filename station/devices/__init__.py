"""The devices the station core sees: the small Protocols it owns, their settings, and indicator fan-out."""
