// Collection intake in the browser (docs/INTAKE.md): a flagger with a `flag` key chooses a folder with one
// sub-folder per person; every file is hashed on this device (hashing.js, as the portal hashes); one case per
// person is filed with only hashes and a signed manifest that names nobody; a hand-over sheet per person is
// shown here to print. Folder and file names never leave this page: they are the women's names.
// The flag key, the secrets, the names and the plan live in this module only. The one thing kept in the
// tab's sessionStorage (gone with the tab, cleared by the quick exit and by "forget everything") is, per
// person filed, her case number, her manifest's SHA-256 and a digest of her set of files: enough to not
// file her twice after a reload, nothing that names her or opens her case.
import { Hasher } from './hashing.js';
import { toHex } from './digest.js';
import { LANGUAGES, preferredLanguage, setLanguage, t, translate } from './i18n.js';
import { MAX_CASE_HASHES } from './media.js';
import { installQuickExit } from './quick-exit.js';
import { SIGNAL_TYPES } from './signals.js';

// The manifests' first lines and signer name: the same as the CLI's (src/redline/intake/manifest.py).
const PERSON_HEADER = 'redline intake manifest v1';
const COLLECTION_HEADER = 'redline intake collection v1';
const SIGNER_NAME = 'redline-flagger';
const TOOL = 'redline portal intake v1';
// Sheet sections: (lang attribute, catalog). The order and languages of the CLI's sheets (intake/sheets.py).
const SHEET_LANGUAGES = [['en', 'en'], ['zh-Hant', 'zh-Hant-HK'], ['zh-Hans', 'zh-Hans']];
const FILED_KEY = 'redline-intake-filed'; // sessionStorage: {persons: {digest: {case_id, manifest_sha256}}, collection}
const ATTESTATION_BOXES = ['intake-attest-adult', 'intake-attest-one-person', 'intake-attest-hand-over'];
const $ = (id) => document.getElementById(id);

const state = {
  flagKey: '', // memory only: read from the field when filing starts
  persons: [], // [{number, label, files: [{file, path, result?, problem?, hashedAt?}], caseId?, secret?, ...}]
  loose: 0, // files directly in the chosen folder: in no person's folder
  hasher: null,
  signer: undefined, // {privateKey, verifier, keyId} once made; null when this browser cannot sign Ed25519
  running: false,
  collection: null, // {sha256} once the collection manifest is logged
  helpServices: {},
  sheetCatalogs: {}, // catalog name -> the sheet's texts in that language
};

// ---------- small helpers ----------

function say(el, key, vars = {}, tone = '') {
  el.dataset.i18n = key;
  el.dataset.i18nVars = JSON.stringify(vars);
  el.textContent = t(key, vars);
  el.classList.remove('problem', 'warn', 'ok');
  if (tone) el.classList.add(tone);
}

function element(tag, props = {}, children = []) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (name === 'dataset') Object.assign(el.dataset, value);
    else if (name in el) el[name] = value;
    else el.setAttribute(name, value);
  }
  for (const c of children) el.append(c);
  return el;
}

const fill = (text, vars) => text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
const utf8 = (text) => new TextEncoder().encode(text);
const base64 = (bytes) => btoa(String.fromCharCode(...bytes));
const nowIso = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');
const sha256Hex = async (bytes) => toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)));

// ---------- signed manifests (C2SP signed notes, as src/redline/evidence/note.py writes them) ----------

/** Python's json.dumps(sort_keys=True, separators=(',', ':'), ensure_ascii=True). */
export function canonicalJson(value) {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${canonicalJson(k)}:${canonicalJson(value[k])}`).join(',')}}`;
  }
  if (typeof value === 'string') {
    return JSON.stringify(value).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  }
  return JSON.stringify(value);
}

/**
 * This page's Ed25519 signing key, made once per page (WebCrypto; Chromium has it since version 137). The
 * private key cannot be exported: it signs this page's manifests and is gone with the page. Null where the
 * browser has no Ed25519: the cases are then filed without a manifest.
 */
async function signer() {
  if (state.signer !== undefined) return state.signer;
  try {
    const pair = await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']);
    const publicKey = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
    const material = new Uint8Array([0x01, ...publicKey]);
    const idInput = new Uint8Array([...utf8(`${SIGNER_NAME}\n`), ...material]);
    const keyId = new Uint8Array(await crypto.subtle.digest('SHA-256', idInput)).slice(0, 4);
    state.signer = { privateKey: pair.privateKey, keyId, verifier: `${SIGNER_NAME}+${toHex(keyId)}+${base64(material)}` };
  } catch {
    state.signer = null;
  }
  return state.signer;
}

/** The signed note: header, one line of canonical JSON naming the signer, a blank line, the signature. */
async function signManifest(header, body) {
  const key = await signer();
  if (!key) return null;
  const text = `${header}\n${canonicalJson({ ...body, signer: key.verifier })}\n`;
  const signature = new Uint8Array(await crypto.subtle.sign({ name: 'Ed25519' }, key.privateKey, utf8(text)));
  return `${text}\n\u2014 ${SIGNER_NAME} ${base64(new Uint8Array([...key.keyId, ...signature]))}\n`;
}

// ---------- the plan: persons and their files ----------

/**
 * One person per top-level sub-folder of the chosen folder, as `redline intake` does. Hidden files and
 * folders (a leading dot) are skipped; files directly in the chosen folder are counted, not taken in.
 */
export function planFolder(files) {
  const byLabel = new Map();
  let loose = 0;
  for (const file of files) {
    const parts = (file.webkitRelativePath || file.name).split('/');
    if (parts.some((p) => p.startsWith('.'))) continue;
    if (parts.length < 3) {
      loose += 1;
      continue;
    }
    const label = parts[1];
    if (!byLabel.has(label)) byLabel.set(label, []);
    byLabel.get(label).push({ file, path: parts.slice(1).join('/') });
  }
  const order = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
  const labels = [...byLabel.keys()].sort(order);
  const persons = labels.map((label, i) => ({
    number: i + 1,
    label,
    files: byLabel.get(label).sort((a, b) => order(a.path, b.path)),
  }));
  return { persons, loose };
}

function chooseFolder(fileList) {
  const { persons, loose } = planFolder(fileList);
  // The same folder chosen again (after an interruption): persons already filed here keep their case and
  // sheet and are not filed again.
  const filed = new Map(state.persons.filter((p) => p.caseId).map((p) => [p.label, p]));
  state.persons = persons.map((p) => (filed.has(p.label) ? { ...filed.get(p.label), number: p.number } : p));
  // Filed persons missing from the new choice stay too: their sheets must not vanish before printing.
  for (const p of filed.values()) if (!persons.some((q) => q.label === p.label)) state.persons.push(p);
  state.loose = loose;
  const count = state.persons.reduce((sum, p) => sum + p.files.length, 0);
  const plan = $('plan');
  if (!state.persons.length) say(plan, 'intake.plan.none', {}, 'problem');
  else say(plan, loose ? 'intake.plan.loose' : 'intake.plan', { persons: state.persons.length, files: count, loose });
  renderSummary();
}

// ---------- hashing ----------

function hasher() {
  if (!state.hasher) state.hasher = new Hasher({ background: '#ffffff' });
  return state.hasher;
}

async function hashAll() {
  const todo = state.persons.filter((p) => !p.caseId).flatMap((p) => p.files).filter((f) => !f.result && !f.problem);
  const progress = $('intake-progress');
  const status = $('intake-status');
  let done = 0;
  let shown = 0;
  progress.hidden = false;
  progress.max = Math.max(1, todo.length);
  progress.value = 0;
  say(status, 'intake.hashing', { done, total: todo.length });
  await Promise.all(todo.map(async (f) => {
    try {
      f.result = await hasher().hash(f.file);
      f.hashedAt = nowIso();
    } catch (err) {
      f.problem = err.problem || 'unreadable';
    }
    done += 1;
    progress.value = done;
    // A screen reader hears the count every few seconds, not after every file.
    if (done === todo.length || performance.now() - shown > 2000) {
      shown = performance.now();
      say(status, 'intake.hashing', { done, total: todo.length });
    }
  }));
}

// ---------- what this tab filed before a reload ----------

function filedBefore() {
  try {
    const kept = JSON.parse(sessionStorage.getItem(FILED_KEY) || '{}');
    return { persons: kept.persons || {}, collection: kept.collection || null };
  } catch {
    return { persons: {}, collection: null };
  }
}

function keepFiled(change) {
  const kept = filedBefore();
  change(kept);
  sessionStorage.setItem(FILED_KEY, JSON.stringify(kept));
}

/** Which person a digest stands for, without naming her: the SHA-256 of her files' sorted SHA-256s. */
async function personDigest(files) {
  return sha256Hex(utf8(files.map((f) => f.sha256).sort().join('\n')));
}

// ---------- filing ----------

/** Each person's hashes and public manifest files, and her counts; duplicates by SHA-256, sent once. */
export function personPayload(person, owners) {
  const counts = { files: person.files.length, hashed: 0, failed: {}, dupWithin: 0, dupAcross: 0 };
  const seen = new Map();
  const sent = new Set();
  const hashes = [];
  const files = [];
  for (const f of person.files) {
    if (!f.result) {
      const code = f.problem || 'not-hashed';
      counts.failed[code] = (counts.failed[code] || 0) + 1;
      continue;
    }
    const r = f.result;
    counts.hashed += 1;
    if ((owners.get(r.sha256) || new Set()).size > 1) counts.dupAcross += 1;
    if (seen.has(r.sha256)) {
      counts.dupWithin += 1;
      continue;
    }
    const item = seen.size;
    seen.set(r.sha256, item);
    for (const kind of SIGNAL_TYPES) {
      for (const hash of kind.stored(r)) {
        const key = `${kind.name}:${hash.value}`;
        if (!sent.has(key)) {
          sent.add(key);
          hashes.push({ type: kind.name, ...hash, item });
        }
      }
    }
    files.push({
      item, sha256: r.sha256, md5: r.md5, pdq: r.pdq ? r.pdq.hash : null, size: f.file.size,
      media_type: r.kind, hashed_at: f.hashedAt,
    });
  }
  return { counts, hashes, files };
}

function owners() {
  const found = new Map();
  for (const p of state.persons) {
    for (const f of p.files) {
      if (!f.result) continue;
      if (!found.has(f.result.sha256)) found.set(f.result.sha256, new Set());
      found.get(f.result.sha256).add(p.label);
    }
  }
  return found;
}

class KeyRefused extends Error {}

/** A person filed before a reload has no sheet: withdraw that case (the flag key may, before she claims),
 * so that pressing the button again files her anew, with a sheet. */
async function withdrawEarlier(person) {
  state.flagKey = $('flag-key').value.trim();
  if (!state.flagKey) return say($('intake-status'), 'intake.needKey', {}, 'problem');
  let response;
  try {
    response = await post(`/v1/intake/cases/${encodeURIComponent(person.caseId)}/withdraw`, {});
  } catch {
    response = null;
  }
  if (response && response.ok) {
    keepFiled((kept) => {
      delete kept.persons[person.digest];
    });
    Object.assign(person, { caseId: null, manifestSha256: null, earlier: false, note: { key: 'intake.note.withdrawn' } });
  } else {
    person.note = { key: 'intake.note.withdrawFailed', vars: { status: response ? response.status : '-' } };
  }
  renderSummary();
  // The pressed button is gone with the old row: the next step is the start button.
  if (!person.earlier) $('intake-start').focus();
}

async function post(path, body) {
  return fetch(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${state.flagKey}` },
    body: JSON.stringify(body),
    credentials: 'omit',
    cache: 'no-store',
  });
}

async function detail(response) {
  try {
    return String((await response.json()).detail || '');
  } catch {
    return '';
  }
}

async function filePerson(person, found) {
  const { counts, hashes, files } = personPayload(person, found);
  person.counts = counts;
  if (person.caseId) return;
  person.note = null;
  if (!hashes.length) return (person.note = { key: 'intake.note.nothing' });
  person.digest = await personDigest(files);
  const before = filedBefore().persons[person.digest];
  if (before) {
    // Filed by this tab before a reload: not again. Her sheet's secret was not kept (it never is).
    Object.assign(person, { caseId: before.case_id, manifestSha256: before.manifest_sha256, earlier: true });
    return (person.note = { key: 'intake.note.earlier' });
  }
  if (hashes.length > MAX_CASE_HASHES) return (person.note = { key: 'intake.note.tooMany', vars: { count: hashes.length, max: MAX_CASE_HASHES } });
  // The manifest names nobody: hashes, sizes, kinds, times. The CLI's also carries the SHA-256 of an
  // encrypted list of file names kept by the flagger; this page keeps nothing, so it has none.
  const manifest = await signManifest(PERSON_HEADER, { tool: TOOL, made_at: nowIso(), files });
  let response;
  try {
    response = await post('/v1/intake/cases', manifest ? { hashes, manifest } : { hashes });
  } catch {
    return (person.note = { key: 'intake.note.unreachable' });
  }
  if (response.status === 401 || response.status === 403) throw new KeyRefused(String(response.status));
  if (response.status !== 201) {
    return (person.note = { key: 'intake.note.refused', vars: { status: response.status, detail: await detail(response) } });
  }
  const created = await response.json();
  Object.assign(person, {
    caseId: created.case_id,
    secret: created.secret,
    known: created.known_items,
    manifestSha256: manifest ? await sha256Hex(utf8(manifest)) : null,
  });
  keepFiled((kept) => {
    kept.persons[person.digest] = { case_id: person.caseId, manifest_sha256: person.manifestSha256 };
  });
  renderSheets();
}

/** Once every person with hashes is filed: the collection manifest, signed, its SHA-256 logged. */
async function logCollection() {
  const status = $('collection-status');
  const key = await signer();
  if (!key) return say(status, 'intake.collection.unsigned', {}, 'warn');
  state.collection = state.collection || filedBefore().collection;
  if (state.collection) return say(status, 'intake.collection.logged', { sha256: state.collection.sha256 }, 'ok');
  if (state.persons.some((p) => !p.caseId && p.counts && p.counts.hashed)) return;
  const filed = state.persons.filter((p) => p.caseId);
  if (!filed.length) return;
  const persons = filed.map((p) => ({ case_id: p.caseId, manifest_sha256: p.manifestSha256, files: p.counts.hashed }));
  const manifest = await signManifest(COLLECTION_HEADER, { tool: TOOL, made_at: nowIso(), persons });
  try {
    const response = await post('/v1/intake/collections', { manifest });
    if (response.status !== 201) return say(status, 'intake.collection.failed', {}, 'warn');
    state.collection = { sha256: (await response.json()).manifest_sha256 };
    keepFiled((kept) => {
      kept.collection = state.collection;
    });
    say(status, 'intake.collection.logged', { sha256: state.collection.sha256 }, 'ok');
  } catch {
    say(status, 'intake.collection.failed', {}, 'warn');
  }
}

async function start(event) {
  event.preventDefault();
  if (state.running) return;
  const status = $('intake-status');
  state.flagKey = $('flag-key').value.trim();
  if (!state.flagKey) {
    say(status, 'intake.needKey', {}, 'problem');
    return $('flag-key').focus();
  }
  if (!ATTESTATION_BOXES.every((id) => $(id).checked)) return say(status, 'intake.needAttest', {}, 'problem');
  if (!state.persons.length) return say(status, 'intake.needFolder', {}, 'problem');
  state.running = true;
  $('intake-start').setAttribute('aria-disabled', 'true');
  $('folder-input').disabled = true; // another folder chosen mid-run would mix two plans
  document.body.dataset.intake = 'running';
  try {
    await hashAll();
    say(status, 'intake.filing');
    const found = owners();
    for (const person of state.persons) {
      await filePerson(person, found);
      renderSummary();
    }
    await logCollection();
    const missing = state.persons.filter((p) => !p.caseId && p.counts && p.counts.hashed).length;
    const earlier = state.persons.filter((p) => p.earlier).length;
    if (missing) say(status, 'intake.done.partial', { count: missing }, 'warn');
    else if (earlier) say(status, 'intake.done.earlier', { count: earlier }, 'warn');
    else say(status, 'intake.done', { count: state.persons.filter((p) => p.caseId).length }, 'ok');
  } catch (err) {
    if (err instanceof KeyRefused) say(status, 'intake.keyRefused', { status: err.message }, 'problem');
    else say(status, 'intake.failed', {}, 'problem');
  } finally {
    state.running = false;
    $('intake-start').setAttribute('aria-disabled', 'false');
    $('folder-input').disabled = false;
    $('intake-progress').hidden = true;
    renderSummary();
    document.body.dataset.intake = 'done';
    $('summary-heading').focus();
  }
}

// ---------- summary ----------

function failedCell(person) {
  const failed = person.files.filter((f) => f.problem);
  if (!failed.length) return [person.counts ? '0' : '–'];
  const codes = {};
  for (const f of failed) codes[f.problem] = (codes[f.problem] || 0) + 1;
  const text = Object.entries(codes).map(([code, n]) => t('intake.failedCount', { reason: t(`intake.problem.${code}`), count: n })).join('; ');
  // Which files: shown here only, so the flagger can find them.
  const list = element('ul', {}, failed.map((f) => element('li', { textContent: `${f.path}: ${t(`intake.problem.${f.problem}`)}` })));
  return [text, element('details', {}, [element('summary', { textContent: t('intake.failedFiles') }), list])];
}

function caseCell(person) {
  const parts = [];
  if (person.caseId) parts.push(element('code', { textContent: person.caseId }));
  if (person.note) parts.push(element('p', { class: 'note', textContent: t(person.note.key, person.note.vars || {}) }));
  if (person.earlier) {
    const again = element('button', { type: 'button', dataset: { testid: 'withdraw-earlier' } });
    say(again, 'intake.withdrawEarlier');
    again.setAttribute('aria-label', `${t('intake.withdrawEarlier')}: ${person.caseId}`);
    again.addEventListener('click', () => withdrawEarlier(person));
    parts.push(again);
  }
  return parts.length ? parts : ['–'];
}

function renderSummary() {
  const rows = state.persons.map((p) => {
    const c = p.counts;
    const cell = (children, props = {}) => element('td', props, Array.isArray(children) ? children : [String(children)]);
    return element('tr', { dataset: { testid: 'summary-row', person: String(p.number), filed: p.caseId ? 'true' : 'false' } }, [
      cell(p.number),
      element('th', { scope: 'row', textContent: p.label }),
      cell(p.files.length),
      cell(c ? c.hashed : '–', { dataset: { col: 'hashed' } }),
      cell(failedCell(p), { dataset: { col: 'failed' } }),
      cell(c ? c.dupWithin : '–', { dataset: { col: 'dup-within' } }),
      cell(c ? c.dupAcross : '–', { dataset: { col: 'dup-across' } }),
      cell(p.known ?? '–', { dataset: { col: 'known' } }),
      cell(caseCell(p), { dataset: { col: 'case' } }),
    ]);
  });
  $('summary-rows').replaceChildren(...rows);
  $('summary').hidden = !state.persons.length;
  $('print-all').hidden = !state.persons.some((p) => p.secret);
  $('forget').hidden = !state.persons.some((p) => p.caseId);
}

// ---------- hand-over sheets ----------

async function loadSheetCatalogs() {
  for (const [, name] of SHEET_LANGUAGES) {
    const response = await fetch(new URL(`./locales/${name}.json`, import.meta.url));
    state.sheetCatalogs[name] = await response.json();
  }
}

function servicesList(services) {
  return element('ul', {}, services.map((s) => {
    const parts = [element('strong', { textContent: s.name })];
    if (s.description) parts.push(` — ${s.description}`);
    if (s.phone) parts.push(` — ☎ ${s.phone}`);
    if (s.url) parts.push(` — ${s.url}`);
    return element('li', {}, parts);
  }));
}

/** One person's sheet: the CLI's sheet (intake/sheets.py), its texts from the three catalogs. */
function sheet(person) {
  const portal = location.origin;
  const label = `${person.label} · person-${String(person.number).padStart(3, '0')}`;
  const print = element('button', { type: 'button', class: 'print-one', dataset: { testid: 'print-sheet' } });
  say(print, 'intake.printOne', { number: person.number });
  print.addEventListener('click', () => printSheets(article));
  const pages = SHEET_LANGUAGES.map(([lang, name], index) => {
    const c = state.sheetCatalogs[name];
    const text = (key) => fill(c[`intake.sheet.${key}`], { portal });
    const services = state.helpServices[name] || state.helpServices.en || [];
    const top = index === 0 ? [element('p', { class: 'for', dataset: { testid: 'sheet-for' }, textContent: label })] : [];
    return element('section', { class: 'sheet-page', lang }, [
      ...top,
      element('h3', { textContent: text('heading') }),
      element('p', { textContent: text('what') }),
      element('p', { class: 'credentials' }, [
        `${text('caseLabel')}: `, element('span', { dataset: { testid: 'sheet-case' }, textContent: person.caseId }),
        element('br'),
        `${text('keyLabel')}: `, element('span', { dataset: { testid: 'sheet-secret' }, textContent: person.secret }),
      ]),
      element('h4', { textContent: text('canDo') }),
      element('ol', {}, ['do.1', 'do.2', 'do.3'].map((k) => element('li', { textContent: text(k) }))),
      element('h4', { textContent: text('withdrawHeading') }),
      element('p', { textContent: text('withdraw') }),
      element('h4', { textContent: text('helpHeading') }),
      servicesList(services),
      element('p', {}, [element('strong', { textContent: text('keepSafe') })]),
    ]);
  });
  const article = element('article', { class: 'sheet', dataset: { testid: 'sheet', person: String(person.number) } }, [print, ...pages]);
  return article;
}

function renderSheets() {
  const filed = state.persons.filter((p) => p.caseId && p.secret);
  $('sheet-list').replaceChildren(...filed.map(sheet));
  $('sheets').hidden = !filed.length;
}

/** Print every sheet, or only `one` (the others are hidden while the print dialog is open). */
function printSheets(one = null) {
  document.body.classList.toggle('print-one', !!one);
  if (one) one.classList.add('print-target');
  window.addEventListener('afterprint', () => {
    document.body.classList.remove('print-one');
    if (one) one.classList.remove('print-target');
  }, { once: true });
  window.print();
}

function holdsSecrets() {
  return state.persons.some((p) => p.secret);
}

function forgetFiled() {
  try {
    sessionStorage.removeItem(FILED_KEY);
  } catch {
    // storage disabled: nothing was kept
  }
}

/** After printing: forget the secrets, the plan, the key. A new folder can be chosen. */
function forget() {
  if (state.hasher) state.hasher.close();
  state.hasher = null;
  state.persons = [];
  state.loose = 0;
  state.collection = null;
  state.flagKey = '';
  forgetFiled();
  $('flag-key').value = '';
  $('folder-input').value = '';
  $('plan').textContent = '';
  $('intake-status').textContent = '';
  $('collection-status').textContent = '';
  renderSheets();
  renderSummary();
  $('folder-input').focus();
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

function renderHelpServices() {
  const lang = document.documentElement.lang;
  const services = state.helpServices[lang] || state.helpServices.en || [];
  $('help-services').replaceChildren(...services.map((s) => {
    const parts = [element('strong', { textContent: s.name })];
    if (s.description) parts.push(` ${s.description}`);
    if (s.phone) parts.push(' ', element('a', { href: `tel:${s.phone.replace(/[^0-9+]/g, '')}`, textContent: s.phone }));
    if (s.url && s.url.startsWith('https://')) {
      parts.push(' ', element('a', { href: s.url, rel: 'noreferrer noopener', target: '_blank', textContent: new URL(s.url).host.replace(/^www\./, '') }));
    }
    return element('li', {}, parts);
  }));
}

// ---------- quick exit (quick-exit.js, as on the portal) ----------

function warnBeforeLeaving(event) {
  // The sheets' secrets exist only on this page: a reload or a closed tab loses them.
  if (state.running || holdsSecrets()) {
    event.preventDefault();
    event.returnValue = ''; // older browsers ask only when this is set
  }
}

/** What the quick exit forgets before it leaves (without asking first): the plan, the key, what the tab kept. */
function forgetForExit() {
  window.removeEventListener('beforeunload', warnBeforeLeaving);
  if (state.hasher) state.hasher.close();
  state.persons = [];
  state.flagKey = '';
  forgetFiled();
}

// ---------- wiring ----------

async function init() {
  const requested = new URLSearchParams(location.search).get('lang');
  const lang = LANGUAGES.includes(requested) ? requested : preferredLanguage();
  await setLanguage(lang);
  $('language').value = lang;
  $('language').addEventListener('change', async (e) => {
    await setLanguage(e.target.value);
    translate(document);
    renderSummary();
    renderHelpServices();
  });
  installQuickExit(forgetForExit);
  window.addEventListener('beforeunload', warnBeforeLeaving);
  $('folder-input').addEventListener('change', (e) => chooseFolder(e.target.files));
  $('intake-form').addEventListener('submit', start);
  $('print-all').addEventListener('click', () => printSheets());
  $('forget').addEventListener('click', forget);
  await Promise.all([loadHelpServices(), loadSheetCatalogs()]);
  document.body.dataset.ready = 'true';
}

init();
