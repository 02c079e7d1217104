"""Interoperability with what platforms already run: HMA's REST API (as ROOST's Coop calls it), StopNCII's
partner API shape (served and pulled), and their import/export formats. Domain code: no web framework here."""
