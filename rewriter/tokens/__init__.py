"""Keys and signed, self-contained tracking tokens. No HTML."""
