"""Integrations 4 and 5: value statement portfolio items and the leadership identity."""
