"""A dossier's ledger: fiscal years, journals, accounts, entries and lines; FEC read and write."""
