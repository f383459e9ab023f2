// The page of `refineseg serve`: send a chosen, dropped or pasted image to POST api/segment and
// show the overlay and the classes found. No libraries, no external resources: it works offline.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const fileInput = $("file");
  const statusEl = $("status");
  const errorEl = $("error");
  const legend = $("legend");
  const inputImg = $("input");
  const overlayImg = $("overlay");
  const panes = $("result");
  const classesSection = $("classes");
  const downloadOverlay = $("download-overlay");
  const downloadLabels = $("download-labels");

  const keyForm = $("key-form");
  const keyInput = $("key");

  let limits = null; // from api/info: {max_upload_bytes, max_pixels, max_inference_pixels}
  let latest = 0; // only the newest upload's answer is shown
  let inputUrl = null;

  // a server started with an API key answers 401 to api/ requests without it: the page asks for
  // the key once and keeps it for this tab (sessionStorage), sending it as X-API-Key
  const KEY_STORE = "refineseg-api-key";
  let apiKey = "";
  try {
    apiKey = sessionStorage.getItem(KEY_STORE) || "";
  } catch {
    // storage may be off: the key is then asked for again after a reload
  }

  function apiHeaders(extra) {
    return apiKey ? { ...extra, "X-API-Key": apiKey } : { ...extra };
  }

  function askForKey(message) {
    keyForm.hidden = false;
    keyInput.value = "";
    keyInput.focus();
    if (message) showError(sentence(message));
  }

  function setStatus(text, state) {
    statusEl.textContent = text;
    statusEl.dataset.state = state;
    document.body.setAttribute("aria-busy", state === "busy" ? "true" : "false");
  }

  function showError(message) {
    errorEl.textContent = message;
    errorEl.hidden = !message;
  }

  function formatBytes(n) {
    if (n < 1024) return `${n} B`;
    const [value, unit] = n < 1024 * 1024 ? [n / 1024, "kB"] : [n / (1024 * 1024), "MB"];
    return `${value.toFixed(1).replace(/\.0$/, "")} ${unit}`;
  }

  function sentence(text) {
    const s = String(text).trim();
    return /[.!?]$/.test(s) ? s : `${s}.`;
  }

  function stem(name) {
    return (name || "image").replace(/\.[^.]*$/, "") || "image";
  }

  async function loadInfo() {
    try {
      const response = await fetch("api/info", { headers: apiHeaders({}) });
      if (response.status === 401) {
        const payload = await response.json().catch(() => null);
        $("model").textContent = "the model's details need the server's API key";
        askForKey(payload && payload.error);
        return;
      }
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const info = await response.json();
      limits = info.limits;
      $("model").textContent = `model ${info.model} · ${info.classes.length} classes`;
      const budget = limits.max_inference_pixels
        ? `; larger than ${(limits.max_inference_pixels / 1e6).toFixed(1)} megapixels are segmented shrunk`
        : "";
      $("limits").textContent =
        `(up to ${formatBytes(limits.max_upload_bytes)} and ${(limits.max_pixels / 1e6).toFixed(0)} megapixels${budget})`;
    } catch (err) {
      $("model").textContent = `could not load the model's details (${err.message})`;
    }
  }

  function clearResult() {
    overlayImg.removeAttribute("src");
    overlayImg.alt = "";
    legend.replaceChildren();
    classesSection.hidden = true;
  }

  function fail(message) {
    clearResult();
    panes.hidden = true;
    showError(message);
    setStatus("The image was not segmented.", "error");
  }

  function legendRow(cls) {
    const li = document.createElement("li");
    li.dataset.class = cls.name;
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.backgroundColor = `rgb(${cls.color.join(",")})`;
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = cls.name;
    const share = document.createElement("span");
    share.className = "share";
    share.textContent = `${(cls.share * 100).toFixed(1)}%`;
    li.title = `${cls.pixels.toLocaleString()} pixels`;
    li.append(swatch, name, share);
    return li;
  }

  async function segment(file) {
    if (!file) return;
    const id = ++latest;
    showError("");
    clearResult();
    if (limits && file.size > limits.max_upload_bytes) {
      fail(`${file.name}: the file is ${formatBytes(file.size)}, more than the limit of ${formatBytes(limits.max_upload_bytes)}.`);
      return;
    }
    if (inputUrl) URL.revokeObjectURL(inputUrl);
    inputUrl = URL.createObjectURL(file);
    inputImg.src = inputUrl;
    panes.hidden = false;
    setStatus(`Segmenting ${file.name} (${formatBytes(file.size)})…`, "busy");

    let response;
    let payload = null;
    try {
      response = await fetch("api/segment?format=json", {
        method: "POST",
        body: file,
        headers: apiHeaders({ "Content-Type": file.type || "application/octet-stream" }),
      });
      payload = await response.json().catch(() => null);
    } catch (err) {
      if (id === latest) fail(`${file.name}: could not reach the server (${err.message}).`);
      return;
    }
    if (id !== latest) return;
    if (response.status === 401) {
      fail(`${file.name}: ${sentence(payload && payload.error ? payload.error : "the server needs its API key")}`);
      askForKey("");
      return;
    }
    if (!response.ok || !payload || payload.error) {
      const reason = payload && payload.error ? payload.error : `the server answered ${response.status} ${response.statusText}`;
      fail(`${file.name}: ${sentence(reason)}`);
      return;
    }

    overlayImg.alt = `segmentation of ${file.name}`;
    overlayImg.src = `data:image/png;base64,${payload.overlay_png}`;
    downloadOverlay.href = overlayImg.src;
    downloadOverlay.download = `${stem(file.name)}_overlay.png`;
    downloadLabels.href = `data:image/png;base64,${payload.labels_png}`;
    downloadLabels.download = `${stem(file.name)}_labels.png`;
    legend.replaceChildren(...payload.classes.map(legendRow));
    classesSection.hidden = false;
    try {
      await overlayImg.decode();
    } catch {
      // shown anyway; decode() only tells us when it is ready
    }
    if (id !== latest) return;
    const n = payload.classes.length;
    setStatus(
      `${file.name}: ${payload.width}×${payload.height} pixels, ${n} ${n === 1 ? "class" : "classes"}, ` +
        `${Math.round(payload.elapsed_ms)} ms`,
      "done",
    );
  }

  fileInput.addEventListener("change", () => {
    const file = fileInput.files && fileInput.files[0];
    fileInput.value = ""; // choosing the same file again should segment it again
    segment(file);
  });

  // drop anywhere on the page; without preventDefault the browser would open the file instead
  let depth = 0;
  document.addEventListener("dragenter", (event) => {
    event.preventDefault();
    depth += 1;
    document.body.classList.add("dragging");
  });
  document.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) document.body.classList.remove("dragging");
  });
  document.addEventListener("dragover", (event) => event.preventDefault());
  document.addEventListener("drop", (event) => {
    event.preventDefault();
    depth = 0;
    document.body.classList.remove("dragging");
    const file = event.dataTransfer && event.dataTransfer.files[0];
    if (file) segment(file);
  });
  document.addEventListener("paste", (event) => {
    const file = event.clipboardData && event.clipboardData.files[0];
    if (file) segment(file);
  });

  keyForm.addEventListener("submit", (event) => {
    event.preventDefault(); // handled here: the page's policy allows no form navigation
    apiKey = keyInput.value.trim();
    try {
      sessionStorage.setItem(KEY_STORE, apiKey);
    } catch {
      // kept in memory only
    }
    keyForm.hidden = true;
    showError("");
    loadInfo();
  });

  $("curl").textContent = `curl -F image=@photo.jpg ${new URL("api/segment", location.href)}`;
  loadInfo();
})();
