"""POS and e-commerce sources of a dossier: the catalogue, the unified records they speak,
the accounting mapping, the posting rules and the scheduled, exactly-once sync."""
