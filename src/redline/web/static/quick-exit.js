// The quick exit shared by the portal's pages (index.html, intake.html, removal.html): every `.quick-exit`
// button, or the Shift key pressed three times, leaves at once for a neutral page. Each page says what it
// forgets first (`forget`); then the page is emptied and replaced in history, so "Back" does not return to it.

export const NEUTRAL_SITE = 'https://www.bbc.com/weather';

// The keyboard shortcut: Shift pressed three times in a row, as on GOV.UK's "Exit this page" (a pattern
// people who use domestic-abuse services may already know). It works in every state, a modal dialog
// included, because it listens on the window; typing (Shift with a letter) never triggers it.
const EXIT_PRESSES = 3;
const EXIT_WINDOW_MS = 2000;

/** Wire the page's exit buttons and the shortcut; `forget` clears what this page holds (called first). */
export function installQuickExit(forget) {
  const quickExit = () => {
    forget();
    document.body.replaceChildren();
    document.title = '';
    location.replace(NEUTRAL_SITE);
  };
  let shiftPresses = [];
  const watchExitShortcut = (event) => {
    if (event.key !== 'Shift') {
      shiftPresses = [];
      return;
    }
    if (event.repeat) return; // holding Shift down is one press
    const now = performance.now();
    shiftPresses = [...shiftPresses.filter((at) => now - at < EXIT_WINDOW_MS), now];
    if (shiftPresses.length >= EXIT_PRESSES) quickExit();
  };
  for (const button of document.querySelectorAll('.quick-exit')) button.addEventListener('click', quickExit);
  window.addEventListener('keydown', watchExitShortcut, true);
  return quickExit;
}
