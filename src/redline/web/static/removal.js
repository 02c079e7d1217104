// The public removal request form (docs/REMOVAL.md). Pictures chosen here are hashed on this device by the
// portal's own hashing code (hashing.js -> hash-worker.js -> pdq.js); only the codes are sent. Nothing is
// written to browser storage; what was typed stays in the form until it is sent successfully.
import { Hasher } from './hashing.js';
import { LANGUAGES, preferredLanguage } from './i18n.js';
import { linkPages } from './portal-links.js';
import { installQuickExit } from './quick-exit.js';
import { SIGNAL_TYPES } from './signals.js';

const STATEMENTS = ['good_faith_non_consent', 'declaration_true', 'good_faith_accurate', 'authorised'];
const TEXT_FIELDS = ['name', 'email', 'phone', 'signature', 'explanation', 'notice_reference', 'case_id', 'case_secret'];
const $ = (id) => document.getElementById(id);

const state = {
  catalog: {},
  fallback: {},
  jurisdictions: {}, // code -> {required, statements, period_hours}
  files: new Map(), // id -> {file, li, msg, result, problem}
  nextId: 1,
  hasher: null,
  sending: false,
  view: null, // the last status answer, re-rendered on a language switch
};

// ---------- messages ----------

async function loadCatalog(lang) {
  const response = await fetch(new URL(`./locales/removal/${lang}.json`, import.meta.url));
  if (!response.ok) throw new Error(`catalog ${lang}: ${response.status}`);
  return response.json();
}

async function useLanguage(lang) {
  if (!LANGUAGES.includes(lang)) lang = 'en';
  if (!Object.keys(state.fallback).length) state.fallback = await loadCatalog('en');
  state.catalog = lang === 'en' ? state.fallback : await loadCatalog(lang);
  document.documentElement.lang = lang;
  translateAll();
  linkPages(lang);
}

function tr(key, vars = {}) {
  const text = state.catalog[key] ?? state.fallback[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
}

function translateAll() {
  for (const el of document.querySelectorAll('[data-text]')) {
    el.textContent = tr(el.dataset.text, el.dataset.textVars ? JSON.parse(el.dataset.textVars) : {});
  }
  for (const el of document.querySelectorAll('[data-text-attr]')) {
    for (const pair of el.dataset.textAttr.split(';')) {
      const [attr, key] = pair.split(':');
      el.setAttribute(attr, tr(key));
    }
  }
}

/** Put a catalog message in `el` (kept as a key, so a language switch re-renders it). */
function tell(el, key, vars = {}, tone = '') {
  el.dataset.text = key;
  el.dataset.textVars = JSON.stringify(vars);
  el.textContent = tr(key, vars);
  el.classList.remove('problem', 'ok');
  if (tone) el.classList.add(tone);
}

function hush(el) {
  delete el.dataset.text;
  delete el.dataset.textVars;
  el.textContent = '';
}

// ---------- quick exit (quick-exit.js, as on the portal: the button, or Shift three times) ----------

/** What the quick exit forgets before it leaves: the chosen pictures (the form goes with the page). */
function forgetForExit() {
  if (state.hasher) state.hasher.close();
  state.files.clear();
}

// ---------- views ----------

function showView() {
  const view = location.hash === '#status' ? 'status' : 'file';
  $('view-file').hidden = view !== 'file';
  $('view-status').hidden = view !== 'status';
  for (const link of document.querySelectorAll('[data-view]')) {
    if (link.dataset.view === view) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

// ---------- what the chosen law asks ----------

function chosen(name) {
  const input = document.querySelector(`input[name="${name}"]:checked`);
  return input ? input.value : '';
}

function showWhatTheLawAsks() {
  const rules = state.jurisdictions[chosen('jurisdiction')];
  const subject = chosen('subject');
  const statements = new Set(rules ? rules.statements : []);
  if (rules && subject === 'agent' && chosen('jurisdiction') !== 'au') statements.add('authorised');
  for (const name of STATEMENTS) $(`box-statement-${name}`).hidden = !statements.has(name);
  const required = new Set(rules ? rules.required : []);
  $('box-signature').hidden = !required.has('signature');
  $('box-notice_reference').hidden = !required.has('notice_reference');
  tell($('explanation-label'), required.has('explanation') ? 'details.explanationRequired' : 'details.explanationOptional');
}

// ---------- pictures, hashed here ----------

function addFiles(list) {
  if (!state.hasher) state.hasher = new Hasher({ background: '#ffffff' });
  for (const file of list) {
    const id = state.nextId++;
    const msg = document.createElement('p');
    msg.className = 'msg';
    const name = document.createElement('p');
    name.className = 'name';
    name.textContent = file.name;
    const remove = document.createElement('button');
    remove.type = 'button';
    tell(remove, 'items.remove');
    remove.addEventListener('click', () => removeFile(id));
    const li = document.createElement('li');
    li.className = 'file';
    li.dataset.testid = 'file-item';
    li.append(name, msg, remove);
    $('file-list').append(li);
    const entry = { file, li, msg, result: null, problem: null };
    state.files.set(id, entry);
    tell(msg, 'items.hashing');
    state.hasher.hash(file).then(
      (result) => {
        entry.result = result;
        li.dataset.state = 'ready';
        tell(msg, 'items.hashed', {}, 'ok');
      },
      (err) => {
        entry.problem = err.problem || 'unreadable';
        li.dataset.state = 'problem';
        tell(msg, `items.problem.${entry.problem}`, {}, 'problem');
      },
    );
  }
}

function removeFile(id) {
  const entry = state.files.get(id);
  if (!entry) return;
  entry.li.remove();
  state.files.delete(id);
}

/** One picture's codes, as the portal computes them (signals.js): nothing else about the file. */
function pictureHashes(result) {
  const hashes = [];
  const seen = new Set();
  for (const kind of SIGNAL_TYPES) {
    for (const hash of kind.stored(result)) {
      const key = `${kind.name}:${hash.value}`;
      if (!seen.has(key)) {
        seen.add(key);
        hashes.push({ type: kind.name, value: hash.value, ...(hash.quality !== undefined ? { quality: hash.quality } : {}) });
      }
    }
  }
  return hashes;
}

// ---------- sending, and the problems that come back ----------

function locationLines() {
  return $('locations').value.split('\n').map((line, index) => ({ text: line.trim(), line: index + 1 })).filter((l) => l.text);
}

function payload(lines) {
  const body = {
    jurisdiction: chosen('jurisdiction'),
    subject: chosen('subject'),
    locations: lines.map((l) => l.text),
    pictures: [...state.files.values()].filter((e) => e.result).map((e) => ({ hashes: pictureHashes(e.result) })),
    statements: STATEMENTS.filter((name) => !$(`box-statement-${name}`).hidden && $(`st-${name}`).checked),
  };
  for (const field of TEXT_FIELDS) body[field] = $(field).value;
  if ($('box-signature').hidden) body.signature = '';
  if ($('box-notice_reference').hidden) body.notice_reference = '';
  return body;
}

function clearProblems() {
  for (const el of document.querySelectorAll('.field-error')) hush(el);
  for (const el of document.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  $('error-list').replaceChildren();
  $('error-summary').hidden = true;
}

/** Where a problem of `field` is shown: [message element, the control to focus]. */
function placeOf(field) {
  if (field.startsWith('locations.')) return ['err-locations', 'locations'];
  if (field.startsWith('pictures.')) return ['err-pictures', 'file-input'];
  if (field.startsWith('statements.')) {
    const name = field.slice('statements.'.length);
    return [`err-statement-${name}`, `st-${name}`];
  }
  if (field === 'jurisdiction') return ['err-jurisdiction', 'j-us'];
  if (field === 'subject') return ['err-subject', 's-self'];
  if (field === 'items') return ['err-items', 'locations'];
  return [`err-${field}`, field];
}

function showProblems(problems, lines) {
  clearProblems();
  const list = $('error-list');
  for (const problem of problems) {
    const [errorId, controlId] = placeOf(problem.field);
    const errorEl = $(errorId);
    const control = $(controlId);
    if (!errorEl) continue;
    const vars = {};
    if (problem.field.startsWith('locations.')) vars.line = lines[Number(problem.field.split('.')[1])]?.line ?? '?';
    const key = `error.${problem.code}`;
    const text = key in state.fallback ? null : problem.message;
    if (text) errorEl.textContent = text;
    else tell(errorEl, key, vars);
    if (control) control.setAttribute('aria-invalid', 'true');
    const closed = errorEl.closest('details');
    if (closed) closed.open = true; // a problem is never hidden in a folded section
    const link = document.createElement('a');
    link.href = `#${controlId}`;
    if (text) link.textContent = text;
    else tell(link, key, vars);
    link.addEventListener('click', (event) => {
      event.preventDefault();
      if (control) control.focus();
    });
    const li = document.createElement('li');
    li.append(link);
    list.append(li);
  }
  $('error-summary').hidden = false;
  $('error-summary').focus();
}

async function send(event) {
  event.preventDefault();
  if (state.sending) return;
  const status = $('submit-status');
  if ([...state.files.values()].some((e) => !e.result && !e.problem)) return tell(status, 'submit.wait', {}, 'problem');
  const lines = locationLines();
  state.sending = true;
  tell(status, 'submit.sending');
  try {
    const response = await fetch('/v1/removal-requests', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(payload(lines)),
      credentials: 'omit',
      cache: 'no-store',
    });
    if (response.status === 422) {
      const problem = await response.json();
      hush(status);
      if (problem.fields) return showProblems(problem.fields, lines);
      return tell(status, 'submit.invalidHash', {}, 'problem');
    }
    if (response.status === 429) return tell(status, 'submit.rateLimited', {}, 'problem');
    if (!response.ok) return tell(status, 'submit.failed', {}, 'problem');
    const body = await response.json();
    hush(status);
    clearProblems();
    showReceipt(body);
  } catch {
    tell(status, 'submit.failed', {}, 'problem');
  } finally {
    state.sending = false;
  }
}

function localTime(iso) {
  return new Date(iso).toLocaleString(document.documentElement.lang, { dateStyle: 'long', timeStyle: 'short' });
}

function showReceipt(body) {
  for (const id of [...state.files.keys()]) removeFile(id);
  $('request-form').hidden = true;
  $('number').textContent = body.number;
  $('secret').textContent = body.secret;
  $('deadline').textContent = localTime(body.deadline_at);
  state.own = { number: body.number, secret: body.secret };
  $('result').hidden = false;
  $('result-heading').focus();
}

// ---------- following a request ----------

async function openStatus(event) {
  if (event) event.preventDefault();
  const number = $('status-number').value.trim();
  const secret = $('status-secret').value.trim();
  const message = $('status-message');
  $('status-details').hidden = true;
  try {
    const response = await fetch(`/v1/removal-requests/${encodeURIComponent(number)}`, {
      headers: { 'X-Request-Secret': secret },
      credentials: 'omit',
      cache: 'no-store',
    });
    if (response.status === 401 || response.status === 404) return tell(message, 'status.wrong', {}, 'problem');
    if (!response.ok) return tell(message, 'submit.failed', {}, 'problem');
    state.view = await response.json();
    hush(message);
    renderStatus();
  } catch {
    tell(message, 'submit.failed', {}, 'problem');
  }
}

function renderStatus() {
  const view = state.view;
  if (!view) return;
  tell($('status-details-heading'), `outcome.${view.outcome}`);
  tell($('status-deadline'), view.status === 'open' ? 'status.deadline' : 'status.closed', {
    deadline: localTime(view.deadline_at),
    closed: view.closed_at ? localTime(view.closed_at) : '',
  });
  const items = $('status-items');
  items.replaceChildren();
  for (const item of view.items) {
    const li = document.createElement('li');
    li.dataset.testid = 'status-item';
    const reason = item.reason ? ` ${tr(`reason.${item.reason}`)}` : '';
    li.textContent = `${tr('status.item', { position: item.position + 1 })}: ${tr(`item.${item.status}`)}${reason}`;
    items.append(li);
  }
  tell($('status-copies'), 'status.copies', { count: view.copies_removed });
  $('status-details').hidden = false;
  $('status-details-heading').focus();
}

function followOwn() {
  $('status-number').value = state.own.number;
  $('status-secret').value = state.own.secret;
  location.hash = '#status';
  openStatus();
}

// ---------- start ----------

async function start() {
  const requested = new URLSearchParams(location.search).get('lang');
  // The browser's preferences read as the other pages read them (i18n.js), so all three agree.
  const lang = LANGUAGES.includes(requested) ? requested : preferredLanguage();
  await useLanguage(lang);
  $('language').value = lang;
  $('language').addEventListener('change', async (e) => {
    await useLanguage(e.target.value);
    renderStatus();
  });
  installQuickExit(forgetForExit);
  const listed = await (await fetch('/v1/removal/jurisdictions', { credentials: 'omit' })).json();
  for (const j of listed) state.jurisdictions[j.code] = j;
  for (const input of document.querySelectorAll('input[name="jurisdiction"], input[name="subject"]')) {
    input.addEventListener('change', showWhatTheLawAsks);
  }
  $('file-input').addEventListener('change', (e) => {
    addFiles(e.target.files);
    e.target.value = '';
  });
  $('request-form').addEventListener('submit', send);
  $('status-form').addEventListener('submit', openStatus);
  $('follow-own').addEventListener('click', followOwn);
  window.addEventListener('hashchange', showView);
  showView();
  showWhatTheLawAsks();
  document.body.dataset.ready = 'true';
}

start();
