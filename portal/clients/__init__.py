"""Client dossiers (Entreprises), identified by SIREN."""
