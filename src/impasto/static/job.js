// The job page while a job waits or runs: polls its JSON status about once a second and updates
// the bar, the numbers and the live preview; reloads into the result page when the job ends. Until
// a picture's first preview (its first glimpse, a fraction of a second into the job) is shown, and
// for a few seconds at most, it polls four times as often: a poll a second showed it up to 1 s late.
// A job that is gone (404: deleted) stops the polling with a note; while the server fails to
// answer, the polls back off (doubling up to 10 s) and go back to once a second when it answers.
(function () {
  "use strict";
  const job = document.getElementById("job");
  if (!job) return;
  const POLL_MS = 1000;
  const FIRST_GLIMPSE_POLL_MS = 250;
  const FIRST_GLIMPSE_FOR_MS = 5000;
  const MAX_POLL_MS = 10000;
  const opened = Date.now();
  let delay = POLL_MS;
  // The states' names and titles come from the server (src/impasto/jobs/states.py), never spelled here.
  const titles = JSON.parse(job.dataset.titles);
  const RUNNING = job.dataset.running;
  const FINISHED = job.dataset.finished.split(" ");
  const $ = (id) => document.getElementById(id);
  // null: the first poll words the caption of the preview the page came with (a first glimpse, a
  // first pass), which the server renders plainly.
  let previewIteration = null;
  let previewFrame = job.dataset.previewFrame;

  function number(x) {
    return x === null || x === undefined ? "–" : Number(x).toPrecision(4).replace(/\.?0+e/, "e");
  }

  function render(data) {
    const p = data.progress;
    const state = $("state");
    state.textContent = data.state;
    state.className = "badge state-" + data.state;
    if (titles[data.state]) $("title").textContent = titles[data.state];
    if (data.clip) {
      renderFrames(data, p);
    } else {
      $("progress").max = p.total || 1;
      $("progress").value = p.iteration;
      $("progress").textContent = p.iteration + " / " + p.total;
    }
    $("iteration").textContent = p.iteration + " / " + p.total;
    $("loss").textContent = number(p.loss);
    $("elapsed").textContent = data.clock.elapsed;  // formatted by the server (src/impasto/text.py)
    $("eta").textContent = data.state === RUNNING ? data.clock.eta : "–";
    $("queue-box").hidden = data.queue_position === null;
    $("queue").textContent = data.queue_position || "";
    $("wait-box").hidden = data.queue_wait === null || data.queue_wait === undefined;
    $("wait").textContent = data.queue_wait_text || "";
    if (p.loss !== undefined && p.loss !== null) {
      $("loss-terms").textContent = "content " + number(p.content_loss) + " · style " + number(p.style_loss)
        + " · smoothness " + number(p.tv_loss) + (p.scales > 1 ? " · scale " + p.scale + " of " + p.scales : "");
    }
    if (!data.clip) renderPreview(data, p);  // a clip's preview is its latest finished frame (renderFrames)
    if (data.cancel_requested && $("cancel")) {
      $("cancel").disabled = true;
      $("cancel").textContent = "Cancelling…";
    }
  }

  function renderPreview(data, p) {
    if (data.state === RUNNING && !data.urls.preview) {
      $("preview-caption").textContent = "Starting the painter (loading the network)…";
    }
    if (data.urls.preview && String(p.preview_iteration) !== String(previewIteration)) {
      previewIteration = p.preview_iteration;
      const img = $("preview");
      img.src = data.urls.preview + "?v=" + previewIteration;
      img.hidden = false;
      $("preview-caption").textContent = previewCaption(p);
    }
  }

  // The start (iteration 0) is a first glimpse, a coarse scale's preview a first pass: say so, so
  // nobody takes them for the result.
  function previewCaption(p) {
    if (String(previewIteration) === "0") {
      return "First glimpse: your photo in the painting's colours. The strokes come next.";
    }
    if (p.scales > 1 && p.scale < p.scales) {
      return "First pass (scale " + p.scale + " of " + p.scales + ", at a smaller size), iteration "
        + previewIteration + ": the last scale paints the detail";
    }
    return "Live preview after iteration " + previewIteration;
  }

  // A clip: frame i of N (the bar counts frames, the current one by its share of iterations) and
  // the latest finished frame as the preview.
  function renderFrames(data, p) {
    const done = Math.max(0, (p.frame || 1) - 1) + (p.total ? p.iteration / p.total : 0);
    $("progress").max = p.frames || 1;
    $("progress").value = p.frame ? done : 0;
    $("progress").textContent = (p.frame ? p.frame - 1 : 0) + " / " + p.frames;
    $("frame").textContent = p.frame ? "frame " + p.frame + " of " + p.frames : "– of " + p.frames;
    if (data.state === RUNNING && !p.preview_frame) {
      $("preview-caption").textContent = "Painting the first frame (it takes longest)…";
    }
    if (data.urls.preview && p.preview_frame && String(p.preview_frame) !== String(previewFrame)) {
      previewFrame = p.preview_frame;
      const img = $("preview");
      img.src = data.urls.preview + "?v=" + previewFrame;
      img.hidden = false;
      $("preview-caption").textContent = "Latest finished frame: " + previewFrame + " of " + p.frames;
    }
  }

  function gone() {
    const state = $("state");
    state.textContent = "gone";
    state.className = "badge state-failed";
    $("title").textContent = "This job is gone";
    $("preview-caption").textContent = "The job was deleted (by its owner, or after the retention time); "
      + "there is nothing more to show. Start a new picture from the studio.";
    $("eta").textContent = "–";
    if ($("cancel")) $("cancel").disabled = true;
  }

  // A picture with no preview yet, on a page opened moments ago: its first glimpse is near.
  function awaitingGlimpse(data) {
    return !data.clip && !data.urls.preview && Date.now() - opened < FIRST_GLIMPSE_FOR_MS;
  }

  async function poll() {
    try {
      const response = await fetch(job.dataset.status, { cache: "no-store" });
      if (response.status === 404) {
        gone();
        return;  // no more polls: the job will not come back
      }
      if (!response.ok) throw new Error("status " + response.status);
      const data = await response.json();
      if (FINISHED.includes(data.state)) {
        window.location.reload();  // the server renders the finished page
        return;
      }
      render(data);
      delay = awaitingGlimpse(data) ? FIRST_GLIMPSE_POLL_MS : POLL_MS;
    } catch (err) {
      // The server may be restarting or overloaded: keep polling, less and less often.
      delay = Math.min(delay * 2, MAX_POLL_MS);
    }
    setTimeout(poll, delay);
  }

  // Only the job's owner gets a cancel button; it asks first (data-ask), then cancels in the background.
  if ($("cancel-form")) {
    $("cancel-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!window.confirm($("cancel-form").dataset.ask)) return;
      $("cancel").disabled = true;
      $("cancel").textContent = "Cancelling…";
      await fetch(job.dataset.status + "/cancel", { method: "POST" }).catch(() => null);
    });
  }

  const cameWithPreview = $("preview") && !$("preview").hidden;
  setTimeout(poll, !$("frame") && !cameWithPreview ? FIRST_GLIMPSE_POLL_MS : POLL_MS);  // #frame: a clip's page
})();
