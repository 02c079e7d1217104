// Web Worker: turns one file into hashes, on the device, off the page's main thread.
// Messages in:  {id, file, background, dihedral, regions} | {id, frame: {rgba, width, height}} (a video
//               frame drawn by video-hashing.js: its PDQ, and its content box's, as the server's
//               signals/video_frames.py)
// Messages out: {id, type: 'progress', fraction} | {id, type: 'done', result} | {id, type: 'error', problem}
// `problem` is a stable code the page translates: unsupported, too-large, unreadable, empty.
import { pdqFromRgba } from './pdq.js';
import { Md5, Sha256, toHex } from './digest.js';
import { FRAME_QUADRANTS, LIMITS, STORED_REGIONS, barsBox, contentBox, cropRgba, sniffKind } from './media.js';

const CHUNK_BYTES = 4 * 1024 * 1024;

class Problem extends Error {
  constructor(code) {
    super(code);
    this.code = code;
  }
}

self.onmessage = async (event) => {
  if (event.data.frame) {
    const { id, frame } = event.data;
    const { rgba, width, height } = frame;
    const { hash, quality } = pdqFromRgba(rgba, width, height);
    const found = contentBox(rgba, width, height);
    let box = null;
    let inside = { rgba, width, height };
    if (found) {
      inside = cropRgba(rgba, width, height, found);
      box = pdqFromRgba(inside.rgba, inside.width, inside.height);
    }
    // The centred 90% of the picture (server: video_frames._CROP): copies cropped a little still match;
    // and its four quadrants (video_frames.QUADRANTS): a copy with a watermark over part of it still does.
    const [crop, ...quadrants] = pdqFromRgba(inside.rgba, inside.width, inside.height, {
      regions: [{ scale: 0.9, dx: 0, dy: 0 }, ...FRAME_QUADRANTS],
    }).regions;
    // The picture inside flat bars, where that is not the content box (server: hash_frame's bars): bars a
    // copy adds are removed with the video's own, so both sides meet on the picture itself.
    const flat = barsBox(rgba, width, height);
    let bars = null;
    if (flat && (!found || Math.max(...flat.map((v, i) => Math.abs(v - found[i]))) > 0.01)) {
      const cropped = cropRgba(rgba, width, height, flat);
      bars = pdqFromRgba(cropped.rgba, cropped.width, cropped.height);
    }
    self.postMessage({ id, type: 'frame', hash, quality, box, bars, crop, quadrants });
    return;
  }
  const { id, file, background = '#ffffff', dihedral = false, regions = true } = event.data;
  const progress = (fraction) => self.postMessage({ id, type: 'progress', fraction });
  try {
    const result = await hashFile(file, { background, dihedral, regions, progress });
    self.postMessage({ id, type: 'done', result });
  } catch (err) {
    const problem = err instanceof Problem ? err.code : 'unreadable';
    self.postMessage({ id, type: 'error', problem, detail: String(err && err.message) });
  }
};

async function hashFile(file, { background, dihedral, regions, progress }) {
  if (file.size === 0) throw new Problem('empty');
  const head = new Uint8Array(await file.slice(0, 32).arrayBuffer());
  const kind = sniffKind(head);
  if (kind === null) throw new Problem('unsupported');
  const started = performance.now();
  if (kind === 'image') {
    if (file.size > LIMITS.imageBytes) throw new Problem('too-large');
    const bytes = new Uint8Array(await file.arrayBuffer());
    progress(0.2);
    const [sha256, image] = await Promise.all([
      crypto.subtle.digest('SHA-256', bytes).then((d) => toHex(new Uint8Array(d))),
      decodeImage(file, background),
    ]);
    progress(0.6);
    const md5 = new Md5().update(bytes).hex();
    const pdq = pdqFromRgba(image.rgba, image.width, image.height, {
      dihedral,
      regions: regions ? STORED_REGIONS : [],
    });
    progress(1);
    return {
      kind,
      width: image.width,
      height: image.height,
      md5,
      sha256,
      pdq,
      ms: performance.now() - started,
    };
  }
  if (file.size > LIMITS.videoBytes) throw new Problem('too-large');
  const { md5, sha256 } = await streamDigests(file, progress);
  return { kind, md5, sha256, ms: performance.now() - started };
}

/** Decoded RGBA pixels, EXIF orientation applied, transparency composited on `background`. */
async function decodeImage(file, background) {
  let bitmap;
  try {
    // No colour management and no premultiplication: the server reads the stored sample values as they are.
    bitmap = await createImageBitmap(file, {
      imageOrientation: 'from-image',
      colorSpaceConversion: 'none',
      premultiplyAlpha: 'none',
    });
  } catch {
    throw new Problem('unsupported');
  }
  const { width, height } = bitmap;
  if (width * height > LIMITS.imagePixels) {
    bitmap.close();
    throw new Problem('too-large');
  }
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.fillStyle = background;
  ctx.fillRect(0, 0, width, height);
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  const rgba = ctx.getImageData(0, 0, width, height, { colorSpace: 'srgb' }).data;
  return { rgba, width, height };
}

/** MD5 and SHA-256 of a file of any size, read in fixed-size chunks so memory stays bounded. */
async function streamDigests(file, progress) {
  const md5 = new Md5();
  const sha = new Sha256();
  for (let offset = 0; offset < file.size; offset += CHUNK_BYTES) {
    const chunk = new Uint8Array(await file.slice(offset, offset + CHUNK_BYTES).arrayBuffer());
    md5.update(chunk);
    sha.update(chunk);
    progress(Math.min(1, (offset + chunk.length) / file.size));
  }
  return { md5: md5.hex(), sha256: sha.hex() };
}
