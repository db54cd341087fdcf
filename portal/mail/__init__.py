"""Email: building messages from templates and delivering them where ``PORTAL_SMTP_URL`` says."""
