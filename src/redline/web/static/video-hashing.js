// A video's frame hashes, on this device (docs/PORTAL.md, "What a video sends"). The page's own video
// decoder plays the file in a hidden, muted <video> element that is never shown or uploaded; each sampled
// moment is drawn at 320x320 onto a canvas and its pixels handed to a Web Worker (hash-worker.js), which
// computes its PDQ hash, the PDQ of the picture inside any uniform border (letterbox bars) and inside flat
// bars, of that picture's centred 90% (a copy cropped a little) and of its four quadrants (a copy with a
// watermark). Which moments are kept is the
// server's rule (signals/video.py stored_frames): candidates every 0.25 s, the first 8 frames kept at any
// candidate moment and then at most one a second, a frame kept only when it differs from the last kept one
// by more than 16 bits, featureless frames dropped, at most 900 frames (evenly thinned), the first 3 hours
// only.
import { VIDEO, evenly } from './media.js';

const WORKER_URL = new URL('./hash-worker.js', import.meta.url);

const distance = (a, b) => {
  let bits = 0;
  for (let i = 0; i < 64; i += 8) {
    let x = parseInt(a.slice(i, i + 8), 16) ^ parseInt(b.slice(i, i + 8), 16);
    while (x) {
      x &= x - 1;
      bits++;
    }
  }
  return bits;
};

function once(target, name, timeoutMs) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      target.removeEventListener(name, done);
      reject(new Error(`timeout waiting for ${name}`));
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      target.removeEventListener('error', failed);
      resolve();
    };
    const failed = () => {
      clearTimeout(timer);
      target.removeEventListener(name, done);
      reject(new Error('the browser cannot decode this video'));
    };
    target.addEventListener(name, done, { once: true });
    target.addEventListener('error', failed, { once: true });
  });
}

/**
 * [{hash, quality, box: {hash, quality} | null, bars: {hash, quality} | null, crop: {hash, quality} | null,
 * quadrants: [{hash, quality}], at_ms}] of `file`, or null when this browser cannot decode it (its MD5 and SHA-256
 * still protect exact copies). `onProgress(fraction)` as it goes.
 */
export async function videoFrameHashes(file, onProgress = () => {}) {
  const url = URL.createObjectURL(file);
  const video = document.createElement('video');
  video.muted = true;
  video.preload = 'auto';
  video.playsInline = true;
  const worker = new Worker(WORKER_URL, { type: 'module' });
  let nextId = 1;
  const waiting = new Map();
  worker.onmessage = (event) => {
    const resolve = waiting.get(event.data.id);
    waiting.delete(event.data.id);
    if (resolve) resolve(event.data);
  };
  const hashFrame = (rgba) =>
    new Promise((resolve) => {
      const id = nextId++;
      waiting.set(id, resolve);
      worker.postMessage({ id, frame: { rgba, width: VIDEO.side, height: VIDEO.side } }, [rgba.buffer]);
    });
  try {
    video.src = url;
    await once(video, 'loadeddata', 30_000);
    const duration = Math.min(Number.isFinite(video.duration) ? video.duration : 0, VIDEO.maxSeconds);
    if (!(duration > 0) || !video.videoWidth) return null;
    const canvas = new OffscreenCanvas(VIDEO.side, VIDEO.side);
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    const kept = [];
    let last = null;
    for (let step = 0; step * VIDEO.sampleStep < duration; ) {
      const t = step * VIDEO.sampleStep;
      video.currentTime = t;
      try {
        await once(video, 'seeked', VIDEO.seekTimeoutMs);
      } catch {
        step += 1;
        continue;
      }
      ctx.drawImage(video, 0, 0, VIDEO.side, VIDEO.side);
      const { data } = ctx.getImageData(0, 0, VIDEO.side, VIDEO.side);
      const { hash, quality, box, bars, crop, quadrants } = await hashFrame(data);
      onProgress(Math.min(1, t / duration));
      if (quality > 0 && (last === null || distance(hash, last) > VIDEO.dedupeDistance)) {
        const at_ms = Math.round(t * 1000);
        kept.push({
          hash,
          quality,
          box: box && box.quality > 0 ? box : null,
          bars: bars && bars.quality > 0 ? bars : null,
          crop: crop.quality > 0 ? crop : null,
          quadrants: quadrants.filter((q) => q.quality > 0),
          at_ms,
        });
        last = hash;
        // The next candidate: the next moment while fewer than denseFrames are kept, then a second on.
        step += kept.length < VIDEO.denseFrames ? 1 : Math.round(VIDEO.storedInterval / VIDEO.sampleStep);
      } else {
        step += 1;
      }
    }
    onProgress(1);
    return evenly(kept, VIDEO.maxFrames);
  } catch {
    return null;
  } finally {
    worker.terminate();
    video.removeAttribute('src');
    video.load();
    URL.revokeObjectURL(url);
  }
}
