// Block upload of one recording to Azure Blob Storage through the
// shared-access URL the consent call returned: Put Block for each 4 MiB
// slice, then Put Block List. Each request is retried with back-off on
// network errors and on the service's transient statuses; a stopped
// upload resumes from the first block not yet stored.

export const BLOCK_SIZE = 4 * 1024 * 1024;

// UploadError says why an upload stopped: kind is "network" (retries
// used up: the caller may call run() again), "expired" (the link's time is
// over), "exists" (the recording was already sent) or "refused".
export class UploadError extends Error {
  constructor(kind, message, status) {
    super(message);
    this.name = "UploadError";
    this.kind = kind;
    this.status = status;
  }
}

const TRANSIENT = new Set([0, 408, 429, 500, 502, 503, 504]);

// blockID is the base64 id of block i; every id of a blob has one length.
export function blockID(i) {
  return btoa("block-" + String(i).padStart(6, "0"));
}

// Uploader sends blob to slot ({uploadUrl, expiresAt}).
export class Uploader {
  constructor(blob, slot, opts = {}) {
    this.blob = blob;
    this.slot = slot;
    this.blockSize = opts.blockSize || BLOCK_SIZE;
    this.retries = opts.retries ?? 5;
    this.backoffMs = opts.backoffMs ?? 500;
    this.onProgress = opts.onProgress || (() => {});
    this.contentType = blob.type || "application/octet-stream";
    this.count = Math.max(1, Math.ceil(blob.size / this.blockSize));
    this.next = 0; // first block not yet stored
    this.committed = false;
    this.attempts = 0; // requests sent, retries included
  }

  // run uploads what is left and resolves when the blob is committed.
  async run() {
    for (; this.next < this.count; this.next++) {
      const start = this.next * this.blockSize;
      const part = this.blob.slice(start, Math.min(start + this.blockSize, this.blob.size));
      const url = this.slot.uploadUrl + "&comp=block&blockid=" + encodeURIComponent(blockID(this.next));
      await this.send(url, part, {}, (loaded) => this.progress(start + loaded));
      this.progress(start + part.size);
    }
    if (!this.committed) {
      let xml = '<?xml version="1.0" encoding="utf-8"?><BlockList>';
      for (let i = 0; i < this.count; i++) xml += "<Latest>" + blockID(i) + "</Latest>";
      xml += "</BlockList>";
      await this.send(this.slot.uploadUrl + "&comp=blocklist", xml, {
        "Content-Type": "application/xml",
        "x-ms-blob-content-type": this.contentType,
      }, null, true);
      this.committed = true;
    }
    this.progress(this.blob.size);
  }

  progress(sent) {
    this.onProgress(this.blob.size ? sent / this.blob.size : 1);
  }

  // send PUTs body, retrying transient failures. A commit that is retried
  // after a lost answer may find its blob already there: that is success.
  async send(url, body, headers, onLoaded, commit = false) {
    for (let attempt = 0; ; attempt++) {
      this.attempts++;
      const st = await put(url, body, headers, onLoaded);
      if (st >= 200 && st < 300) return;
      if (commit && attempt > 0 && st === 409) return;
      if (st === 403 && Date.now() >= Date.parse(this.slot.expiresAt)) {
        throw new UploadError("expired", "The time allowed for sending this recording is over.", st);
      }
      if (st === 409) throw new UploadError("exists", "This recording has already been sent.", st);
      if (!TRANSIENT.has(st)) throw new UploadError("refused", "The storage service refused the recording (status " + st + ").", st);
      if (attempt >= this.retries) {
        throw new UploadError("network", "The connection failed while sending the recording.", st);
      }
      const wait = Math.min(8000, this.backoffMs * 2 ** attempt) * (0.75 + Math.random() / 2);
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

// putJSON sends value as one JSON blob (Put Blob) through a create-only
// link valid until expiresAt (ISO time), retried as a block is: a stimulus
// study's viewing log. A retry that finds the blob already there is
// success; an "exists" UploadError means it was there before.
export async function putJSON(url, value, expiresAt, opts = {}) {
  const body = new Blob([JSON.stringify(value)], { type: "application/json" });
  const u = new Uploader(body, { uploadUrl: url, expiresAt }, opts);
  await u.send(url, body, { "Content-Type": "application/json", "x-ms-blob-type": "BlockBlob" }, null, true);
}

// put sends one PUT and resolves with its status (0: no answer).
function put(url, body, headers, onLoaded) {
  return new Promise((resolve) => {
    const x = new XMLHttpRequest();
    x.open("PUT", url);
    for (const [k, v] of Object.entries(headers)) x.setRequestHeader(k, v);
    if (onLoaded) x.upload.onprogress = (e) => onLoaded(e.loaded);
    x.onload = () => resolve(x.status);
    x.onerror = x.ontimeout = x.onabort = () => resolve(0);
    x.timeout = 120000;
    x.send(body);
  });
}
