// What the portal accepts, shared by the page and the hashing worker.

export const LIMITS = {
  imageBytes: 512 * 1024 * 1024, // same as the server's REDLINE_MAX_FILE_BYTES default
  imagePixels: 100_000_000, // same as REDLINE_MAX_PIXELS: a guard against decompression bombs
  videoBytes: 8 * 1024 * 1024 * 1024, // videos are only read in chunks, never held in memory
};

export const QUALITY_THRESHOLD = 50; // below this a PDQ hash matches unreliably (server: pdq_min_quality)

// Centred crops hashed with each picture so cropped copies still match (server: signals/robust.py
// REGION_SCALES; docs/ROBUSTNESS.md). Sent as `pdq_region` hashes with the whole picture's hash ('full').
export const REGION_SCALES = [0.9, 0.81, 0.73];

// Largest number of hashes in one submission (server: api/schemas.py MAX_CASE_HASHES). A picture sends 7.
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
