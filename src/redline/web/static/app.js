// The survivor portal. Files are hashed on this device (hashing.js -> Web Workers); only hashes are sent.
// Nothing is written to browser storage: state lives in this module and disappears with the page.
import { Hasher } from './hashing.js';
import { LANGUAGES, language, preferredLanguage, setLanguage, t, translate } from './i18n.js';
import { MAX_CASE_HASHES, QUALITY_THRESHOLD, STORED_REGIONS } from './media.js';
import { installQuickExit } from './quick-exit.js';
import { SIGNAL_TYPES } from './signals.js';
import { videoFrameHashes } from './video-hashing.js';

// Names the wording of Step 1 (catalog keys attest.*), recorded with the case. Change it when that wording changes.
const ATTESTATION_VERSION = 'portal-2025-1';
const $ = (id) => document.getElementById(id);

const state = {
  files: new Map(), // id -> {file, row, result, problem, previewUrl}
  nextId: 1,
  hasher: null,
  showPreviews: false,
  submitting: false,
  caseCredentials: null, // {caseId, secret} of the case on screen, memory only
  caseView: null, // the last GET /v1/cases/{id} answer, re-rendered when the language changes
  helpServices: {}, // GET /v1/help-services: language -> [{name, description, phone, url}]
};

// ---------- small helpers ----------

/** Set an element's text from a catalog key (kept on the element so a language switch re-renders it). */
function say(el, key, vars = {}, tone = '') {
  el.dataset.i18n = key;
  el.dataset.i18nVars = JSON.stringify(vars);
  el.textContent = t(key, vars);
  el.classList.remove('problem', 'warn', 'ok');
  if (tone) el.classList.add(tone);
}

function quiet(el) {
  delete el.dataset.i18n;
  delete el.dataset.i18nVars;
  el.textContent = '';
  el.classList.remove('problem', 'warn', 'ok');
}

function element(tag, props = {}, children = []) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k in el) el[k] = v;
    else el.setAttribute(k, v);
  }
  for (const c of children) el.append(c);
  return el;
}

// ---------- views ----------

function showView() {
  const view = location.hash === '#case' ? 'case' : 'submit';
  $('view-submit').hidden = view !== 'submit';
  $('view-case').hidden = view !== 'case';
  for (const link of document.querySelectorAll('[data-view]')) {
    if (link.dataset.view === view) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

// ---------- quick exit (quick-exit.js: the button, or Shift three times) ----------

/** What the quick exit forgets before it leaves: files, previews, the case on screen. */
function forgetForExit() {
  if (state.hasher) state.hasher.close();
  for (const entry of state.files.values()) if (entry.previewUrl) URL.revokeObjectURL(entry.previewUrl);
  state.files.clear();
  state.caseCredentials = null;
  state.caseView = null;
}

// ---------- files ----------

function hasher() {
  if (!state.hasher) state.hasher = new Hasher({ background: '#ffffff' });
  return state.hasher;
}

function addFiles(fileList) {
  for (const file of fileList) {
    const id = state.nextId++;
    const entry = { file, result: null, problem: null, previewUrl: null };
    entry.row = fileRow(id, entry);
    state.files.set(id, entry);
    $('file-list').append(entry.row.li);
    hashOne(id, entry);
  }
  updateSubmit();
}

function fileRow(id, entry) {
  const isVideo = entry.file.type.startsWith('video/');
  entry.previewUrl = URL.createObjectURL(entry.file);
  const thumb = isVideo
    ? element('video', { class: 'thumb', src: entry.previewUrl, muted: true, preload: 'metadata' })
    : element('img', { class: 'thumb', src: entry.previewUrl, alt: '' });
  thumb.setAttribute('aria-hidden', 'true');
  thumb.classList.toggle('blurred', !state.showPreviews);
  const progress = element('progress', { max: 1, value: 0 });
  progress.setAttribute('aria-label', entry.file.name);
  const msg = element('p', { class: 'msg' });
  const remove = element('button', { type: 'button', class: 'remove' });
  say(remove, 'files.remove');
  remove.setAttribute('aria-label', `${t('files.remove')}: ${entry.file.name}`);
  remove.addEventListener('click', () => removeFile(id));
  const li = element('li', { class: 'file', dataset: { testid: 'file-item' } }, [
    element('div', { class: 'thumb-box' }, [thumb]),
    element('div', {}, [element('p', { class: 'name', textContent: entry.file.name }), progress, msg]),
    remove,
  ]);
  say(msg, 'files.status.hashing');
  return { li, thumb, progress, msg };
}

async function hashOne(id, entry) {
  try {
    const isVideo = (result) => result.kind === 'video';
    entry.result = await hasher().hash(entry.file, (fraction) => {
      entry.row.progress.value = fraction * (entry.file.type.startsWith('image/') ? 1 : 0.2);
    });
    if (isVideo(entry.result)) {
      // The video's frame hashes (video-hashing.js): edited copies can then be found too.
      const frames = await videoFrameHashes(entry.file, (fraction) => {
        entry.row.progress.value = 0.2 + 0.8 * fraction;
      });
      if (!state.files.has(id)) return;
      entry.result = { ...entry.result, frames: frames || [] };
    }
    entry.row.progress.value = 1;
    if (isVideo(entry.result) && entry.result.frames.length)
      say(entry.row.msg, 'files.status.videoFrames', { count: entry.result.frames.length }, 'ok');
    else if (isVideo(entry.result)) say(entry.row.msg, 'files.status.video', {}, 'ok');
    else if (entry.result.pdq.quality < QUALITY_THRESHOLD) say(entry.row.msg, 'files.status.lowQuality', {}, 'warn');
    else say(entry.row.msg, 'files.status.done', {}, 'ok');
  } catch (err) {
    if (!state.files.has(id)) return;
    entry.problem = err.problem || 'unreadable';
    entry.row.progress.hidden = true;
    say(entry.row.msg, `files.problem.${entry.problem}`, {}, 'problem');
  }
  entry.row.li.dataset.state = entry.problem ? 'problem' : 'ready';
  updateSubmit();
}

function removeFile(id) {
  const entry = state.files.get(id);
  if (!entry) return;
  if (entry.previewUrl) URL.revokeObjectURL(entry.previewUrl);
  entry.row.li.remove();
  state.files.delete(id);
  updateSubmit();
  $('file-input').focus();
}

function togglePreviews() {
  state.showPreviews = !state.showPreviews;
  const button = $('toggle-previews');
  button.setAttribute('aria-pressed', String(state.showPreviews));
  say(button, state.showPreviews ? 'files.hidePreviews' : 'files.showPreviews');
  for (const entry of state.files.values()) entry.row.thumb.classList.toggle('blurred', !state.showPreviews);
}

// ---------- submission ----------

const ATTESTATION_BOXES = ['attest-subject', 'attest-non-consensual', 'attest-adult'];

function attested() {
  return ATTESTATION_BOXES.every((id) => $(id).checked);
}

/** Once every box is ticked, the "tick the boxes" message has done its job: take it away. */
function attestationChanged() {
  const status = $('submit-status');
  if (attested() && status.dataset.i18n === 'submit.needAttest') quiet(status);
}

function readyEntries() {
  return [...state.files.values()].filter((e) => e.result);
}

function updateSubmit() {
  const busy = [...state.files.values()].some((e) => !e.result && !e.problem);
  $('submit').setAttribute('aria-disabled', String(state.submitting || busy || !readyEntries().length));
}

/** Hashes one picture sends: pdq, md5, sha256, and pdq_region for the whole picture and each stored crop. */
const HASHES_PER_PICTURE = 4 + STORED_REGIONS.length;

/**
 * The request body: every distinct hash, nothing else (no names, sizes or pixels): what each signal type
 * stores of a file (signals.js; a picture: PDQ, its `pdq_region` hashes for robust matching, MD5, SHA-256).
 */
export function casePayload(results, subject) {
  const seen = new Set();
  const hashes = [];
  const add = (hash) => {
    const key = `${hash.type}:${hash.value}`;
    if (!seen.has(key)) {
      seen.add(key);
      hashes.push(hash);
    }
  };
  // `item`: which picture or video of this submission a hash came from (0, 1, ...), so a reviewer's
  // verdict on one of a picture's hashes applies to all of them (docs/MODERATION.md). Only positions.
  results.forEach((r, item) => {
    for (const kind of SIGNAL_TYPES) for (const hash of kind.stored(r)) add({ type: kind.name, ...hash, item });
  });
  return { hashes, attestation: { subject, adult: true, non_consensual: true, text_version: ATTESTATION_VERSION } };
}

async function submit(event) {
  event.preventDefault();
  const status = $('submit-status');
  if (state.submitting) return;
  if (!attested()) return say(status, 'submit.needAttest', {}, 'problem');
  if ([...state.files.values()].some((e) => !e.result && !e.problem)) return say(status, 'submit.wait', {}, 'problem');
  const ready = readyEntries();
  if (!ready.length) return say(status, 'submit.needFiles', {}, 'problem');
  const subject = document.querySelector('input[name="who"]:checked').value;
  const payload = casePayload(ready.map((e) => e.result), subject);
  if (payload.hashes.length > MAX_CASE_HASHES) {
    return say(status, 'submit.tooMany', { count: Math.floor(MAX_CASE_HASHES / HASHES_PER_PICTURE) }, 'problem');
  }
  state.submitting = true;
  updateSubmit();
  say(status, 'submit.sending');
  try {
    const response = await fetch('/v1/cases', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(payload),
      credentials: 'omit',
      cache: 'no-store',
    });
    if (response.status === 429) return say(status, 'submit.rateLimited', {}, 'problem');
    if (!response.ok) return say(status, 'submit.failed', {}, 'problem');
    const body = await response.json();
    quiet(status);
    showResult(body.case_id, body.secret);
  } catch {
    say(status, 'submit.failed', {}, 'problem');
  } finally {
    state.submitting = false;
    updateSubmit();
  }
}

function showResult(caseId, secret) {
  // The files are no longer needed: forget them and their previews.
  for (const id of [...state.files.keys()]) removeFile(id);
  state.caseCredentials = { caseId, secret };
  $('submit-form').hidden = true;
  $('case-id').textContent = caseId;
  $('case-secret').textContent = secret;
  $('result').hidden = false;
  $('result-heading').focus();
}

function credentialsText() {
  const { caseId, secret } = state.caseCredentials;
  return [t('download.title'), '', `${t('result.caseId')}: ${caseId}`, `${t('result.secret')}: ${secret}`, '',
    t('download.keepSafe'), `${location.origin}/#case`, ''].join('\n');
}

async function copyCredentials() {
  try {
    await navigator.clipboard.writeText(credentialsText());
    say($('copy-status'), 'result.copied', {}, 'ok');
  } catch {
    say($('copy-status'), 'result.copyFailed', {}, 'problem');
  }
}

/** A name that says nothing to someone looking through the Downloads folder: "note-2026-12-01.txt". */
function neutralFileName() {
  return `note-${new Date().toISOString().slice(0, 10)}.txt`;
}

function downloadCredentials() {
  const url = URL.createObjectURL(new Blob([credentialsText()], { type: 'text/plain;charset=utf-8' }));
  const link = element('a', { href: url, download: neutralFileName() });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function openOwnCase() {
  $('case-lookup-id').value = state.caseCredentials.caseId;
  $('case-lookup-secret').value = state.caseCredentials.secret;
  location.hash = '#case';
  loadCase();
}

// ---------- case page ----------

async function caseRequest(method, suffix = '') {
  const caseId = $('case-lookup-id').value.trim();
  const secret = $('case-lookup-secret').value.trim();
  return fetch(`/v1/cases/${encodeURIComponent(caseId)}${suffix}`, {
    method,
    headers: { 'X-Case-Secret': secret },
    credentials: 'omit',
    cache: 'no-store',
  });
}

async function loadCase(event) {
  if (event) {
    event.preventDefault();
    $('claim-result').hidden = true; // another case opened by hand: the last claim's secret goes away
  }
  const status = $('case-status');
  if (!$('case-lookup-id').value.trim() || !$('case-lookup-secret').value.trim()) {
    return say(status, 'case.missing', {}, 'problem');
  }
  say(status, 'case.loading');
  try {
    const response = await caseRequest('GET');
    if (response.status === 429) return say(status, 'submit.rateLimited', {}, 'problem');
    if ([401, 403, 404].includes(response.status)) {
      $('case-details').hidden = true;
      return say(status, 'case.notFound', {}, 'problem');
    }
    if (!response.ok) return say(status, 'case.failed', {}, 'problem');
    quiet(status);
    openCase(await response.json());
  } catch {
    say(status, 'case.failed', {}, 'problem');
  }
}

/** What platforms reported for the copies of one picture, in plain words, the most reassuring first. */
const OUTCOMES = ['Blocked', 'PendingReview', 'NotBlocked', 'Recorded'];

function foundSentence(copies, reported) {
  if (!copies) return t('case.found.none');
  const found = copies === 1 ? t('case.found.one') : t('case.found.many', { count: copies });
  const parts = OUTCOMES.filter((o) => reported[o]).map((o) => t(`case.reported.${o}`, { count: reported[o] }));
  return t('case.found.list', { found, parts: parts.join(t('case.found.separator')) });
}

function itemLine(report, index) {
  const label = report.item === null
    ? t('case.item.code', { n: index + 1 })
    : t(`case.item.${report.kind}`, { n: report.item + 1 });
  const parts = {
    label,
    status: t(`case.itemStatus.${report.status}`),
    exact: t('case.item.exactOnly'),
    found: foundSentence(report.copies_found, report.reported || {}),
  };
  // The catalog orders and spaces the sentences (no spaces between them in Chinese); the label is bold.
  const text = t(report.kind === 'file' ? 'case.line.exact' : 'case.line', parts);
  const at = text.indexOf(label);
  return element('li', { class: 'case-item', dataset: { testid: 'case-item' } }, [
    text.slice(0, at),
    element('strong', { textContent: label }),
    text.slice(at + label.length),
  ]);
}

/** Shows GET /v1/cases/{id}: the case's status, withdrawal, then one line per picture or video (`items`). */
function renderCase(data) {
  state.caseView = data;
  const items = data.items || [];
  say($('case-state'), `status.${data.status}`);
  const copies = items.reduce((sum, i) => sum + i.copies_found, 0);
  const total = !copies ? t('case.total.none') : copies === 1 ? t('case.total.one') : t('case.total.many', { count: copies });
  $('case-matches').textContent = total;
  const created = data.created_at ? new Date(data.created_at).toLocaleString(document.documentElement.lang) : '';
  $('case-created').textContent = created ? t('case.createdAt', { date: created }) : '';
  $('case-items').replaceChildren(...items.map(itemLine));
  $('withdraw-box').hidden = data.status === 'withdrawn';
  $('claim-box').hidden = !data.third_party || data.claimed || data.status === 'withdrawn';
  $('claimed-note').hidden = !data.claimed || !$('claim-result').hidden;
  $('case-details').hidden = false;
}

function openCase(data) {
  renderCase(data);
  $('case-details-heading').focus();
}

// ---------- getting help ----------

async function loadHelpServices() {
  try {
    const response = await fetch('/v1/help-services', { credentials: 'omit' });
    if (response.ok) state.helpServices = (await response.json()).services || {};
  } catch {
    state.helpServices = {};
  }
  renderHelpServices();
}

function helpService(service) {
  const parts = [element('strong', { textContent: service.name })];
  if (service.description) parts.push(` ${service.description}`);
  if (service.phone) {
    parts.push(' ', element('a', { href: `tel:${service.phone.replace(/[^0-9+]/g, '')}`, textContent: service.phone }));
  }
  if (service.url && service.url.startsWith('https://')) {
    const site = new URL(service.url).host.replace(/^www\./, '');
    parts.push(' ', element('a', { href: service.url, rel: 'noreferrer noopener', target: '_blank', textContent: site }));
  }
  return element('li', {}, parts);
}

function renderHelpServices() {
  const services = state.helpServices[language()] || state.helpServices.en || [];
  $('help-services').replaceChildren(...services.map(helpService));
}

async function withdraw() {
  $('withdraw-dialog').close();
  const status = $('case-status');
  say(status, 'withdraw.sending');
  try {
    const response = await caseRequest('POST', '/withdraw');
    if (!response.ok) return say(status, 'withdraw.failed', {}, 'problem');
    await loadCase();
    say(status, 'withdraw.done', {}, 'ok');
    $('case-details-heading').focus();
  } catch {
    say(status, 'withdraw.failed', {}, 'problem');
  }
}

/** A third-party case: she sets a secret of her own; the one on her hand-over sheet stops working. */
async function claim() {
  const status = $('case-status');
  say(status, 'claim.sending');
  try {
    const response = await caseRequest('POST', '/claim');
    if (!response.ok) return say(status, 'claim.failed', {}, 'problem');
    const { secret } = await response.json();
    $('case-lookup-secret').value = secret;
    $('claim-secret').textContent = secret;
    $('claim-result').hidden = false;
    quiet(status);
    await loadCase();
    $('claim-secret').focus();
  } catch {
    say(status, 'claim.failed', {}, 'problem');
  }
}

// ---------- wiring ----------

function wireDropZone() {
  const zone = $('drop-zone');
  const stop = (event) => {
    event.preventDefault();
    event.stopPropagation();
  };
  zone.addEventListener('dragenter', (e) => { stop(e); zone.classList.add('over'); });
  zone.addEventListener('dragover', (e) => { stop(e); zone.classList.add('over'); });
  zone.addEventListener('dragleave', (e) => { stop(e); zone.classList.remove('over'); });
  zone.addEventListener('drop', (e) => {
    stop(e);
    zone.classList.remove('over');
    if (e.dataTransfer && e.dataTransfer.files.length) addFiles(e.dataTransfer.files);
  });
  // A file dropped outside the zone must not make the browser open (display) it.
  window.addEventListener('dragover', (e) => e.preventDefault());
  window.addEventListener('drop', (e) => e.preventDefault());
}

async function start() {
  const requested = new URLSearchParams(location.search).get('lang');
  const lang = LANGUAGES.includes(requested) ? requested : preferredLanguage();
  await setLanguage(lang);
  $('language').value = lang;
  $('language').addEventListener('change', async (e) => {
    await setLanguage(e.target.value);
    translate(document);
    if (state.caseView) renderCase(state.caseView);
    renderHelpServices();
  });
  installQuickExit(forgetForExit);
  for (const id of ATTESTATION_BOXES) $(id).addEventListener('change', attestationChanged);
  $('file-input').addEventListener('change', (e) => {
    addFiles(e.target.files);
    e.target.value = ''; // the same file can be chosen again after removing it
  });
  wireDropZone();
  $('toggle-previews').addEventListener('click', togglePreviews);
  $('submit-form').addEventListener('submit', submit);
  $('copy-credentials').addEventListener('click', copyCredentials);
  $('download-credentials').addEventListener('click', downloadCredentials);
  $('open-case').addEventListener('click', openOwnCase);
  $('case-form').addEventListener('submit', loadCase);
  $('withdraw').addEventListener('click', () => $('withdraw-dialog').showModal());
  $('withdraw-cancel').addEventListener('click', () => $('withdraw-dialog').close());
  $('withdraw-confirm').addEventListener('click', withdraw);
  $('claim').addEventListener('click', claim);
  window.addEventListener('hashchange', showView);
  showView();
  updateSubmit();
  await loadHelpServices();
  document.body.dataset.ready = 'true';
}

start();
