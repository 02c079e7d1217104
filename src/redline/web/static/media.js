// What the portal accepts, shared by the page and the hashing worker.

export const LIMITS = {
  imageBytes: 512 * 1024 * 1024, // same as the server's REDLINE_MAX_FILE_BYTES default
  imagePixels: 100_000_000, // same as REDLINE_MAX_PIXELS: a guard against decompression bombs
  videoBytes: 8 * 1024 * 1024 * 1024, // videos are only read in chunks, never held in memory
};

export const QUALITY_THRESHOLD = 50; // below this a PDQ hash matches unreliably (server: PdqSignal.min_quality)

// Crops hashed with each picture so cropped copies still match (server: signals/robust.py STORED_REGIONS;
// docs/ROBUSTNESS.md). Sent as `pdq_region` hashes with the whole picture's hash ('full'). A ladder of
// sizes; the deepest rung is also stored shifted on a 3x3 grid, because a crop that keeps 60% of a photo
// can sit anywhere in it.
export const REGION_SCALES = [0.9, 0.81, 0.73, 0.53];
export const REGION_GRID_STEPS = { 0.53: 0.07 };

// The four quadrants too: a sticker or caption usually leaves one of them untouched.
export const QUADRANT_SHIFTS = [-0.25, 0.25];
/** The four quadrants (top-left, top-right, bottom-left, bottom-right): the last of STORED_REGIONS, and
 * what each video frame stores besides its whole (server: signals/video_frames.py QUADRANTS). */
export const FRAME_QUADRANTS = QUADRANT_SHIFTS.flatMap((dy) =>
  QUADRANT_SHIFTS.map((dx) => ({ scale: 0.5, dx, dy })),
);

// Strips along the left, right and top edges (a fraction `depth` of the width or height): a tool that
// repaints the middle of a photo leaves them alone (server: robust.STORED_BANDS).
export const STORED_BANDS = [
  { band: 'left', depth: 0.1 },
  { band: 'right', depth: 0.1 },
  { band: 'top', depth: 0.2 },
];

/**
 * [{scale, dx, dy}] in robust.STORED_REGIONS order: each rung centred, then (for grid rungs) the other 8
 * places, then the four quadrants; then the edge strips, [{band, depth}].
 */
export const STORED_REGIONS = [
  ...REGION_SCALES.flatMap((scale) => {
    const step = REGION_GRID_STEPS[scale];
    if (step === undefined) return [{ scale, dx: 0, dy: 0 }];
    const places = [0, -step, step];
    return places.flatMap((dy) => places.map((dx) => ({ scale, dx, dy })));
  }),
  ...FRAME_QUADRANTS,
  ...STORED_BANDS,
];

// Largest number of hashes in one submission (server: api/schemas.py MAX_CASE_HASHES); app.js says how many
// pictures that is (HASHES_PER_PICTURE).
export const MAX_CASE_HASHES = 10_000;

const ascii = (bytes, from, to) => String.fromCharCode(...bytes.subarray(from, to));

/** 'image', 'video' or null from a file's first bytes (file names and MIME types can lie). */
export function sniffKind(head) {
  if (head.length < 12) return null;
  if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'image'; // JPEG
  if (head[0] === 0x89 && ascii(head, 1, 4) === 'PNG') return 'image';
  if (ascii(head, 0, 4) === 'GIF8') return 'image';
  if (head[0] === 0x42 && head[1] === 0x4d) return 'image'; // BMP
  if (ascii(head, 0, 4) === 'RIFF' && ascii(head, 8, 12) === 'WEBP') return 'image';
  if (ascii(head, 0, 4) === 'RIFF' && ascii(head, 8, 12) === 'AVI ') return 'video';
  if (head[0] === 0x1a && head[1] === 0x45 && head[2] === 0xdf && head[3] === 0xa3) return 'video'; // WebM/MKV
  if (ascii(head, 4, 8) === 'ftyp') {
    const brand = ascii(head, 8, 12);
    if (brand === 'avif' || brand === 'avis') return 'image';
    if (['heic', 'heix', 'mif1', 'msf1', 'hevc'].includes(brand)) return null; // HEIC: browsers cannot decode it
    return 'video'; // isom, mp41, mp42, qt, M4V, 3gp...
  }
  return null;
}

// ---------- videos (server: signals/video.py, signals/video_frames.py; docs/PORTAL.md) ----------

export const VIDEO = {
  side: 320, // frames are drawn at 320x320 (stretched), as the server's FFmpeg decode makes them
  sampleStep: 0.25, // candidate moments every 0.25 s (the server samples 4 a second) ...
  storedInterval: 1.0, // ... one kept per second at most ...
  denseFrames: 8, // ... except the first 8 kept, which may be at any candidate moment ...
  dedupeDistance: 16, // ... and only when it differs from the last kept frame by more than this
  maxFrames: 900, // a longer video is thinned evenly to this many
  maxSeconds: 3 * 3600, // only the first 3 hours are hashed
  seekTimeoutMs: 5000, // a moment the browser cannot seek to in time is skipped
};

/** Evenly thinned to at most `cap` (server: signals/video.py _evenly). */
export function evenly(frames, cap) {
  if (frames.length <= cap) return frames;
  const step = frames.length / cap;
  return Array.from({ length: cap }, (_, i) => frames[Math.floor(i * step)]);
}

const BG_TOLERANCE = 8;
const PHOTO_ROW_SHARE = 0.5;
const MIN_BOX_AREA = 0.12;
const SAME_BOX = 0.015;

function longestRun(mask, maxGap) {
  let best = null;
  let start = -1;
  let last = -1;
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    if (start < 0 || i - last - 1 > maxGap) start = i;
    last = i;
    if (best === null || last + 1 - start > best[1] - best[0]) best = [start, last + 1];
  }
  return best;
}

/**
 * The picture inside a uniform surround of an RGBA frame (letterbox bars, an app's frame around a screen
 * recording), as [left, top, right, bottom] fractions, or null: server signals/robust_geometry.py
 * background_box on a frame of at most 400 px (no reduction), step for step.
 */
export function contentBox(rgba, width, height) {
  const px = (x, y) => 4 * (y * width + x);
  const edge = [];
  for (let x = 0; x < width; x++) edge.push(px(x, 0));
  for (let x = 0; x < width; x++) edge.push(px(x, height - 1));
  for (let y = 0; y < height; y++) edge.push(px(0, y));
  for (let y = 0; y < height; y++) edge.push(px(width - 1, y));
  const keyOf = (i) => (rgba[i] >> 3) * 1024 + (rgba[i + 1] >> 3) * 32 + (rgba[i + 2] >> 3);
  const counts = new Map();
  for (const i of edge) counts.set(keyOf(i), (counts.get(keyOf(i)) || 0) + 1);
  let key = -1;
  let most = 0;
  for (const [k, n] of counts) if (n > most || (n === most && k < key)) [key, most] = [k, n];
  if (most < 0.3 * edge.length) return null;
  const bg = [0, 0, 0];
  for (const i of edge) if (keyOf(i) === key) for (let c = 0; c < 3; c++) bg[c] += rgba[i + c];
  for (let c = 0; c < 3; c++) bg[c] /= most;
  const differs = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = px(x, y);
      let far = 0;
      for (let c = 0; c < 3; c++) far = Math.max(far, Math.abs(rgba[i + c] - bg[c]));
      differs[y * width + x] = far > BG_TOLERANCE ? 1 : 0;
    }
  }
  const rowShare = (x0, x1) =>
    Array.from({ length: height }, (_, y) => {
      let n = 0;
      for (let x = x0; x < x1; x++) n += differs[y * width + x];
      return n / (x1 - x0) >= PHOTO_ROW_SHARE;
    });
  const colShare = (y0, y1) =>
    Array.from({ length: width }, (_, x) => {
      let n = 0;
      for (let y = y0; y < y1; y++) n += differs[y * width + x];
      return n / (y1 - y0) >= PHOTO_ROW_SHARE;
    });
  const rowGap = Math.max(2, Math.floor(height / 100));
  const colGap = Math.max(2, Math.floor(width / 100));
  let rows = longestRun(rowShare(0, width), rowGap);
  if (!rows) return null;
  const cols = longestRun(colShare(rows[0], rows[1]), colGap);
  if (!cols) return null;
  rows = longestRun(rowShare(cols[0], cols[1]), rowGap);
  if (!rows) return null;
  const box = [cols[0] / width, rows[0] / height, cols[1] / width, rows[1] / height];
  if ((box[2] - box[0]) * (box[3] - box[1]) < MIN_BOX_AREA) return null;
  if (box[0] < SAME_BOX && box[1] < SAME_BOX && box[2] > 1 - SAME_BOX && box[3] > 1 - SAME_BOX) return null;
  return box;
}

// A bar line: this flat (largest spread of its grey values) and dark (mean grey at most BAR_DARK) or of the
// edge line's grey; bars together at least BAR_MIN_SHARE of a side (server: video_frames.bars_box).
const BAR_SPREAD = 12;
const BAR_DARK = 48;
const BAR_MIN_SHARE = 0.02;

/** How many leading lines are bar; `line(k)` gives line k's grey values (server: video_frames._bars). */
function leadingBars(count, line) {
  let edge = null;
  for (let k = 0; k < count; k++) {
    const values = line(k);
    let lo = 255;
    let hi = 0;
    let sum = 0;
    for (const v of values) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
      sum += v;
    }
    const mean = sum / values.length;
    if (edge === null) edge = mean;
    if (hi - lo > BAR_SPREAD || (mean > BAR_DARK && Math.abs(mean - edge) > BAR_SPREAD)) return k;
  }
  return count;
}

/**
 * The picture inside flat bars (rows from the top and bottom, then columns from the sides between them,
 * each flat and dark or of its edge's grey), as [left, top, right, bottom] fractions, or null: server
 * signals/video_frames.py bars_box, step for step.
 */
export function barsBox(rgba, width, height) {
  const grey = new Int32Array(width * height);
  for (let i = 0; i < width * height; i++) {
    grey[i] = Math.floor((299 * rgba[4 * i] + 587 * rgba[4 * i + 1] + 114 * rgba[4 * i + 2]) / 1000);
  }
  const row = (y) => grey.subarray(y * width, (y + 1) * width);
  const top = leadingBars(height, row);
  const bottom = height - leadingBars(height, (k) => row(height - 1 - k));
  if (bottom - top < 0.2 * height) return null; // (nearly) all flat: a fade or a title card
  const column = (x) => Array.from({ length: bottom - top }, (_, y) => grey[(top + y) * width + x]);
  const left = leadingBars(width, column);
  const right = width - leadingBars(width, (k) => column(width - 1 - k));
  if (right - left < 0.2 * width) return null;
  if (height - (bottom - top) < BAR_MIN_SHARE * height && width - (right - left) < BAR_MIN_SHARE * width) {
    return null;
  }
  return [left / width, top / height, right / width, bottom / height];
}

/** The RGBA pixels inside `box` (server: video_frames.hash_frame's crop). */
export function cropRgba(rgba, width, height, box) {
  if (!box) return { rgba, width, height };
  const top = Math.round(box[1] * height);
  const bottom = Math.max(Math.round(box[3] * height), 1);
  const left = Math.round(box[0] * width);
  const right = Math.max(Math.round(box[2] * width), 1);
  const w = right - left;
  const h = bottom - top;
  const out = new Uint8ClampedArray(w * h * 4);
  for (let y = 0; y < h; y++) out.set(rgba.subarray(4 * ((top + y) * width + left), 4 * ((top + y) * width + right)), 4 * y * w);
  return { rgba: out, width: w, height: h };
}
