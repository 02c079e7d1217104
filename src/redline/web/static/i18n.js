// Message catalogs (locales/*.json) and the page's language. Every visible string comes from a catalog:
// elements carry data-i18n="key" (text; placeholders from data-i18n-vars, JSON) or data-i18n-attr="attr:key;attr:key" (attributes).
// The chosen language is kept in memory only (the portal stores nothing in the browser); links to the portal's
// other pages carry it as `?lang=` (portal-links.js).
import { linkPages } from './portal-links.js';

export const LANGUAGES = ['en', 'zh-Hant-HK', 'zh-Hans'];
let catalog = {};
let fallback = {};
let current = 'en';

/** The best supported language for the browser's preferences. */
export function preferredLanguage(preferences = navigator.languages || [navigator.language]) {
  for (const pref of preferences) {
    const p = (pref || '').toLowerCase();
    if (p === 'en' || p.startsWith('en-')) return 'en';
    if (/^zh-(hant|hk|tw|mo)/.test(p)) return 'zh-Hant-HK';
    if (p.startsWith('zh')) return 'zh-Hans';
  }
  return 'en';
}

async function load(lang) {
  const response = await fetch(new URL(`./locales/${lang}.json`, import.meta.url));
  if (!response.ok) throw new Error(`catalog ${lang}: ${response.status}`);
  return response.json();
}

export async function setLanguage(lang) {
  if (!LANGUAGES.includes(lang)) lang = 'en';
  if (!Object.keys(fallback).length) fallback = await load('en');
  catalog = lang === 'en' ? fallback : await load(lang);
  current = lang;
  document.documentElement.lang = lang;
  translate(document);
  linkPages(lang);
}

export function language() {
  return current;
}

/** The message for `key`, with {name} placeholders filled from `vars`. */
export function t(key, vars = {}) {
  const text = catalog[key] ?? fallback[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
}

export function translate(root) {
  const own = root.matches?.('[data-i18n]') ? [root] : [];
  for (const el of [...own, ...root.querySelectorAll('[data-i18n]')]) {
    el.textContent = t(el.dataset.i18n, el.dataset.i18nVars ? JSON.parse(el.dataset.i18nVars) : {});
  }
  for (const el of root.querySelectorAll('[data-i18n-attr]')) {
    for (const pair of el.dataset.i18nAttr.split(';')) {
      const [attr, key] = pair.split(':');
      el.setAttribute(attr, t(key));
    }
  }
}
