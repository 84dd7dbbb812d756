// The finished job page. A picture fills the page: fitted to the window (the frame's width and the
// window's height), enlarged smoothly if small; the buttons show it at 100 % or 200 % instead (200 %
// with sharp pixels). A clip plays fitted too, but at most at twice its own size (a
// 64 px clip stretched to the page's width would be a blur). The compare slider lays the photo over
// the result, cut at the split: drag across the picture, or move the slider with the arrow keys.
(function () {
  "use strict";
  const MAX_CLIP_SCALE = 2;

  const video = document.getElementById("result-video");
  if (video) {
    const width = Number(video.getAttribute("width")) || 0;
    if (width) video.style.width = "min(100%, " + width * MAX_CLIP_SCALE + "px)";
    return;
  }

  const figure = document.getElementById("result-figure");
  const img = document.getElementById("result");
  const zoom = document.getElementById("zoom");
  if (!figure || !img || !zoom) return;
  const frame = figure.querySelector(".result-frame");
  const shown = document.getElementById("shown-at");
  const buttons = zoom.querySelectorAll("button[data-zoom]");
  let level = "fit";
  zoom.hidden = false;  // the buttons need this script: show them only now

  // The largest scale at which the whole picture is in view: the frame's width, and the window's
  // height less the caption's line (the frame itself scrolls only when zoomed past that).
  function fitScale() {
    const height = Math.max(160, window.innerHeight * 0.88 - 4);  // the frame's max-height: 88vh
    return Math.min(frame.clientWidth / img.naturalWidth, height / img.naturalHeight);
  }

  function apply(next) {
    if (!img.naturalWidth) return;
    level = next;
    const scale = level === "fit" ? fitScale() : Number(level);
    img.style.width = Math.max(1, Math.floor(img.naturalWidth * scale)) + "px";
    figure.classList.add("sized");
    // 200 %: to see the pixels, sharp; fitted, a painting enlarged smoothly still looks painted.
    figure.classList.toggle("zoom-pixels", level !== "fit" && scale >= 2);
    buttons.forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.zoom === level)));
    if (shown) shown.textContent = ", shown at " + Math.round(scale * 100) + " %";
  }
  buttons.forEach((b) => b.addEventListener("click", () => apply(b.dataset.zoom)));
  window.addEventListener("resize", () => { if (level === "fit") apply("fit"); });
  if (img.complete) apply("fit");
  else img.addEventListener("load", () => apply("fit"), { once: true });

  const box = document.getElementById("compare-box");
  const photo = document.getElementById("compare-photo");
  const line = document.getElementById("compare-line");
  const control = document.getElementById("compare-control");
  const range = document.getElementById("compare");
  if (!box || !photo || !line || !control || !range) return;
  photo.hidden = line.hidden = control.hidden = false;

  function split(percent) {
    const value = Math.min(100, Math.max(0, Math.round(percent)));
    range.value = String(value);
    box.style.setProperty("--split", value + "%");
    range.setAttribute("aria-valuetext", value === 0 ? "the result alone"
      : value === 100 ? "your photo alone" : "your photo on the left " + value + " %, the result on the right");
  }
  range.addEventListener("input", () => split(Number(range.value)));

  let dragging = false;
  function follow(event) {
    const rect = box.getBoundingClientRect();
    split(((event.clientX - rect.left) / rect.width) * 100);
  }
  box.classList.add("comparing");
  box.addEventListener("pointerdown", (event) => {
    if (event.button !== 0) return;
    dragging = true;
    box.setPointerCapture(event.pointerId);
    follow(event);
    event.preventDefault();  // no image drag-and-drop
  });
  box.addEventListener("pointermove", (event) => { if (dragging) follow(event); });
  const stop = () => { dragging = false; };
  box.addEventListener("pointerup", stop);
  box.addEventListener("pointercancel", stop);
  split(Number(range.value));
})();
