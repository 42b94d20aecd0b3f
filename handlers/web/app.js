// The participant page: consent, camera, recording, upload, done.
// State that must survive a reload (the upload link, once consent is
// given) is kept in sessionStorage under this link's token only.
import { Uploader, UploadError } from "./upload.js";

const $ = (id) => document.getElementById(id);
const main = $("main");
const token = decodeURIComponent(location.pathname.split("/").pop());
const storeKey = "facet:" + token;
const TYPES = ["video/webm;codecs=vp8", "video/webm;codecs=vp9", "video/webm", "video/mp4"];

let saved = load();
let stream = null;
let recorder = null;
let chunks = [];
let recording = null; // the finished Blob
let uploader = null;
let timer = 0;

function load() {
  try {
    return JSON.parse(sessionStorage.getItem(storeKey)) || null;
  } catch {
    return null;
  }
}
function save(v) {
  saved = v;
  try {
    sessionStorage.setItem(storeKey, JSON.stringify(v));
  } catch {
    // private mode without storage: a reload then starts over
  }
}

function show(id) {
  for (const s of main.querySelectorAll("section")) s.hidden = s.id !== id;
  status("");
  const h = $(id).querySelector("h1");
  if (h) h.focus();
}
function status(msg) {
  const el = $("status");
  el.textContent = msg;
  el.hidden = !msg;
}
function problem(msg) {
  stopCamera();
  // The page may have been served with the service's own problem (busy,
  // failed); this one is about the link or the upload.
  $("problem-title").textContent = "This link cannot be used";
  if ($("problem-ref")) $("problem-ref").hidden = true;
  $("problem-text").textContent = msg;
  show("problem");
}
function visible(ids) {
  for (const id of ["camera", "start", "stop", "send", "again"]) $(id).hidden = !ids.includes(id);
  const first = ids.map($).find((b) => !b.hidden);
  if (first) first.focus();
}
const clock = (s) => Math.floor(s / 60) + ":" + String(Math.floor(s % 60)).padStart(2, "0");

// --- consent ---

async function accept() {
  $("accept").disabled = true;
  status("Saving your consent…");
  try {
    const res = await fetch("/api/invitations/" + encodeURIComponent(token) + "/consent", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ accept: true, consentVersion: main.dataset.consentVersion }),
    });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) {
      const msg = body.detail || "status " + res.status;
      if (res.status === 429) {
        // A limit of the study or the service: the link itself is fine.
        status("The study is busy right now and could not save your consent. Please choose I agree again in a few minutes.");
        return;
      }
      if (res.status >= 500) {
        status("The service could not save your consent (" + msg + "). Please try again in a moment.");
        return;
      }
      problem(msg.charAt(0).toUpperCase() + msg.slice(1) + ".");
      return;
    }
    save({
      slot: body,
      maxDurationS: Number(main.dataset.maxDurationS) || 1800,
      maxUploadBytes: Number(main.dataset.maxUploadBytes) || 0,
      deletion: $("deletion").textContent,
    });
    startRecordStep();
  } catch {
    status("No connection to the service. Check your internet connection and choose I agree again.");
  } finally {
    $("accept").disabled = false;
  }
}

function startRecordStep() {
  $("timer-max").textContent = "of at most " + clock(saved.maxDurationS);
  show("record");
  visible(["camera"]);
}

// --- camera and recording ---

async function cameraOn() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    status("This browser cannot use a camera here. Open the link in a current browser (Chrome, Edge, Firefox or Safari) over https.");
    return;
  }
  status("Waiting for camera permission…");
  $("camera").disabled = true;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      video: { width: { ideal: 640 }, height: { ideal: 480 }, facingMode: "user" },
      audio: false,
    });
  } catch (e) {
    const why = {
      NotAllowedError: "Camera access was blocked. Allow this page to use your camera (in your browser's address bar or site settings), then choose Turn on camera again.",
      SecurityError: "Camera access was blocked. Allow this page to use your camera (in your browser's address bar or site settings), then choose Turn on camera again.",
      NotFoundError: "No camera was found. Connect a camera, then choose Turn on camera again.",
      OverconstrainedError: "No camera was found. Connect a camera, then choose Turn on camera again.",
      NotReadableError: "The camera is in use by another program. Close it, then choose Turn on camera again.",
    }[e && e.name];
    status(why || "The camera could not be started (" + (e && e.message) + "). Choose Turn on camera to try again.");
    visible(["camera"]);
    return;
  } finally {
    $("camera").disabled = false;
  }
  $("preview").srcObject = stream;
  $("preview").play().catch(() => {});
  status("");
  visible(["start"]);
}

function stopCamera() {
  if (stream) for (const t of stream.getTracks()) t.stop();
  stream = null;
  clearInterval(timer);
}

function startRecording() {
  const type = TYPES.find((t) => window.MediaRecorder && MediaRecorder.isTypeSupported(t));
  if (!type) {
    status("This browser cannot record video. Open the link in a current browser.");
    return;
  }
  chunks = [];
  let size = 0;
  recorder = new MediaRecorder(stream, { mimeType: type, videoBitsPerSecond: 1000000 });
  recorder.ondataavailable = (e) => {
    if (!e.data.size) return;
    chunks.push(e.data);
    size += e.data.size;
    if (saved.maxUploadBytes && size > saved.maxUploadBytes * 0.95 && recorder.state === "recording") {
      status("The recording reached its largest allowed size and was stopped.");
      recorder.stop();
    }
  };
  recorder.onstop = () => {
    clearInterval(timer);
    $("rec-dot").hidden = true;
    recording = new Blob(chunks, { type: type.split(";")[0] });
    chunks = [];
    if (!recording.size) {
      status("Nothing was recorded. Choose Record again.");
      visible(["again"]);
      return;
    }
    visible(["send", "again"]);
  };
  recorder.onerror = (e) => {
    status("Recording failed (" + ((e.error && e.error.message) || "unknown error") + "). Choose Record again.");
  };
  const t0 = performance.now();
  $("timer").textContent = clock(0);
  timer = setInterval(() => {
    const s = (performance.now() - t0) / 1000;
    $("timer").textContent = clock(s);
    if (s >= saved.maxDurationS && recorder.state === "recording") {
      status("The recording reached its longest allowed time and was stopped.");
      recorder.stop();
    }
  }, 250);
  recorder.start(1000);
  $("rec-dot").hidden = false;
  visible(["stop"]);
}

function stopRecording() {
  if (recorder && recorder.state === "recording") recorder.stop();
}

// --- upload ---

async function send() {
  stopCamera();
  show("upload");
  if (!uploader) {
    uploader = new Uploader(recording, saved.slot, {
      onProgress: (f) => {
        const pct = Math.floor(f * 100);
        $("progress").value = pct;
        $("progress-text").textContent = pct + " %";
      },
    });
  }
  $("retry").hidden = true;
  status("");
  try {
    await uploader.run();
  } catch (e) {
    if (e instanceof UploadError && e.kind === "network") {
      status("Sending failed: the connection was interrupted. Check your internet connection, then choose Try again.");
      $("retry").hidden = false;
      $("retry").focus();
      return;
    }
    if (e instanceof UploadError && e.kind === "exists") {
      finish();
      return;
    }
    const msg = e instanceof UploadError && e.kind === "expired"
      ? "The time allowed for sending this recording is over. Please ask the organisation that invited you for a new link."
      : "Sending failed: " + (e && e.message) + " Please contact the organisation that invited you.";
    problem(msg);
    return;
  }
  finish();
}

function finish() {
  save({ ...saved, done: true, slot: null });
  if (saved.deletion) $("done-deletion").textContent = saved.deletion;
  show("done");
}

// --- start ---

$("accept").addEventListener("click", accept);
$("decline").addEventListener("click", () => show("declined"));
$("reconsider").addEventListener("click", () => show("consent"));
$("camera").addEventListener("click", cameraOn);
$("start").addEventListener("click", startRecording);
$("stop").addEventListener("click", stopRecording);
$("send").addEventListener("click", send);
$("again").addEventListener("click", () => {
  recording = null;
  $("timer").textContent = clock(0);
  startRecording();
});
$("retry").addEventListener("click", send);

// After a reload the link is used, but this tab holds the upload link.
if (saved && saved.done) {
  finish();
} else if (saved && saved.slot && Date.now() < Date.parse(saved.slot.expiresAt)) {
  startRecordStep();
} else if (main.dataset.state === "consent") {
  show("consent");
}
main.dataset.ready = "true";
