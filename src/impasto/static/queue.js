// Your queue on the studio page: this browser's jobs waiting and running, kept current from
// GET /api/queue (every 3 s while something is under way, every 30 s otherwise; longer after an
// error), with Cancel for a waiting one through the API (without this script, the form posts).
(function () {
  "use strict";
  const section = document.getElementById("queue");
  const list = document.getElementById("queue-list");
  if (!section || !list) return;
  const BUSY_MS = 3000;
  const IDLE_MS = 30000;
  let timer = null;

  function item(job) {
    const li = document.createElement("li");
    li.className = "queue-item";
    li.dataset.id = job.id;
    const link = document.createElement("a");
    link.className = "queue-link";
    link.href = job.urls.page;
    link.textContent = job.title;
    const said = document.createElement("span");
    said.className = "queue-said";
    said.textContent = job.said;
    li.append(link, said);
    if (job.state === "queued" && job.urls.cancel) {
      const form = document.createElement("form");
      form.className = "queue-cancel";
      form.dataset.api = job.urls.cancel;
      const button = document.createElement("button");
      button.type = "submit";
      button.className = "button small danger";
      button.textContent = "Cancel";
      form.append(button);
      li.append(form);
    }
    return li;
  }

  function show(jobs) {
    list.replaceChildren(...jobs.map(item));
    section.hidden = jobs.length === 0;
  }

  async function refresh() {
    clearTimeout(timer);
    let wait = IDLE_MS;
    try {
      const response = await fetch(section.dataset.url, { cache: "no-store" });
      if (response.ok) {
        const jobs = (await response.json()).jobs;
        show(jobs);
        if (jobs.length) wait = BUSY_MS;
      } else {
        wait = IDLE_MS * 2;
      }
    } catch (err) {
      wait = IDLE_MS * 2;  // the server is away: ask again later
    }
    timer = setTimeout(refresh, wait);
  }

  list.addEventListener("submit", async (event) => {
    const form = event.target.closest(".queue-cancel");
    if (!form || !form.dataset.api) return;
    event.preventDefault();
    form.querySelector("button").disabled = true;
    try {
      await fetch(form.dataset.api, { method: "POST" });
    } finally {
      refresh();
    }
  });
  timer = setTimeout(refresh, section.hidden ? IDLE_MS : BUSY_MS);
})();
