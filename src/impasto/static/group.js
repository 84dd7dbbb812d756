// A variant group's contact sheet (templates/group.html): every 2 s while a variant is waiting or
// painting, GET /api/groups/<id> and show each one's state and latest picture; once done, its result
// and its "Paint this one larger" button. Without this script the page shows them as they were.
(function () {
  "use strict";
  const sheet = document.getElementById("contact-sheet");
  if (!sheet) return;
  const finished = new Set(sheet.dataset.finished.split(" "));
  const EVERY_MS = 2000;

  function picture(job) {
    const url = job.urls.thumb || job.urls.preview || job.urls.poster || job.urls.content;
    // A preview is rewritten under the same URL while the job paints: ask for each new one.
    const step = job.progress && job.progress.preview_iteration;
    return job.urls.preview && !job.urls.thumb && step != null ? url + "?i=" + step : url;
  }

  function show(job) {
    const cell = sheet.querySelector('.variant-cell[data-id="' + job.id + '"]');
    if (!cell) return;
    cell.dataset.state = job.state;
    const badge = cell.querySelector(".variant-state");
    badge.textContent = job.state;
    badge.className = "badge state-" + job.state + " variant-state";
    const img = cell.querySelector(".variant-picture");
    const src = picture(job);
    if (img.getAttribute("src") !== src) img.setAttribute("src", src);
    const larger = cell.querySelector(".variant-larger");
    if (larger) larger.hidden = job.state !== "done";
  }

  async function refresh() {
    let again = true;
    try {
      const response = await fetch(sheet.dataset.status, { cache: "no-store" });
      if (response.ok) {
        const jobs = (await response.json()).jobs;
        jobs.forEach(show);
        again = jobs.some((job) => !finished.has(job.state));
      }
    } catch (err) {
      // the server is away: ask again at the next turn
    }
    if (again) setTimeout(refresh, EVERY_MS);
  }

  const waiting = Array.from(sheet.querySelectorAll(".variant-cell")).some((cell) => !finished.has(cell.dataset.state));
  if (waiting) setTimeout(refresh, EVERY_MS);
})();
