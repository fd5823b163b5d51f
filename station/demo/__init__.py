"""`station demo`: a whole simulated bench with a scripted packer, on the embedded defaults."""
