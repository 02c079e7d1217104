"""Notice-and-removal (docs/REMOVAL.md): removal requests under the TAKE IT DOWN Act, the UK's intimate image
content reports, DSA notices and eSafety removal notices; the deadline clock; removal into a platform
bank; the copy sweep; records, statements of reasons and reports.

Modules: ``jurisdictions`` (what each law needs, its period), ``validation`` (every problem of a request,
by field), ``requests`` (filing, the requester's view, decisions, complaints), ``sweep`` (copies among
content already seen and in the match log), ``clocks`` (escalations, breaches) and ``worker`` (its
thread), ``records`` (JSON, CSV, DSA statements), ``reports``, ``models`` (tables). No FastAPI here.
"""
