"""The review console at ``/console``: server-rendered pages for the operator's reviewers and admins.

Security model: sign-in with an argon2-hashed password (failed sign-ins throttled per username and address,
counted in the database so the limit holds across worker processes); a server-side session in an
``HttpOnly``, ``SameSite=Strict`` cookie scoped to ``/console`` (``Secure`` when served over HTTPS); a CSRF
token in every form, checked on every POST (sign-in included, with a pre-session token). The pages carry no
script at all: the console's Content-Security-Policy forbids scripts outright. Previews are the platform's
content, blurred and greyscale until the reviewer chooses to reveal them (wellbeing), and are served only to
signed-in staff with ``no-store``. Survivors' images do not exist here, and nothing shown comes from a case
(no case numbers, no secrets).

Modules: :mod:`~redline.web.console.routes` (the routes and ``mount_console``),
:mod:`~redline.web.console.deps` (services, signed-in staff, checked forms, typed refusals),
:mod:`~redline.web.console.render` (each page as a pure function), :mod:`~redline.web.console.html`
(escaping and the page frame). The application composes it: ``redline.api.app`` mounts it; nothing here
imports ``redline.api``.
"""
