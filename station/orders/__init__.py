"""The order domain: the order model, its lifecycle table and transitions, actions, intake and operator badges."""
