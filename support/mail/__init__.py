"""Email as a channel, the domain side: parsing inbound MIME, addresses and reply tokens (docs/email.md)."""
