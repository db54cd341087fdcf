"""Portail Cabinet: the internal management portal of a French accounting firm."""
