"""Tableau de bord: a dossier's KPIs with N-1, objectives, the prévisionnel, PDF reports and the portfolio."""
