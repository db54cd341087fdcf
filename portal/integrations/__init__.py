"""Source connections (Pennylane, FEC files, POS and e-commerce), run by workers."""
