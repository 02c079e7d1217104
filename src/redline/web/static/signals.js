// The signal types the portal computes on this device, and which of one file's hashes each stores: the
// browser's half of the server's registry (src/redline/signals/types.py: `SignalType.stored_hashes` of the
// types with `on_survivor_device`). tests/web/test_catalogs.py checks the names against it.

// A picture's PDQ hash and its region hashes; a hash of quality 0 (a featureless picture) means nothing.
const pdqOf = (r) => (r.pdq && r.pdq.quality > 0 ? r.pdq : null);

/** [{name, stored(result) -> [{value, quality?}]}], in the order a case sends them. */
export const SIGNAL_TYPES = [
  {
    name: 'pdq',
    stored: (r) => (pdqOf(r) ? [{ value: r.pdq.hash, quality: r.pdq.quality }] : []),
  },
  {
    // Robust matching (docs/ROBUSTNESS.md): the whole picture's hash again, then each stored crop's.
    name: 'pdq_region',
    stored: (r) =>
      pdqOf(r)
        ? [{ hash: r.pdq.hash, quality: r.pdq.quality }, ...(r.pdq.regions || [])]
            .filter((region) => region.quality > 0)
            .map((region) => ({ value: region.hash, quality: region.quality }))
        : [],
  },
  {
    // A video's kept frames (video-hashing.js picks them as signals/video.py's stored_frames does), each
    // with its place in the video; empty for pictures and for videos this browser cannot decode.
    name: 'vpdq',
    // The whole frame's hash, for a frame with bars or an app's border the picture's inside them (the
    // content box, and the picture inside flat bars where that differs), the centred 90% of the picture,
    // and its four quadrants.
    stored: (r) =>
      (r.frames || []).flatMap((f) => [
        { value: f.hash, quality: f.quality, at_ms: f.at_ms },
        ...(f.box ? [{ value: f.box.hash, quality: f.box.quality, at_ms: f.at_ms }] : []),
        ...(f.bars ? [{ value: f.bars.hash, quality: f.bars.quality, at_ms: f.at_ms }] : []),
        ...(f.crop ? [{ value: f.crop.hash, quality: f.crop.quality, at_ms: f.at_ms }] : []),
        ...(f.quadrants || []).map((q) => ({ value: q.hash, quality: q.quality, at_ms: f.at_ms })),
      ]),
  },
  { name: 'md5', stored: (r) => [{ value: r.md5 }] },
  { name: 'sha256', stored: (r) => [{ value: r.sha256 }] },
];
