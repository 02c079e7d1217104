"""Evidence that holds up without the images: the audit log as a tamper-evident (RFC 6962 / C2SP) log,
witness cosigning, offline verification and per-case evidence bundles (docs/EVIDENCE.md)."""
