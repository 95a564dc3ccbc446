"""Whole messages and plain text: MIME parts, transfer encodings, URLs in text, the SMTP relay."""
