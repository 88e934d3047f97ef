// The upload page: send the photo to /predict, draw the top classes, then ask /explain for
// the "look inside" pictures. No libraries, no network beyond this server.
"use strict";

const $ = (id) => document.getElementById(id);
const fileInput = $("file");
const drop = $("drop");
let current = 0; // only the latest photo's answers are drawn

function percent(p) {
  return (100 * p).toFixed(1) + "%";
}

async function problem(response) {
  try {
    const body = await response.json();
    return body.detail || response.statusText;
  } catch {
    return response.statusText || "the server did not answer";
  }
}

function showPrediction(result) {
  $("label").textContent = result.label;
  $("confidence").textContent = `(${percent(result.top_k[0].probability)} sure)`;
  $("label-line").hidden = false;
  $("status").textContent = `${result.model} answered in ${result.elapsed_ms.toFixed(1)} ms.`;
  $("status").className = "muted";
  const list = $("top-k");
  list.replaceChildren();
  for (const item of result.top_k) {
    const li = document.createElement("li");
    li.dataset.class = item.class;
    li.dataset.probability = String(item.probability);
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = item.class;
    const track = document.createElement("span");
    track.className = "track";
    track.setAttribute("role", "meter");
    track.setAttribute("aria-valuemin", "0");
    track.setAttribute("aria-valuemax", "100");
    track.setAttribute("aria-valuenow", (100 * item.probability).toFixed(1));
    track.setAttribute("aria-label", `probability of ${item.class}`);
    const fill = document.createElement("span");
    fill.className = "fill";
    fill.style.display = "block";
    fill.style.width = `${(100 * item.probability).toFixed(2)}%`;
    track.append(fill);
    const pct = document.createElement("span");
    pct.className = "pct";
    pct.textContent = percent(item.probability);
    li.append(name, track, pct);
    list.append(li);
  }
}

function figure(src, caption, alt) {
  const fig = document.createElement("figure");
  const img = document.createElement("img");
  img.src = "data:image/png;base64," + src;
  img.alt = alt;
  const cap = document.createElement("figcaption");
  cap.textContent = caption;
  fig.append(img, cap);
  return fig;
}

function showInside(result) {
  const body = $("inside-body");
  body.replaceChildren(
    figure(result.saliency_png, "Saliency: photo, saliency map, and the map over the photo.",
      `Saliency map for the class ${result.prediction.label}`),
  );
  for (const panel of result.activations) {
    body.append(figure(panel.png, `${panel.layer}: ${panel.kind}, output shape ${panel.shape.join("×")}`,
      `Activations of layer ${panel.layer}`));
  }
}

function fail(message) {
  $("status").textContent = message;
  $("status").className = "error";
  $("label-line").hidden = true;
  $("top-k").replaceChildren();
  $("preview").hidden = true; // a file that is not an image has nothing to show
}

async function classify(file) {
  if (!file) return;
  const mine = ++current;
  const preview = $("preview");
  preview.src = URL.createObjectURL(file);
  preview.hidden = false;
  $("answer").setAttribute("aria-busy", "true");
  $("status").textContent = "Thinking…";
  $("status").className = "muted";
  $("inside-body").replaceChildren(Object.assign(document.createElement("p"),
    { className: "muted", textContent: "Computing…" }));
  const form = () => {
    const data = new FormData();
    data.append("file", file, file.name || "photo");
    return data;
  };
  try {
    const response = await fetch("/predict?top_k=5", { method: "POST", body: form() });
    if (mine !== current) return;
    if (!response.ok) {
      fail(`Could not classify this file: ${await problem(response)}`);
      $("inside-body").replaceChildren();
      return;
    }
    showPrediction(await response.json());
  } catch (err) {
    if (mine === current) fail(`The server could not be reached (${err}).`);
    return;
  } finally {
    if (mine === current) $("answer").setAttribute("aria-busy", "false");
  }
  try {
    const response = await fetch("/explain", { method: "POST", body: form() });
    if (mine !== current) return;
    if (response.ok) {
      showInside(await response.json());
    } else {
      $("inside-body").textContent = `No pictures: ${await problem(response)}`;
    }
  } catch (err) {
    if (mine === current) $("inside-body").textContent = `No pictures (${err}).`;
  }
}

fileInput.addEventListener("change", () => classify(fileInput.files[0]));
for (const name of ["dragenter", "dragover"]) {
  drop.addEventListener(name, (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
}
for (const name of ["dragleave", "drop"]) {
  drop.addEventListener(name, () => drop.classList.remove("over"));
}
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  const file = event.dataTransfer.files[0];
  if (file) classify(file);
});
// Dropping a photo anywhere on the page should not make the browser navigate away to it.
window.addEventListener("dragover", (event) => event.preventDefault());
window.addEventListener("drop", (event) => event.preventDefault());

fetch("/model")
  .then((r) => (r.ok ? r.json() : Promise.reject(r.statusText)))
  .then((info) => {
    if (info.kind === "tensors") { // not a photo classifier: the JSON API is the way in
      const shape = (s) => s.map((n) => n ?? "any").join("×") || "one number";
      const inputs = info.inputs.map((i) => `${i.name} (${shape(i.shape)})`);
      $("model-line").textContent =
        `Model "${info.name}" takes named inputs, not photos: ${inputs.join(", ")}. ` +
        'POST them to /predict as JSON {"inputs": {...}}; the API documentation shows how.';
      fileInput.disabled = true;
      drop.style.display = "none"; // .drop sets display, which would beat the hidden attribute
      return;
    }
    const [h, w, c] = info.input_shape;
    $("model-line").textContent =
      `Model "${info.name}": ${info.class_names.length} classes (${info.class_names.slice(0, 6).join(", ")}` +
      `${info.class_names.length > 6 ? ", …" : ""}), sees ${h}×${w} pixels, ${c} channel${c === 1 ? "" : "s"}.`;
  })
  .catch(() => { $("model-line").textContent = "The model details are unavailable."; });
