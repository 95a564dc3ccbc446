"""The tracking service: answers every tracking link over HTTP and HTTPS (issue #11)."""
