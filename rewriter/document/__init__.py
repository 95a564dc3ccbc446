"""One document, bytes in; bytes and link records out. No I/O."""
