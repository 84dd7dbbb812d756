// The finished job page: the result is shown at its own size (a 256 px picture as 256 px, not
// stretched and blurred); the zoom buttons show it at 200 % (pixels kept sharp) or fitted to the window.
(function () {
  "use strict";
  const figure = document.getElementById("result-figure");
  const img = document.getElementById("result");
  const zoom = document.getElementById("zoom");
  if (!figure || !img || !zoom) return;
  zoom.hidden = false;  // the buttons need this script: show them only now
  const buttons = zoom.querySelectorAll("button[data-zoom]");

  function apply(level) {
    figure.classList.toggle("zoom-fit", level === "fit");
    figure.classList.toggle("zoom-pixels", level !== "fit" && level !== "1");
    img.style.width = level === "fit" ? "" : img.naturalWidth * Number(level) + "px";
    buttons.forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.zoom === level)));
  }
  buttons.forEach((b) => b.addEventListener("click", () => apply(b.dataset.zoom)));
  if (img.complete) apply("1");
  else img.addEventListener("load", () => apply("1"), { once: true });
})();
