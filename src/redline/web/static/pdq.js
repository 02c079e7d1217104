// PDQ perceptual hash (Meta, 2019), written from the algorithm's description:
//   1. RGB -> luminance (Rec. 601 weights);
//   2. Jarosz filter: two passes of a box filter along rows and columns, window = ceil(side / 128);
//   3. sample a 64x64 grid from the filtered image;
//   4. quality = sum of absolute neighbour differences on that grid, scaled to 0..100;
//   5. 16x16 low-frequency block of the 2-D DCT-II of the 64x64 grid (DC row/column skipped);
//   6. bit set where a coefficient is above the median of the 256 coefficients.
// Arithmetic is rounded to 32-bit floats (Math.fround) at the same points as the C++ reference, so the
// browser agrees with the server (which runs the reference through the `pdqhash` package) bit for bit on
// identical pixels. Images larger than 512 px on a side are first resized to exactly 512x512 with
// nearest-neighbour sampling (source index = floor(dst * src / 512)), as Meta's photo hasher does.

const f32 = Math.fround;
const LUMA_R = f32(0.299);
const LUMA_G = f32(0.587);
const LUMA_B = f32(0.114);
const GRID = 64;
const BLOCK = 16;
export const MAX_SIDE = 512;
const MIN_SIDE = 5; // the reference refuses smaller images: zero hash, quality 0

// DCT-II basis rows 1..16 (row 0, the average, carries no structure), scaled by sqrt(2/64).
const DCT = (() => {
  const m = new Float32Array(BLOCK * GRID);
  const scale = Math.sqrt(2 / GRID);
  for (let i = 0; i < BLOCK; i++) {
    for (let j = 0; j < GRID; j++) {
      m[i * GRID + j] = scale * Math.cos((Math.PI / 2 / GRID) * (i + 1) * (2 * j + 1));
    }
  }
  return m;
})();

/** Nearest-neighbour index map from `dst` samples to `src` samples (floor(d * src / dst)). */
function nearestIndices(src, dst) {
  const idx = new Int32Array(dst);
  for (let d = 0; d < dst; d++) idx[d] = Math.floor((d * src) / dst);
  return idx;
}

/**
 * Luminance of the `width` x `height` window at (`left`, `top`) of an RGBA buffer `stride` pixels wide,
 * shrunk to 512x512 by nearest neighbour when a side exceeds 512.
 * Alpha is ignored here: the caller composites transparent pixels onto the background first.
 */
export function lumaFromRgba(rgba, width, height, { stride = width, left = 0, top = 0 } = {}) {
  let outW = width;
  let outH = height;
  let cols = null;
  let rows = null;
  if (width > MAX_SIDE || height > MAX_SIDE) {
    outW = MAX_SIDE;
    outH = MAX_SIDE;
    cols = nearestIndices(width, MAX_SIDE);
    rows = nearestIndices(height, MAX_SIDE);
  }
  const luma = new Float32Array(outW * outH);
  for (let y = 0; y < outH; y++) {
    const sy = top + (rows ? rows[y] : y);
    for (let x = 0; x < outW; x++) {
      const sx = left + (cols ? cols[x] : x);
      const p = (sy * stride + sx) * 4;
      luma[y * outW + x] = f32(f32(f32(LUMA_R * rgba[p]) + f32(LUMA_G * rgba[p + 1])) + f32(LUMA_B * rgba[p + 2]));
    }
  }
  return { luma, width: outW, height: outH };
}

/**
 * One box-filter pass over `count` samples spaced `stride` apart: each output is the mean of the inputs in
 * [k - (window - half), k + half - 1] clipped to the vector, half = floor((window + 2) / 2).
 * Computed with a running sum, so the cost does not depend on the window.
 */
function boxPass(input, output, start, count, stride, window) {
  const half = Math.floor((window + 2) / 2);
  const behind = window - half; // samples before k in the window
  let sum = 0;
  let size = 0;
  let add = 0; // next input index to enter the window
  let drop = 0; // next input index to leave the window
  for (; add < half - 1 && add < count; add++) {
    sum = f32(sum + input[start + add * stride]);
    size++;
  }
  for (let k = 0; k < count; k++) {
    if (add < count) {
      sum = f32(sum + input[start + add * stride]);
      size++;
      add++;
    }
    if (k - drop > behind) {
      sum = f32(sum - input[start + drop * stride]);
      size--;
      drop++;
    }
    output[start + k * stride] = f32(sum / size);
  }
}

function jaroszFilter(luma, width, height) {
  const rowWindow = Math.floor((width + 2 * GRID - 1) / (2 * GRID));
  const colWindow = Math.floor((height + 2 * GRID - 1) / (2 * GRID));
  const tmp = new Float32Array(luma.length);
  for (let pass = 0; pass < 2; pass++) {
    for (let y = 0; y < height; y++) boxPass(luma, tmp, y * width, width, 1, rowWindow);
    for (let x = 0; x < width; x++) boxPass(tmp, luma, x, height, width, colWindow);
  }
}

function sampleGrid(filtered, width, height) {
  const grid = new Float32Array(GRID * GRID);
  for (let i = 0; i < GRID; i++) {
    const y = Math.trunc(((i + 0.5) * height) / GRID);
    for (let j = 0; j < GRID; j++) {
      const x = Math.trunc(((j + 0.5) * width) / GRID);
      grid[i * GRID + j] = filtered[y * width + x];
    }
  }
  return grid;
}

/** 0 (flat, featureless) .. 100 (rich detail). Below 50 a match on this hash is unreliable. */
function gridQuality(grid) {
  let sum = 0;
  for (let i = 0; i < GRID - 1; i++) {
    for (let j = 0; j < GRID; j++) {
      sum += Math.abs(Math.trunc(((grid[i * GRID + j] - grid[(i + 1) * GRID + j]) * 100) / 255));
    }
  }
  for (let i = 0; i < GRID; i++) {
    for (let j = 0; j < GRID - 1; j++) {
      sum += Math.abs(Math.trunc(((grid[i * GRID + j] - grid[i * GRID + j + 1]) * 100) / 255));
    }
  }
  return Math.min(100, Math.trunc(sum / 90));
}

/** 16x16 block B = D * G * D^T. */
function dct16(grid) {
  const left = new Float32Array(BLOCK * GRID); // D * G
  for (let i = 0; i < BLOCK; i++) {
    for (let j = 0; j < GRID; j++) {
      let s = 0;
      for (let k = 0; k < GRID; k++) s = f32(s + f32(DCT[i * GRID + k] * grid[k * GRID + j]));
      left[i * GRID + j] = s;
    }
  }
  const block = new Float32Array(BLOCK * BLOCK);
  for (let i = 0; i < BLOCK; i++) {
    for (let j = 0; j < BLOCK; j++) {
      let s = 0;
      for (let k = 0; k < GRID; k++) s = f32(s + f32(left[i * GRID + k] * DCT[j * GRID + k]));
      block[i * BLOCK + j] = s;
    }
  }
  return block;
}

/** Hex string of the 256 bits: bit k = coefficient k above the lower median; bit 255 is the first nibble's top bit. */
function thresholdToHex(block) {
  const sorted = Float32Array.from(block).sort();
  const median = sorted[127];
  let hex = '';
  for (let c = 0; c < 64; c++) {
    let nibble = 0;
    for (let b = 0; b < 4; b++) {
      const k = 255 - 4 * c - b;
      nibble = (nibble << 1) | (block[k] > median ? 1 : 0);
    }
    hex += nibble.toString(16);
  }
  return hex;
}

// Dihedral variants from the DCT block alone: mirroring an axis multiplies the coefficient of frequency f by
// (-1)^f (our index k holds frequency k + 1); a transpose swaps the axes.
const DIHEDRAL = {
  orig: (i, j, b) => b[i * BLOCK + j],
  rot90: (i, j, b) => sign(i) * b[j * BLOCK + i],
  rot180: (i, j, b) => sign(i) * sign(j) * b[i * BLOCK + j],
  rot270: (i, j, b) => sign(j) * b[j * BLOCK + i],
  flipx: (i, j, b) => sign(i) * b[i * BLOCK + j], // about the x axis: rows reversed
  flipy: (i, j, b) => sign(j) * b[i * BLOCK + j], // about the y axis: columns reversed
  flipplus: (i, j, b) => b[j * BLOCK + i],
  flipminus: (i, j, b) => sign(i) * sign(j) * b[j * BLOCK + i],
};

function sign(k) {
  return k % 2 === 0 ? -1 : 1;
}

function variant(block, fn) {
  const out = new Float32Array(BLOCK * BLOCK);
  for (let i = 0; i < BLOCK; i++) for (let j = 0; j < BLOCK; j++) out[i * BLOCK + j] = fn(i, j, block);
  return out;
}

/**
 * PDQ of an RGBA image (alpha already composited). Returns {hash, quality}; with `dihedral` also
 * `dihedral`: {orig, rot90, rot180, rot270, flipx, flipy, flipplus, flipminus} hex strings; with `regions`
 * (a list of crops {scale, dx, dy} such as media.js STORED_REGIONS) also `regions`:
 * [{label: 'crop_0.9', hash, quality}, ...], the PDQ of each crop (what the bank stores to find cropped
 * copies; server: signals/robust.py entry_hashes).
 */
export function pdqFromRgba(rgba, width, height, { dihedral = false, regions = [] } = {}) {
  const result = pdqOfWindow(rgba, width, { left: 0, top: 0, width, height }, dihedral);
  if (regions.length) {
    result.regions = regions.map((region) => {
      const { hash, quality } = pdqOfWindow(rgba, width, regionBox(region, width, height), false);
      return { label: regionLabel(region), hash, quality };
    });
  }
  return result;
}

const signed = (x) => `${x >= 0 ? '+' : ''}${x.toFixed(2)}`;

/**
 * robust.StoredRegion.label: 'crop_0.9' when centred, else 'crop_0.66_-0.05_+0.00' (dx then dy);
 * robust.StoredBand.label for an edge strip: 'band_left_0.1'.
 */
export function regionLabel({ scale, dx, dy, band, depth }) {
  if (band !== undefined) return `band_${band}_${depth}`;
  return dx === 0 && dy === 0 ? `crop_${scale}` : `crop_${scale}_${signed(dx)}_${signed(dy)}`;
}

function pdqOfWindow(rgba, stride, { left, top, width, height }, dihedral) {
  if (width < MIN_SIDE || height < MIN_SIDE) {
    return { hash: '0'.repeat(64), quality: 0, ...(dihedral ? { dihedral: null } : {}) };
  }
  const { luma, width: w, height: h } = lumaFromRgba(rgba, width, height, { stride, left, top });
  jaroszFilter(luma, w, h);
  const grid = sampleGrid(luma, w, h);
  const quality = gridQuality(grid);
  const block = dct16(grid);
  const result = { hash: thresholdToHex(block), quality };
  if (dihedral) {
    result.dihedral = {};
    for (const [name, fn] of Object.entries(DIHEDRAL)) result.dihedral[name] = thresholdToHex(variant(block, fn));
  }
  return result;
}

/** Python's round(): halves go to the even neighbour. The server computes crop boxes with it. */
function roundHalfEven(x) {
  const r = Math.round(x);
  return Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * The crop keeping `scale` of each side, centred then moved by dx, dy (fractions of width and height), or
 * the strip `depth` deep along edge `band`, in pixels: the same floating-point expressions in the same order
 * as robust.StoredRegion.box (robust.StoredBand.box) and robust.crop_box, so both sides cut the same pixels.
 */
export function regionBox(region, width, height) {
  const [x0, y0, x1, y1] = regionFractions(region);
  const left = roundHalfEven(x0 * width);
  const top = roundHalfEven(y0 * height);
  const right = Math.max(left + 1, roundHalfEven(x1 * width));
  const bottom = Math.max(top + 1, roundHalfEven(y1 * height));
  return { left, top, width: right - left, height: bottom - top };
}

function regionFractions({ scale, dx = 0, dy = 0, band, depth }) {
  if (band === 'left') return [0, 0, depth, 1];
  if (band === 'right') return [1 - depth, 0, 1, 1];
  if (band === 'top') return [0, 0, 1, depth];
  const margin = (1 - scale) / 2;
  return [margin + dx, margin + dy, 1 - margin + dx, 1 - margin + dy];
}

/** Number of differing bits between two 64-hex-character hashes. */
export function hammingDistance(a, b) {
  let d = 0;
  for (let i = 0; i < a.length; i++) {
    let x = parseInt(a[i], 16) ^ parseInt(b[i], 16);
    while (x) {
      d += x & 1;
      x >>= 1;
    }
  }
  return d;
}
