"""The firm's own space: the firm, its people and their firm-wide roles."""
