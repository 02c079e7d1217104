// Links between the portal's pages (the front page, intake.html, removal.html), marked `data-portal-link`.
// They carry the visitor's language as `?lang=`, which every page reads (the language is never stored in
// the browser). Followed, they replace this page in the tab's history instead of adding to it, so that
// after the quick exit on the next page "Back" does not return to any page of the portal.
const wired = new WeakSet();

/** Point every portal link under `root` at its page in `lang`; the first time, make it replace this page. */
export function linkPages(lang, root = document) {
  for (const link of root.querySelectorAll('a[data-portal-link]')) {
    const url = new URL(link.getAttribute('href'), location.href);
    url.searchParams.set('lang', lang);
    link.setAttribute('href', `${url.pathname}${url.search}${url.hash}`);
    if (wired.has(link)) continue;
    wired.add(link);
    link.addEventListener('click', (event) => {
      // A new tab or window (Ctrl, Cmd, Shift, middle button) is the browser's to open, as usual.
      if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
      event.preventDefault();
      location.replace(link.href);
    });
  }
}
