"""The serial link to the bench I/O controller (stack light, buzzer, foot pedal, scale): in progress."""
