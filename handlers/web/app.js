// The participant page: consent, camera, recording, upload, done.
// State that must survive a reload (the upload link, once consent is
// given) is kept in sessionStorage under this link's token only. When
// the consent answer has a sequence, the recording is a stimulus study's:
// the sequence runs full-window while it records (class Study), and its
// viewing log is sent before the video.
import { Uploader, UploadError, putJSON } from "./upload.js";

const $ = (id) => document.getElementById(id);
const main = $("main");
const token = decodeURIComponent(location.pathname.split("/").pop());
const storeKey = "facet:" + token;
const TYPES = ["video/webm;codecs=vp8", "video/webm;codecs=vp9", "video/webm", "video/mp4"];
const STUDY_TAIL_MS = 1000;

let saved = load();
let stream = null;
let recorder = null;
let chunks = [];
let recording = null; // the finished Blob
let uploader = null;
let timer = 0;
let study = null; // the running stimulus study, until its recording is sent
let viewingLog = null; // its log, once it has ended
let logSent = false;
let pointerTimer = 0;
let holdPage = false; // a study runs or its recording is being sent: ask before leaving

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
  holdPage = false;
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
const isStudy = () => Boolean(saved && saved.slot && saved.slot.sequence && saved.slot.sequence.length);
const recordType = () => TYPES.find((t) => window.MediaRecorder && MediaRecorder.isTypeSupported(t));

// --- consent ---

async function accept() {
  $("accept").disabled = true;
  status("Saving your consent…");
  try {
    const res = await fetch("/api/invitations/" + encodeURIComponent(token) + "/consent", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(consentBody()),
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
      completionUrl: body.completionUrl || "",
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
  if (isStudy()) studyStep();
  show("record");
  visible(["camera"]);
}

// studyStep turns the recording step into a stimulus study's camera
// check: the participant judges the preview, then starts the study.
function studyStep() {
  const items = plan(saved.slot);
  const secs = items.reduce((s, it) => s + it.seconds, 0);
  const about = secs < 90 ? Math.max(1, Math.round(secs)) + " seconds" : Math.round(secs / 60) + " minutes";
  const first = items.length && items[0].kind === "baseline" ? "First look at the cross in the middle, then watch" : "Watch";
  const sound = items.some((it) => it.kind === "video") ? " Videos may have sound: turn your sound on." : "";
  $("record-title").textContent = "Check your camera";
  $("record-hint").textContent =
    "Sit facing the camera in good light: your whole face should be visible and evenly lit in the preview. " +
    "When you choose Start, the study fills the screen for about " + about + " while the camera records. " +
    first + " what is shown as you normally would." + sound +
    " To stop early, move the mouse and choose Stop and send, or press Esc.";
  $("timer").parentElement.hidden = true;
  $("start").textContent = "Start";
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
  const type = recordType();
  if (!type) {
    status("This browser cannot record video. Open the link in a current browser.");
    return;
  }
  chunks = [];
  let size = 0;
  recorder = new MediaRecorder(stream, { mimeType: type, videoBitsPerSecond: 1000000 });
  // limit stops the recording; a study's through the study, which ends
  // what is on screen first.
  const limit = (msg) => {
    status(msg);
    if (study) study.stop();
    else if (recorder.state === "recording") recorder.stop();
  };
  recorder.ondataavailable = (e) => {
    if (!e.data.size) return;
    chunks.push(e.data);
    size += e.data.size;
    if (saved.maxUploadBytes && size > saved.maxUploadBytes * 0.95 && recorder.state === "recording") {
      limit("The recording reached its largest allowed size and was stopped.");
    }
  };
  recorder.onstop = () => {
    clearInterval(timer);
    $("rec-dot").hidden = true;
    recording = new Blob(chunks, { type: type.split(";")[0] });
    chunks = [];
    if (study) {
      studyRecorded();
      return;
    }
    if (!recording.size) {
      status("Nothing was recorded. Choose Record again.");
      visible(["again"]);
      return;
    }
    visible(["send", "again"]);
  };
  recorder.onerror = (e) => {
    status("Recording failed (" + ((e.error && e.error.message) || "unknown error") + "). Choose Record again.");
    if (study) study.stop();
  };
  const t0 = performance.now();
  // A study's recording runs on after the study ends (studyEnded): the
  // study stops that much earlier, with a margin for the timer's steps.
  const maxS = saved.maxDurationS - (study ? STUDY_TAIL_MS / 1000 + 0.5 : 0);
  $("timer").textContent = clock(0);
  timer = setInterval(() => {
    const s = (performance.now() - t0) / 1000;
    $("timer").textContent = clock(s);
    if (s >= maxS && recorder.state === "recording") {
      limit("The recording reached its longest allowed time and was stopped.");
    }
  }, 250);
  if (study) {
    // The viewing log's clock: zero when the recorder has started.
    const s = study;
    recorder.onstart = () => s.run(performance.now()).then(studyEnded);
  }
  recorder.start(1000);
  $("rec-dot").hidden = false;
  visible(["stop"]);
}

function stopRecording() {
  if (recorder && recorder.state === "recording") recorder.stop();
}

// --- stimulus study: start, end, sending ---

// startStudy runs on the participant's click: fullscreen needs it, and
// it lets the videos play with sound.
function startStudy() {
  if (!recordType()) {
    status("This browser cannot record video. Open the link in a current browser.");
    return;
  }
  fullscreen(true);
  study = new Study($("study"), plan(saved.slot), { note: $("stage-note") });
  viewingLog = null;
  logSent = false;
  recording = null;
  uploader = null;
  holdPage = true;
  show("study");
  startRecording();
}

// studyEnded has the log of a study that ran to its end or was stopped:
// the recording stops a moment later, and is sent with it. The moment
// lets the recorder encode the frames up to the log's last event: a
// recorder drops those it has not encoded yet when it stops (Chromium,
// busy, was seen cutting 0.4 s), which would cut the end of the last
// stimulus off the video. The server allows the recording to run on
// past the log (viewing.go, ViewTailS).
function studyEnded(log) {
  viewingLog = log;
  fullscreen(false);
  setTimeout(() => {
    if (recorder && recorder.state === "recording") recorder.stop(); // onstop: studyRecorded
    else studyRecorded();
  }, STUDY_TAIL_MS);
}

// studyRecorded sends the study's log and recording once both exist. A
// recorder that stopped by itself (a limit, an error) ends the study
// first.
function studyRecorded() {
  if (!viewingLog) {
    if (study) study.stop(); // studyEnded follows
    return;
  }
  if (!recording) return;
  study = null;
  $("study").classList.remove("pointer");
  if (!recording.size) {
    viewingLog = null;
    holdPage = false;
    show("record");
    status("Nothing was recorded. Choose Start to try again.");
    visible(["start"]);
    return;
  }
  send();
}

function fullscreen(on) {
  try {
    const d = document;
    const p = on ? d.documentElement.requestFullscreen && d.documentElement.requestFullscreen({ navigationUI: "hide" })
      : d.fullscreenElement && d.exitFullscreen();
    if (p && p.catch) p.catch(() => {});
  } catch {
    // no fullscreen here: the study fills the window all the same
  }
}

// showStop shows the stop control for a while after the pointer moves;
// for good once the participant has left fullscreen.
function showStop(keep) {
  $("study").classList.add("pointer");
  clearTimeout(pointerTimer);
  if (!keep) pointerTimer = setTimeout(() => $("study").classList.remove("pointer"), 2500);
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
    if (viewingLog && !logSent) {
      await sendViewingLog();
      logSent = true;
    }
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

// sendViewingLog puts a study's log before its video. One already there
// was sent before a reload.
async function sendViewingLog() {
  try {
    await putJSON(saved.slot.viewingLogUrl, viewingLog, saved.slot.expiresAt);
  } catch (e) {
    if (!(e instanceof UploadError && e.kind === "exists")) throw e;
  }
}

function finish() {
  holdPage = false;
  save({ ...saved, done: true, slot: null });
  if (saved.deletion) $("done-deletion").textContent = saved.deletion;
  show("done");
  // An open link's survey takes the participant back (the service fixed
  // the address, https only; the link cannot change it).
  const back = saved.completionUrl || "";
  if (back.startsWith("https://")) setTimeout(() => location.assign(back), 1500);
}

// consentBody is the consent answer; a panel's own participant id comes
// from the link's ?ext= and is kept only when the link allows it.
function consentBody() {
  const body = { accept: true, consentVersion: main.dataset.consentVersion };
  const ext = new URLSearchParams(location.search).get("ext");
  if (ext) body.ext = ext.slice(0, 256);
  return body;
}

// --- stimulus study: the sequence on screen and its viewing log (Study) ---
//
// While one recording runs, the sequence fills the window (the
// baseline's fixation cross, then each stimulus from its read link), and
// the viewing log says what was on screen when, on the recorder's clock
// (viewing.go reads it: times are seconds since the recorder started,
// recorderStartT is 0).

const BASELINE = "baseline";
// MAX_EVENTS keeps a log under the server's bound (viewing.go,
// MaxViewEvents): past it, only starts and ends are logged.
const MAX_EVENTS = 19000;
// READY_TIMEOUT_MS: a stimulus that cannot be loaded in this time is
// skipped (the analysis then warns that it never started).
const READY_TIMEOUT_MS = 30000;
// PLAY_AFTER_CANPLAY_MS: a browser that keeps waiting for enough data to
// play through (a slow connection) starts the video this long after it
// could start: a stall then shows in the log as waiting and playing.
const PLAY_AFTER_CANPLAY_MS = 3000;

const round = (s) => Math.round(s * 1000) / 1000;

// plan turns the consent answer's sequence into the items shown, in
// order: {id, kind: baseline | video | image, url, seconds}. seconds is
// the time on screen (a video's duration as probed).
function plan(slot) {
  const byID = new Map((slot.stimuli || []).map((s) => [s.id, s]));
  const items = [];
  for (const id of slot.sequence || []) {
    if (id === BASELINE) {
      if (slot.baselineS > 0) items.push({ id, kind: "baseline", seconds: slot.baselineS });
      continue;
    }
    const s = byID.get(id);
    if (!s) continue; // the server gives a link for every stimulus of the sequence
    const video = s.kind === "video";
    items.push({ id, kind: video ? "video" : "image", url: s.url, seconds: (video ? s.durationS : s.displayS) || 0 });
  }
  return items;
}

// Study shows items on stage and logs the viewing. The stage holds the
// fixation cross (#fixation); videos and images are added to it, each
// loaded while the one before is on screen, and removed after.
class Study {
  constructor(stage, items, opts = {}) {
    this.stage = stage;
    this.items = items;
    this.fixation = stage.querySelector("#fixation");
    this.note = opts.note || null; // shown while the next stimulus loads or a video stalls
    this.events = [];
    this.t0 = 0;
    this.current = null; // {item, el, shownAt, finish}: what is on screen
    this.blurred = false;
    this.stopped = false;
    this.prepared = new Map(); // index -> Promise of the item's element
    this.noteTimer = 0;
    this.stopSignal = new Promise((resolve) => (this.signalStop = resolve));
  }

  // run shows the sequence from the recorder's start (t0, a
  // performance.now() time) to its end, or until stop, and resolves with
  // the viewing log.
  async run(t0) {
    this.t0 = t0;
    const unwatch = this.watchFocus();
    try {
      for (let i = 0; i < this.items.length && !this.stopped; i++) {
        const el = await this.ready(i);
        if (this.stopped) break;
        if (!el) continue; // could not be loaded: skipped
        if (i + 1 < this.items.length) this.prepare(i + 1).catch(() => {});
        await this.present(this.items[i], el);
        this.discard(el);
      }
    } finally {
      unwatch();
      this.showNote(false);
      for (const p of this.prepared.values()) p.then((el) => this.discard(el), () => {});
    }
    return { recorderStartT: 0, events: this.events };
  }

  // stop ends the sequence early: the stimulus on screen gets its end.
  stop() {
    this.stopped = true;
    this.signalStop();
    if (this.current) this.current.finish();
  }

  // log appends an event stamped now on the recorder's clock.
  log(kind, item, mediaT, media) {
    if (this.events.length >= MAX_EVENTS && kind !== "start" && kind !== "end") return;
    const n = this.events.length;
    const t = round((performance.now() - this.t0) / 1000);
    const e = { t: n ? Math.max(this.events[n - 1].t, t) : Math.max(0, t), kind };
    if (item) e.stimulus = item.id;
    if (media) e.media = media;
    e.mediaT = Number.isFinite(mediaT) ? round(Math.max(0, mediaT)) : 0;
    this.events.push(e);
  }

  // mediaT is the time of what is on screen: a video's own, or the
  // seconds an image (or the cross) has been shown.
  mediaT(c) {
    return c.item.kind === "video" ? c.el.currentTime : (performance.now() - c.shownAt) / 1000;
  }

  // ready waits for item i's element; null if it could not be loaded or
  // the study was stopped meanwhile.
  async ready(i) {
    const slow = setTimeout(() => this.showNote(true), 500);
    try {
      return await Promise.race([this.prepare(i), this.stopSignal.then(() => null)]);
    } catch {
      return null;
    } finally {
      clearTimeout(slow);
      this.showNote(false);
    }
  }

  prepare(i) {
    if (!this.prepared.has(i)) this.prepared.set(i, this.load(this.items[i]));
    return this.prepared.get(i);
  }

  // load makes the item's element, hidden, and resolves when it can be
  // shown at once: an image decoded, a video able to play.
  async load(item) {
    if (item.kind === "baseline") return this.fixation;
    let el;
    if (item.kind === "image") {
      el = document.createElement("img");
      el.alt = "";
    } else {
      el = document.createElement("video");
      el.playsInline = true;
      el.preload = "auto";
      el.disablePictureInPicture = true;
      this.watchVideo(el);
    }
    el.hidden = true;
    el.className = "stimulus";
    this.stage.prepend(el); // below the stop control
    let timer;
    try {
      await Promise.race([
        item.kind === "image" ? loadImage(el, item.url) : loadVideo(el, item.url),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error("timeout")), READY_TIMEOUT_MS))),
      ]);
    } catch (e) {
      this.discard(el);
      throw e;
    } finally {
      clearTimeout(timer);
    }
    return el;
  }

  // present shows item until it is over (a video's end, an image's or
  // the baseline's time) or the study stops.
  present(item, el) {
    return new Promise((resolve) => {
      let done = false;
      let timer = 0;
      const c = { item, el, shownAt: performance.now(), finish: null };
      c.finish = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.log("end", item, this.mediaT(c));
        this.current = null;
        el.hidden = true;
        if (item.kind === "video") el.pause();
        delete this.stage.dataset.showing;
        delete this.stage.dataset.waiting;
        this.showNote(false);
        resolve();
      };
      this.current = c;
      el.hidden = false;
      this.stage.dataset.showing = item.id;
      if (item.kind !== "video") {
        this.log("start", item, 0, "image");
        timer = setTimeout(c.finish, item.seconds * 1000);
        return;
      }
      this.log("start", item, el.currentTime, "video");
      // With sound if the browser allows (the participant's click that
      // started the study usually suffices), else muted.
      el.muted = false;
      el.play()
        .catch((e) => {
          if (e && e.name === "NotAllowedError" && !el.muted && !done) {
            el.muted = true;
            return el.play();
          }
          throw e;
        })
        .catch(() => c.finish());
    });
  }

  // watchVideo logs the video's media events while it is on screen.
  watchVideo(v) {
    for (const kind of ["playing", "waiting", "pause", "ended"]) {
      v.addEventListener(kind, () => {
        const c = this.current;
        if (!c || c.el !== v) return;
        this.log(kind, c.item, v.currentTime);
        if (kind === "waiting") {
          this.stage.dataset.waiting = "true";
          this.showNote(true, 500);
        } else {
          delete this.stage.dataset.waiting;
          this.showNote(false);
        }
        if (kind === "ended") c.finish();
      });
    }
    v.addEventListener("error", () => {
      const c = this.current;
      if (c && c.el === v) c.finish();
    });
  }

  // watchFocus logs the window losing and getting back the focus (or
  // the tab being hidden and shown) and returns the function that stops
  // watching.
  watchFocus() {
    const blur = () => {
      if (this.blurred) return;
      this.blurred = true;
      const c = this.current;
      this.log("blur", c && c.item, c ? this.mediaT(c) : 0);
    };
    const focus = () => {
      if (!this.blurred || document.hidden) return;
      this.blurred = false;
      const c = this.current;
      this.log("focus", c && c.item, c ? this.mediaT(c) : 0);
    };
    const visibility = () => (document.hidden ? blur() : focus());
    window.addEventListener("blur", blur);
    window.addEventListener("focus", focus);
    document.addEventListener("visibilitychange", visibility);
    return () => {
      window.removeEventListener("blur", blur);
      window.removeEventListener("focus", focus);
      document.removeEventListener("visibilitychange", visibility);
    };
  }

  // discard removes a stimulus's element (the cross stays) and lets go
  // of a video's connection.
  discard(el) {
    if (el === this.fixation) {
      el.hidden = true;
      return;
    }
    if (el instanceof HTMLVideoElement) {
      el.pause();
      el.removeAttribute("src");
      el.load();
    }
    el.remove();
  }

  // showNote shows the loading note, after delay ms.
  showNote(on, delay = 0) {
    clearTimeout(this.noteTimer);
    if (!this.note) return;
    if (!on) {
      this.note.hidden = true;
    } else if (delay) {
      this.noteTimer = setTimeout(() => (this.note.hidden = false), delay);
    } else {
      this.note.hidden = false;
    }
  }
}

// loadImage resolves when the image is decoded.
function loadImage(img, url) {
  img.src = url;
  return img.decode();
}

// loadVideo resolves when the video can play through, or a while after
// it can start.
function loadVideo(v, url) {
  return new Promise((resolve, reject) => {
    let timer = 0;
    v.addEventListener("canplaythrough", () => { clearTimeout(timer); resolve(); }, { once: true });
    v.addEventListener("canplay", () => { timer = setTimeout(resolve, PLAY_AFTER_CANPLAY_MS); }, { once: true });
    v.addEventListener("error", () => { clearTimeout(timer); reject(new Error("the video could not be loaded")); }, { once: true });
    v.src = url;
  });
}

// --- start ---

$("accept").addEventListener("click", accept);
$("decline").addEventListener("click", () => show("declined"));
$("reconsider").addEventListener("click", () => show("consent"));
$("camera").addEventListener("click", cameraOn);
$("start").addEventListener("click", () => (isStudy() ? startStudy() : startRecording()));
$("stop").addEventListener("click", stopRecording);
$("send").addEventListener("click", send);
$("again").addEventListener("click", () => {
  recording = null;
  $("timer").textContent = clock(0);
  startRecording();
});
$("retry").addEventListener("click", send);
$("abort").addEventListener("click", () => study && study.stop());
$("study").addEventListener("pointermove", () => showStop(false));
$("study").addEventListener("pointerdown", () => showStop(false));
document.addEventListener("keydown", (e) => {
  if (e.key === "Escape" && study) study.stop();
});
// Closing the tab mid-study loses the recording (it is sent only at the
// end, and a log without its video would be of no use): the browser asks
// first. Nothing is sent on the way out.
window.addEventListener("beforeunload", (e) => {
  if (holdPage) e.preventDefault();
});
document.addEventListener("fullscreenchange", () => {
  // Esc in fullscreen leaves it without reaching the page: keep the stop
  // control in sight instead.
  if (!document.fullscreenElement && study && !viewingLog) showStop(true);
});

// After a reload the link is used, but this tab holds the upload link.
if (saved && saved.done) {
  finish();
} else if (saved && saved.slot && Date.now() < Date.parse(saved.slot.expiresAt)) {
  startRecordStep();
} else if (main.dataset.state === "consent") {
  show("consent");
}
main.dataset.ready = "true";
