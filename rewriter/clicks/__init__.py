"""Clicks on tracking links: the record the service hands over, the recorders and stores that
keep it, and the reports read from it. Nothing here touches a document."""
