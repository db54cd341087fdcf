"""Accueil: the page after sign-in, what needs the person."""
