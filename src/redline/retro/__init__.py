"""Retroactive matching: hashes of content platforms already checked, searched when a new entry goes live.

A survivor often comes forward after her images were posted. Forward matching (``/v1/match``,
``/v1/match/file``, ``redline scan``) only sees content at the moment it is checked; this package keeps the
*hashes* (never the content) of what was checked, with the platform's ``content_id``, for the operator's
retention (``seen_retention_days``), and searches every entry that goes live against them:

* :mod:`redline.retro.models` — the ``seen_uploads`` / ``seen_hashes`` tables;
* :mod:`redline.retro.seen` — recording what was checked, and :func:`~redline.retro.seen.find_seen`, the
  one search over it (also used by the removal workflow's sweep);
* :mod:`redline.retro.worker` — the background worker that follows the change log and turns hits into
  matches through the usual match log, review queue and ``match.created`` webhooks (``origin:
  retroactive``).
"""
