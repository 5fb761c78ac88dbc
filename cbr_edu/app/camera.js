// The builder's webcam (an anywidget module; no build step, nothing downloaded).
// It shows the camera and sends JPEG frames to Python as binary buffers:
//   mode "hold": frames while the button is held down (samples for a class);
//   mode "live": one frame, then the next when Python says it is ready (preview).

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function grab(video, canvas, side) {
  const scale = Math.min(1, side / Math.max(video.videoWidth, video.videoHeight));
  canvas.width = Math.round(video.videoWidth * scale);
  canvas.height = Math.round(video.videoHeight * scale);
  canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
  return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.9));
}

function problem(error) {
  if (!window.isSecureContext) {
    return "the browser allows the camera only on https:// or localhost pages";
  }
  if (error && error.name === "NotAllowedError") {
    return "camera permission was refused: allow it in the browser's address bar";
  }
  if (error && error.name === "NotFoundError") {
    return "no camera found";
  }
  return "camera unavailable (" + (error && (error.message || error.name)) + ")";
}

function render({ model, el }) {
  el.classList.add("cbr-camera");
  const video = document.createElement("video");
  video.autoplay = true;
  video.muted = true;
  video.playsInline = true;
  video.width = model.get("width");
  const button = document.createElement("button");
  button.className = "jupyter-button widget-button cbr-camera-button";
  button.textContent = model.get("label");
  button.disabled = true;
  const status = document.createElement("div");
  status.className = "cbr-camera-status";
  status.textContent = "starting the camera...";
  el.append(video, button, status);

  const canvas = document.createElement("canvas");
  let stream = null;
  let alive = true;
  let holding = false;
  let paused = false;

  // resolves when Python has handled the last live frame (or after ms)
  function reply(ms) {
    return new Promise((resolve) => {
      const done = () => {
        model.off("msg:custom", done);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(done, ms);
      model.on("msg:custom", done);
    });
  }

  async function send(purpose) {
    if (!stream || video.videoWidth === 0) return false;
    const blob = await grab(video, canvas, model.get("frame_side"));
    if (!blob || !alive) return false;
    const buffer = await blob.arrayBuffer();
    model.send({ event: "frame", purpose: purpose }, undefined, [buffer]);
    return true;
  }

  async function record() {
    let sent = 0;
    while (holding && alive) {
      if (await send("sample")) sent += 1;
      status.textContent = "recording: " + sent + " frame(s)";
      await sleep(1000 / model.get("fps"));
    }
  }

  async function live() {
    while (alive) {
      if (!paused) {
        const answered = reply(3000);
        if (await send("preview")) await answered;
      }
      await sleep(1000 / model.get("fps"));
    }
  }

  function stopHolding() {
    holding = false;
  }

  if (model.get("mode") === "hold") {
    button.addEventListener("pointerdown", (event) => {
      if (holding || button.disabled) return;
      holding = true;
      // the button keeps the pointer while held: new thumbnails above it move it on the
      // page, and that must not end the recording
      try {
        button.setPointerCapture(event.pointerId);
      } catch (error) {
        // a pointer that cannot be captured still records until it is released
      }
      record();
    });
    for (const name of ["pointerup", "pointercancel", "lostpointercapture"]) {
      button.addEventListener(name, stopHolding);
    }
  } else {
    button.addEventListener("click", () => {
      paused = !paused;
      button.textContent = paused ? "resume" : model.get("label");
      status.textContent = paused ? "paused" : "live";
    });
  }

  const media = navigator.mediaDevices;
  const start = media && media.getUserMedia
    ? media.getUserMedia({ video: { width: 640, height: 480 }, audio: false })
    : Promise.reject(null);
  start.then((s) => {
    if (!alive) {
      s.getTracks().forEach((track) => track.stop());
      return;
    }
    stream = s;
    video.srcObject = s;
    button.disabled = false;
    status.textContent = model.get("mode") === "hold" ? "ready" : "live";
    if (model.get("mode") === "live") live();
  }).catch((error) => {
    const text = problem(error);
    status.textContent = text + " - upload photos instead";
    model.send({ event: "error", message: text });
  });

  return () => {
    alive = false;
    holding = false;
    if (stream) stream.getTracks().forEach((track) => track.stop());
  };
}

export default { render };
