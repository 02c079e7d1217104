"""Collection intake by a trusted flagger (docs/INTAKE.md): hashing someone else's collection on the
flagger's machine, one third-party case per person depicted, signed manifests, hand-over sheets, claims."""
