// CloudFront Function (runtime cloudfront-js-2.0), viewer request, deployed as is.
//
// Gives requests the service treats as equal one spelling, so they share one edge cache object:
//   Accept     -> image/avif | image/webp | */*  (the three classes fm=auto tells apart)
//   /800x600/k -> /k?h=600&w=800                 (the classic size folder)
//   ?width=800&format=webp -> ?fm=webp&w=800     (aliases to table names, sorted by name, value)
// It never changes what the origin answers. When in doubt it only sorts the query: a signed URL
// (its signature covers the path and the names as sent), a parameter given twice, a name with an
// escape (it may decode to anything), a renaming that would collide, a size in both path and query.
// Mirrors src/transform/format.ts (negotiateFormat), src/request/parse-request.ts (CLASSIC_SIZE,
// interpretTarget) and src/transform/operations.ts (OPERATIONS); test/edge checks them against it.
// The runtime is ES 5.1 plus let/const and arrows: no for-of, spread, destructuring or modules.

'use strict'; // as CloudFront runs it anyway; here so that tests run the same

// Every parameter name the service knows, lower case, to its table name (OPERATIONS).
const PARAM_NAMES = {
  w: 'w', width: 'w',
  h: 'h', height: 'h',
  fit: 'fit',
  pos: 'pos', position: 'pos', crop: 'pos', gravity: 'pos',
  fm: 'fm', format: 'fm', f: 'fm',
  q: 'q', quality: 'q',
  dpr: 'dpr',
  bg: 'bg', background: 'bg',
  blur: 'blur',
  sharpen: 'sharpen',
  gray: 'gray', grey: 'gray', grayscale: 'gray', greyscale: 'gray',
  rot: 'rot', rotate: 'rot', or: 'rot',
  flip: 'flip',
  flop: 'flop',
  enlarge: 'enlarge', upscale: 'enlarge',
  rect: 'rect', 'crop-rect': 'rect',
  fp: 'fp', focalpoint: 'fp', focal: 'fp',
  ar: 'ar', 'aspect-ratio': 'ar',
  trim: 'trim',
  pad: 'pad', padding: 'pad',
  maxbytes: 'maxbytes', 'max-bytes': 'maxbytes',
  meta: 'meta', metadata: 'meta',
  mark: 'mark', watermark: 'mark',
  markpos: 'markpos', 'mark-pos': 'markpos',
  markscale: 'markscale', 'mark-scale': 'markscale',
  markalpha: 'markalpha', 'mark-alpha': 'markalpha',
  markpad: 'markpad', 'mark-pad': 'markpad',
};

// `800x600`, `800x`, `x600`, `0x600`: at least one digit, so a folder named `x` stays a folder.
const CLASSIC_SIZE = /^(?=\d|x\d)(\d{0,5})x(\d{0,5})$/i;

function handler(event) {
  const request = event.request;
  try {
    normalizeAccept(request);
  } catch (e) {
    // Leave Accept as sent.
  }
  try {
    canonicalizeTarget(request);
  } catch (e) {
    // Leave the path and query as sent.
  }
  return request;
}

// API Gateway joins repeated headers with commas; negotiateFormat then reads explicit types
// only, and q=0 (any spelling Number() reads as 0) refuses one. A missing Accept is `*/*` too.
function normalizeAccept(request) {
  const headers = request.headers;
  if (!headers || typeof headers !== 'object') return;
  const field = headers.accept;
  let accept = '';
  if (field && field.multiValue && field.multiValue.length) {
    accept = field.multiValue.map((v) => v.value).join(',');
  } else if (field && typeof field.value === 'string') {
    accept = field.value;
  }
  let avif = false;
  let webp = false;
  const parts = String(accept).toLowerCase().split(',');
  for (let i = 0; i < parts.length; i++) {
    const bits = parts[i].split(';').map((s) => s.trim());
    const q = bits.slice(1).filter((p) => p.indexOf('q=') === 0)[0];
    if (q !== undefined && Number(q.slice(2)) === 0) continue;
    if (bits[0] === 'image/avif') avif = true;
    if (bits[0] === 'image/webp') webp = true;
  }
  const value = avif ? 'image/avif' : webp ? 'image/webp' : '*/*';
  headers.accept = field && field.multiValue ? { value: value, multiValue: [{ value: value }] } : { value: value };
}

function canonicalizeTarget(request) {
  const uri = request.uri;
  const querystring = request.querystring;
  // `/_…` are the service's own routes (e.g. /_playground): their path and query pass as sent.
  if (typeof uri !== 'string' || uri.charAt(0) !== '/' || uri.indexOf('/_') === 0) return;
  if (!querystring || typeof querystring !== 'object') return;

  // Names and values arrive as the viewer sent them (still percent-encoded) and go on that way.
  const entries = [];
  let plain = true;
  Object.keys(querystring).forEach((name) => {
    if (name === '__proto__') throw new Error('unrepresentable name');
    const field = querystring[name];
    const values = field.multiValue && field.multiValue.length ? field.multiValue.map((v) => v.value) : [field.value];
    values.forEach((value) => {
      if (typeof value !== 'string') throw new Error('not a string');
      entries.push([name, value]);
    });
    if (values.length > 1 || /[%+]/.test(name) || name.toLowerCase() === 's') plain = false;
  });

  let path = uri;
  let result = sortEntries(entries);
  if (plain) {
    const renamed = sortEntries(entries.map((e) => [tableName(e[0]), e[1]]));
    const size = classicSize(uri);
    const added = size ? sizeEntries(size.match) : [];
    const clash = added.some((a) => renamed.some((e) => e[0] === a[0]));
    if (!hasDuplicate(renamed) && !clash) {
      result = sortEntries(renamed.concat(added));
      if (size) path = size.rest;
    }
  }

  const out = {};
  result.forEach((e) => {
    const field = Object.prototype.hasOwnProperty.call(out, e[0]) ? out[e[0]] : null;
    if (!field) {
      out[e[0]] = { value: e[1] };
    } else {
      if (!field.multiValue) field.multiValue = [{ value: field.value }];
      field.multiValue.push({ value: e[1] });
    }
  });
  request.uri = path;
  request.querystring = out;
}

function tableName(name) {
  const lower = name.toLowerCase();
  return Object.prototype.hasOwnProperty.call(PARAM_NAMES, lower) ? PARAM_NAMES[lower] : name;
}

// The first segment, if it is a size and a key follows it (the origin reads the same from the
// decoded path; a segment with an escape never matches here and is left to the origin). Not when
// the origin would read a size again at the front of the key: `/800x/600x/a.jpg`.
function classicSize(uri) {
  const slash = uri.indexOf('/', 1);
  if (slash < 2 || slash === uri.length - 1) return null;
  const match = CLASSIC_SIZE.exec(uri.slice(1, slash));
  if (!match) return null;
  const key = decodeURIComponent(uri.slice(slash + 1));
  const next = key.indexOf('/');
  return next > 0 && CLASSIC_SIZE.test(key.slice(0, next)) ? null : { match: match, rest: uri.slice(slash) };
}

// 0 or empty means "not set"; `0800` is 800, as the service's integer parsing reads it.
function sizeEntries(match) {
  const added = [];
  if (match[1] && Number(match[1]) !== 0) added.push(['w', String(Number(match[1]))]);
  if (match[2] && Number(match[2]) !== 0) added.push(['h', String(Number(match[2]))]);
  return added;
}

function sortEntries(entries) {
  return entries.slice().sort((a, b) => compare(a[0], b[0]) || compare(a[1], b[1]));
}

function compare(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}

function hasDuplicate(sorted) {
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i][0] === sorted[i - 1][0]) return true;
  }
  return false;
}
