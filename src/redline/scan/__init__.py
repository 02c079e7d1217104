"""``redline scan``: check content a platform already hosts against the bank (docs/SCANNING.md).

The files are hashed where they lie, in worker processes (``hashing``); only their hashes go to a Redline
server, which matches and moderates them as it does an upload (``POST /v1/scans/{id}/files``). The driver
(``driver``) keeps a state file (``state``) of finished batches so a killed scan continues where it stopped.
Nothing here imports the web framework or the database: the scanner needs a ``match`` key and a URL only.
"""
