"""Device libraries for the packing bench (scanners, printers, cameras), each behind a small interface."""
