// What the portal accepts, shared by the page and the hashing worker.

export const LIMITS = {
  imageBytes: 512 * 1024 * 1024, // same as the server's REDLINE_MAX_FILE_BYTES default
  imagePixels: 100_000_000, // same as REDLINE_MAX_PIXELS: a guard against decompression bombs
  videoBytes: 8 * 1024 * 1024 * 1024, // videos are only read in chunks, never held in memory
};

export const QUALITY_THRESHOLD = 50; // below this a PDQ hash matches unreliably (server: PdqSignal.min_quality)

// Crops hashed with each picture so cropped copies still match (server: signals/robust.py STORED_REGIONS;
// docs/ROBUSTNESS.md). Sent as `pdq_region` hashes with the whole picture's hash ('full'). A ladder of
// sizes (ratio 0.9); the three deepest rungs are also stored shifted on a 3x3 grid, because a crop that
// keeps 60% of a photo can sit anywhere in it.
export const REGION_SCALES = [0.9, 0.81, 0.73, 0.66, 0.59, 0.53];
export const REGION_GRID_STEPS = { 0.66: 0.05, 0.59: 0.06, 0.53: 0.07 };

// The four quadrants too: a sticker or caption usually leaves one of them untouched.
export const QUADRANT_SHIFTS = [-0.25, 0.25];

/**
 * [{scale, dx, dy}] in robust.STORED_REGIONS order: each rung centred, then (for grid rungs) the other 8
 * places, then the four quadrants.
 */
export const STORED_REGIONS = [
  ...REGION_SCALES.flatMap((scale) => {
    const step = REGION_GRID_STEPS[scale];
    if (step === undefined) return [{ scale, dx: 0, dy: 0 }];
    const places = [0, -step, step];
    return places.flatMap((dy) => places.map((dx) => ({ scale, dx, dy })));
  }),
  ...QUADRANT_SHIFTS.flatMap((dy) => QUADRANT_SHIFTS.map((dx) => ({ scale: 0.5, dx, dy }))),
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
