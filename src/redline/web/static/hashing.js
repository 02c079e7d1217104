// The page's side of hashing: a small pool of Web Workers (hash-worker.js) so large files hash in
// parallel without freezing the page. Files are handed to the workers as File objects (no copy); only
// hashes come back.

const WORKER_URL = new URL('./hash-worker.js', import.meta.url);

export class HashingError extends Error {
  constructor(problem, detail) {
    super(detail || problem);
    this.problem = problem; // unsupported | too-large | unreadable | empty
  }
}

export class Hasher {
  /**
   * `regions: false` leaves out the stored crops (pdq.regions): the portal always sends them, since a bank
   * entry without them misses cropped copies; a caller that only needs the picture's own PDQ saves ~20 PDQ
   * computations per picture.
   * @param {{workers?: number, background?: string, dihedral?: boolean, regions?: boolean}} options
   */
  constructor({ workers, background = '#ffffff', dihedral = false, regions = true } = {}) {
    const count = workers || Math.max(1, Math.min(4, (navigator.hardwareConcurrency || 2) - 1));
    this.options = { background, dihedral, regions };
    this.idle = [];
    this.queue = [];
    this.pending = new Map();
    this.nextId = 1;
    this.workers = Array.from({ length: count }, () => {
      const worker = new Worker(WORKER_URL, { type: 'module' });
      worker.onmessage = (event) => this.onMessage(worker, event.data);
      this.idle.push(worker);
      return worker;
    });
  }

  /** Hashes of `file`: {kind, md5, sha256, pdq?: {hash, quality, regions: [{label, hash, quality}]}, width?, height?, ms}. */
  hash(file, onProgress = () => {}) {
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, file, resolve, reject, onProgress });
      this.dispatch();
    });
  }

  dispatch() {
    while (this.idle.length && this.queue.length) {
      const job = this.queue.shift();
      const worker = this.idle.pop();
      this.pending.set(job.id, job);
      worker.postMessage({ id: job.id, file: job.file, ...this.options });
    }
  }

  onMessage(worker, message) {
    const job = this.pending.get(message.id);
    if (!job) return;
    if (message.type === 'progress') {
      job.onProgress(message.fraction);
      return;
    }
    this.pending.delete(message.id);
    this.idle.push(worker);
    if (message.type === 'done') job.resolve(message.result);
    else job.reject(new HashingError(message.problem, message.detail));
    this.dispatch();
  }

  /** Stop the workers; pending files are abandoned. */
  close() {
    for (const worker of this.workers) worker.terminate();
    for (const job of this.pending.values()) job.reject(new HashingError('cancelled'));
    this.pending.clear();
    this.queue = [];
  }
}
