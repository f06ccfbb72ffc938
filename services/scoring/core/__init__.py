"""The pure scoring rules: no I/O, no clock; time arrives inside the events."""
