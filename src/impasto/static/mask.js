// The mask brush on the studio page: paint on the photo where each painting goes (one layer per
// painting), erase, clear, invert, brush size. studio.js asks window.ImpastoMask for the masks at
// submit time: one grey PNG per painting sent (white = paint here, black = keep the photo).
(function () {
  "use strict";
  const box = document.getElementById("mask");
  if (!box) return;
  const photo = document.querySelector("#drop-content .preview");
  const editor = document.getElementById("mask-editor");
  const canvas = document.getElementById("mask-canvas");
  const view = canvas.getContext("2d");
  const second = document.getElementById("second-style");
  const secondLayer = document.getElementById("mask-layer-2");
  const LONGEST = 1024; // the server resizes the mask to the photo: this is plenty for a brush
  const TINTS = ["rgb(230, 60, 60)", "rgb(50, 110, 240)"];
  let layers = [];  // one transparent canvas per painting; painted parts opaque white
  let active = false;  // true while the editor is open: the masks go with the job
  let last = null;

  function makeLayer() {
    const layer = document.createElement("canvas");
    layer.width = canvas.width;
    layer.height = canvas.height;
    return layer;
  }
  function reset() {
    const scale = Math.min(1, LONGEST / Math.max(photo.naturalWidth, photo.naturalHeight));
    canvas.width = Math.max(1, Math.round(photo.naturalWidth * scale));
    canvas.height = Math.max(1, Math.round(photo.naturalHeight * scale));
    layers = [makeLayer(), makeLayer()];
    render();
  }
  function layerIndex() {
    const picked = document.querySelector("input[name=mask_layer]:checked");
    return picked ? Number(picked.value) : 0;
  }
  function tinted(layer, colour) {
    const tint = makeLayer();
    const ctx = tint.getContext("2d");
    ctx.drawImage(layer, 0, 0);
    ctx.globalCompositeOperation = "source-in";
    ctx.fillStyle = colour;
    ctx.fillRect(0, 0, tint.width, tint.height);
    return tint;
  }
  function render() {
    view.globalAlpha = 1;
    view.drawImage(photo, 0, 0, canvas.width, canvas.height);
    layers.forEach((layer, i) => {
      if (i === 1 && second.hidden) return;
      view.globalAlpha = i === layerIndex() ? 0.55 : 0.3;
      view.drawImage(tinted(layer, TINTS[i]), 0, 0);
    });
    view.globalAlpha = 1;
  }

  // -- the brush -------------------------------------------------------------------------------
  function point(event) {
    const rect = canvas.getBoundingClientRect();
    return { x: (event.clientX - rect.left) * canvas.width / rect.width,
             y: (event.clientY - rect.top) * canvas.height / rect.height };
  }
  function stroke(from, to) {
    const ctx = layers[layerIndex()].getContext("2d");
    const erase = document.querySelector("input[name=mask_tool]:checked").value === "erase";
    ctx.globalCompositeOperation = erase ? "destination-out" : "source-over";
    ctx.strokeStyle = ctx.fillStyle = "#fff";
    ctx.lineWidth = Number(document.getElementById("mask-size").value) / 100 * Math.max(canvas.width, canvas.height);
    ctx.lineCap = ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(from.x, from.y);
    ctx.lineTo(to.x + 0.01, to.y);  // a click without a move still leaves a dot
    ctx.stroke();
    render();
  }
  canvas.addEventListener("pointerdown", (event) => {
    canvas.setPointerCapture(event.pointerId);
    last = point(event);
    stroke(last, last);
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!last) return;
    const next = point(event);
    stroke(last, next);
    last = next;
  });
  ["pointerup", "pointercancel"].forEach((type) => canvas.addEventListener(type, () => { last = null; }));

  document.getElementById("mask-clear").addEventListener("click", () => {
    layers[layerIndex()] = makeLayer();
    render();
  });
  document.getElementById("mask-invert").addEventListener("click", () => {
    const inverted = makeLayer();
    const ctx = inverted.getContext("2d");
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, inverted.width, inverted.height);
    ctx.globalCompositeOperation = "destination-out";
    ctx.drawImage(layers[layerIndex()], 0, 0);
    layers[layerIndex()] = inverted;
    render();
  });
  document.querySelectorAll("input[name=mask_layer]").forEach((radio) => radio.addEventListener("change", render));

  // -- opening, closing, following the photo and the paintings ---------------------------------
  // A clip (studio.js marks the preview data-clip) is painted whole: no mask for it.
  function photoReady() {
    box.hidden = !(photo.complete && photo.naturalWidth && !photo.hidden && !photo.dataset.clip);
    if (box.hidden) {
      active = false;
      editor.hidden = true;
      document.getElementById("mask-open").hidden = false;
    } else {
      reset();
    }
  }
  photo.addEventListener("load", photoReady);
  new MutationObserver(photoReady).observe(photo, { attributes: true, attributeFilter: ["hidden", "data-clip"] });
  photoReady();
  document.getElementById("mask-open").addEventListener("click", () => {
    active = true;
    editor.hidden = false;
    document.getElementById("mask-open").hidden = true;
    render();
  });
  document.getElementById("mask-off").addEventListener("click", () => {
    active = false;
    editor.hidden = true;
    document.getElementById("mask-open").hidden = false;
    reset();
  });
  function followSecond() {
    secondLayer.hidden = second.hidden;
    if (second.hidden) document.querySelector("input[name=mask_layer][value='0']").checked = true;
    render();
  }
  new MutationObserver(followSecond).observe(second, { attributes: true, attributeFilter: ["hidden"] });
  followSecond();

  // -- what studio.js sends --------------------------------------------------------------------
  function grey(layer) {
    const out = makeLayer();
    const ctx = out.getContext("2d");
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, out.width, out.height);
    ctx.drawImage(layer, 0, 0);
    return new Promise((resolve) => out.toBlob(resolve, "image/png"));
  }
  window.ImpastoMask = {
    // Whether masks go with the job (the editor is open).
    used: () => active && layers.length > 0,
    // The masks of the paintings sent, in the order sent (slots: 0 = first painting, 1 = second).
    blobs: (slots) => Promise.all(slots.map((slot) => grey(layers[slot]))),
  };
})();
