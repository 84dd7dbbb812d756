// The studio form: drag-and-drop with previews, synced sliders, presets, and submission through
// the JSON API so that errors appear next to their field without losing what was chosen.
(function () {
  "use strict";
  const form = document.getElementById("studio");
  if (!form) return;
  const maxBytes = Number(form.dataset.maxBytes);
  const maxPixels = Number(form.dataset.maxPixels);
  const tooManyPixels = {};  // field -> message, for the pictures chosen now
  const presets = JSON.parse(document.getElementById("preset-data").textContent);

  // -- all settings: folded on a phone (a preset is enough for most), open on a wide screen -------
  const advanced = document.getElementById("advanced");
  if (advanced && window.matchMedia("(min-width: 901px)").matches) advanced.open = true;
  // The clip's own settings show only while the content is a clip.
  const clipSection = document.getElementById("for-clip");
  function clipMode(on) {
    if (clipSection) clipSection.hidden = !on;
  }
  clipMode(Boolean(form.querySelector("#drop-content img.preview[data-clip]")));

  // -- drop zones ------------------------------------------------------------------------------
  function nameOf(drop) {
    return document.getElementById("name-" + drop.id.replace("drop-", ""));
  }
  function showFile(drop, file) {
    const img = drop.querySelector("img.preview");
    if (img.dataset.objectUrl) URL.revokeObjectURL(img.dataset.objectUrl);
    const field = drop.dataset.picker ? "style" : drop.id.replace("drop-", "");
    delete tooManyPixels[field];
    if (field === "content") forgetClip(img);
    if (!file) return;
    const problem = fileProblem(file, FILE_LABELS[field] || "Painting", field === "content");
    if (problem) {
      img.hidden = true;
      nameOf(drop).textContent = file.name;
      showError(field, problem);
      return;
    }
    if (field === "content" && maybeClip(file)) {
      showClip(drop, img, file);
      if (isVideo(file)) return;  // an animated GIF or WebP shows as a picture too (below)
    }
    const url = URL.createObjectURL(file);
    img.dataset.objectUrl = url;
    img.src = url;
    img.hidden = false;
    // Formats the browser cannot show (TIFF) still upload fine: say so instead of a broken image.
    img.onerror = () => { img.hidden = true; };
    nameOf(drop).textContent = file.name + " · " + (file.size / 1048576).toFixed(1) + " MB";
    clearError(field);
    img.addEventListener("load", () => {  // the server's pixel limit, as soon as the picture is known
      const pixels = img.naturalWidth * img.naturalHeight;
      if (pixels > maxPixels) {
        tooManyPixels[field] = (FILE_LABELS[field] || "Painting") + ": " + img.naturalWidth + "×"
          + img.naturalHeight + " = " + pixels.toLocaleString("en-US") + " pixels is over the limit of "
          + maxPixels.toLocaleString("en-US") + " pixels";
        showError(field, tooManyPixels[field]);
      }
    }, { once: true });
    if (field === "content") {  // the photo's shape changes how long the picture takes
      img.addEventListener("load", () => {
        photoAspect = Math.min(img.naturalWidth, img.naturalHeight) / Math.max(img.naturalWidth, img.naturalHeight);
        updateEstimate();
      }, { once: true });
    }
  }

  // -- a clip as the content: shown playing, with its frames and seconds as the server counts them ---
  const clipVideo = document.getElementById("clip-preview");
  let clipAsked = 0;
  function isVideo(file) {
    return file.type ? file.type.startsWith("video/") : CLIP_NAMES.test(file.name);
  }
  function maybeClip(file) {  // a GIF or WebP is a clip only when it has more than one frame
    return isVideo(file) || ["image/gif", "image/webp"].includes(file.type) || /\.(gif|webp)$/i.test(file.name);
  }
  function forgetClip(img) {
    clipAsked++;
    if (clipFrames) {
      clipFrames = null;
      updateEstimate();
    }
    delete img.dataset.clip;
    clipMode(false);
    clipVideo.hidden = true;
    if (clipVideo.dataset.objectUrl) URL.revokeObjectURL(clipVideo.dataset.objectUrl);
    delete clipVideo.dataset.objectUrl;
    clipVideo.removeAttribute("src");
  }
  async function showClip(drop, img, file) {
    const asked = ++clipAsked;
    const size = " · " + (file.size / 1048576).toFixed(1) + " MB";
    if (isVideo(file)) {
      img.hidden = true;
      img.dataset.clip = "1";
      const url = URL.createObjectURL(file);
      clipVideo.dataset.objectUrl = url;
      clipVideo.src = url;
      clipVideo.hidden = false;
      nameOf(drop).textContent = file.name + size + " · a clip";
      clearError("content");
    }
    const data = new FormData();
    data.append("content", file, file.name);
    let body;
    try {
      const response = await fetch(form.dataset.probe, { method: "POST", body: data });
      body = await response.json();
      if (asked !== clipAsked) return;  // another file was chosen meanwhile
      if (!response.ok) {
        tooManyPixels.content = "Photo or clip: " + (body.error || "").replace(/^content: /, "");
        showError("content", tooManyPixels.content);
        return;
      }
    } catch (err) {
      return;  // the server checks it again when the job is sent
    }
    if (!body.clip) return;
    img.dataset.clip = "1";  // static/mask.js: no mask for a clip
    nameOf(drop).textContent = file.name + size + " · a clip of " + body.frames + " frames, "
      + formatNumber(body.seconds) + " s at " + formatNumber(body.fps) + " fps, " + body.width + "×" + body.height;
    photoAspect = Math.min(body.width, body.height) / Math.max(body.width, body.height);
    clipFrames = body.frames;
    clipMode(true);
    updateEstimate();
  }

  document.querySelectorAll(".drop").forEach((drop) => {
    const input = drop.querySelector("input[type=file]");
    input.addEventListener("change", () => {
      showFile(drop, input.files[0]);
      if (drop.dataset.picker && input.files.length) pickBuiltIn(drop, null);
    });
    ["dragenter", "dragover"].forEach((type) => drop.addEventListener(type, (event) => {
      event.preventDefault();
      drop.classList.add("dragging");
    }));
    ["dragleave", "drop"].forEach((type) => drop.addEventListener(type, () => drop.classList.remove("dragging")));
    drop.addEventListener("drop", (event) => {
      event.preventDefault();
      if (!event.dataTransfer.files.length) return;
      const transfer = new DataTransfer();
      transfer.items.add(event.dataTransfer.files[0]);
      input.files = transfer.files;
      input.dispatchEvent(new Event("change"));
    });
  });

  // -- paintings -------------------------------------------------------------------------------
  // Two slots (the second after "Add a second painting"). A slot holds an upload, a built-in pick,
  // or on "again" a painting of the earlier job (data-earlier), which the server reuses as long as
  // no painting is changed.
  const drops = [document.getElementById("drop-style"), document.getElementById("drop-style_2")];
  const second = document.getElementById("second-style");
  const addSecond = document.getElementById("add-second");
  let paintingsChanged = false;

  function radiosOf(drop) {
    return form.querySelectorAll("input[name=" + drop.dataset.picker + "]");
  }
  function pickBuiltIn(drop, radio) {
    paintingsChanged = true;
    delete drop.dataset.earlier;
    delete drop.dataset.earlierName;
    radiosOf(drop).forEach((r) => r.closest(".style-card").classList.remove("earlier"));
    if (!radio) {
      radiosOf(drop).forEach((r) => { r.checked = false; });
      return;
    }
    drop.querySelector("input[type=file]").value = "";
    delete tooManyPixels.style;
    const img = drop.querySelector(".preview");
    img.src = radio.dataset.src;
    img.hidden = false;
    nameOf(drop).textContent = radio.dataset.credit;
    clearError("style");
  }
  drops.forEach((drop) => radiosOf(drop).forEach((radio) => {
    radio.addEventListener("change", () => pickBuiltIn(drop, radio));
    if (radio.checked) nameOf(drop).textContent = radio.dataset.credit;
  }));

  addSecond.hidden = !second.hidden;  // the button needs this script: show it only now
  addSecond.addEventListener("click", () => {
    second.hidden = false;
    addSecond.hidden = true;
    paintingsChanged = true;
  });
  document.getElementById("remove-second").addEventListener("click", () => {
    const drop = drops[1];
    pickBuiltIn(drop, null);
    drop.querySelector("input[type=file]").value = "";
    drop.querySelector(".preview").hidden = true;
    nameOf(drop).textContent = "";
    second.hidden = true;
    addSecond.hidden = false;
  });

  const blend = document.getElementById("blend");
  let blendTouched = false;
  blend.addEventListener("input", () => {
    blendTouched = true;
    document.getElementById("blend-first").textContent = (100 - blend.value) + " %";
    document.getElementById("blend-second").textContent = blend.value + " %";
    clearError("style_blend");
  });

  function painting(drop) {
    const input = drop.querySelector("input[type=file]");
    const radio = Array.from(radiosOf(drop)).find((r) => r.checked);
    if (input.files[0]) return { file: input.files[0] };
    if (radio) return { name: radio.value };
    if (drop.dataset.earlierName) return { name: drop.dataset.earlierName };
    if (drop.dataset.earlier) return { earlier: drop.dataset.earlier };
    return null;
  }
  async function earlierFile(url) {
    const response = await fetch(url);
    if (!response.ok) throw new Error("the earlier job's painting is gone");
    return new File([await response.blob()], "painting.png", { type: "image/png" });
  }
  // The API takes the uploads first, then the built-ins, with style_blend in that order. Returns
  // the slots (0: first painting, 1: second) in the order sent, for the masks.
  async function setPaintings(data) {
    data.delete("style_name_2");
    if (!paintingsChanged) {  // as the page came: the earlier job's paintings, or the default pick
      if (blendTouched) data.set("style_blend", (100 - blend.value) + "," + blend.value);
      return second.hidden ? [0] : [0, 1];
    }
    const weights = [100 - blend.value, Number(blend.value)];
    const chosen = drops.filter((drop, i) => i === 0 || !second.hidden)
      .map((drop, i) => ({ ...painting(drop), weight: weights[i], slot: i }))
      .filter((p) => p.file || p.name || p.earlier);
    for (const p of chosen) {
      if (p.earlier) p.file = await earlierFile(p.earlier);  // kept next to a changed one: send it again
    }
    const ordered = chosen.filter((p) => p.file).concat(chosen.filter((p) => !p.file));
    data.delete("style");
    data.delete("style_name");
    ordered.forEach((p) => (p.file ? data.append("style", p.file, p.file.name) : data.append("style_name", p.name)));
    data.set("style_blend", ordered.length > 1 ? ordered.map((p) => p.weight).join(",") : "");
    return ordered.map((p) => p.slot);
  }
  // One mask per painting sent, in the same order, when the mask brush is open (static/mask.js).
  async function setMasks(data, slots) {
    data.delete("mask");
    if (!window.ImpastoMask || !window.ImpastoMask.used()) return;
    const blobs = await window.ImpastoMask.blobs(slots);
    blobs.forEach((blob, i) => data.append("mask", blob, "mask-" + (i + 1) + ".png"));
  }

  // -- sliders ---------------------------------------------------------------------------------
  function formatNumber(x) {
    if (x === 0) return "0";
    const rounded = Number(x.toPrecision(x >= 1 ? 3 : 2));
    return String(rounded);
  }
  function syncSlider(slider) {
    const text = document.getElementById(slider.dataset.for);
    const value = Number(text.value);
    if (text.value.trim() === "" || !Number.isFinite(value)) return;
    if (slider.classList.contains("log")) {
      slider.value = value > 0 ? Math.log10(value) : slider.min;
    } else {
      slider.value = value;
    }
  }
  document.querySelectorAll(".slider[data-for]").forEach((slider) => {
    const text = document.getElementById(slider.dataset.for);
    syncSlider(slider);
    slider.addEventListener("input", () => {
      const x = Number(slider.value);
      text.value = slider.classList.contains("log") ? formatNumber(Math.pow(10, x)) : String(x);
      clearError(text.name);
    });
    text.addEventListener("input", () => { syncSlider(slider); clearError(text.name); });
  });

  // -- presets ---------------------------------------------------------------------------------
  const presetField = document.getElementById("preset");
  const presetText = document.getElementById("preset-description");
  function setControl(name, value) {
    const controls = form.querySelectorAll("[name='" + name + "']");
    controls.forEach((el) => {
      if (el.type === "checkbox") el.checked = Boolean(value);
      else if (el.type === "radio") el.checked = el.value === String(value);
      else if (el.type !== "hidden") el.value = value === null ? "" : formatNumber(Number(value));
    });
    const slider = form.querySelector(".slider[data-for='f-" + name + "']");
    if (slider) syncSlider(slider);
  }
  form.querySelectorAll(".preset").forEach((button) => {
    button.addEventListener("click", () => {
      const preset = presets.find((p) => p.name === button.dataset.preset);
      Object.entries(preset.values).forEach(([name, value]) => {
        if (name !== "seed") setControl(name, value);  // a preset is a look, not a particular picture
      });
      presetField.value = preset.name;
      // Hidden options copied from an earlier job belong to its preset, not to this one.
      form.querySelectorAll("input[data-extra]").forEach((el) => el.remove());
      form.querySelectorAll(".preset").forEach((b) => b.classList.toggle("active", b === button));
      presetText.textContent = preset.description;
    });
  });

  // -- looks to share: these settings as a small JSON file, and one loaded back ------------------
  // Both ways go through the server's check (POST /api/looks/validate), the one a submission gets:
  // a look saved is one the studio takes, and a bad value loaded is named next to its field.
  const looks = document.getElementById("looks");
  // Variants are how many pictures one submission paints, not part of a look.
  const LOOK_SKIPS = ["source_job", "preset", "style_name", "style_name_2", "style_blend", "variants", "vary",
    "variant_values"];
  function currentLook() {
    const options = {};
    new FormData(form).forEach((value, key) => {
      if (!(value instanceof File) && !LOOK_SKIPS.includes(key) && String(value).trim() !== "") options[key] = value;
    });
    return { impasto_look: 1, preset: presetField.value || null, options: options };
  }
  async function checkedLook(look) {
    const response = await fetch(looks.dataset.validate, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(look),
    });
    const body = await response.json().catch(() => ({ error: "the server answered " + response.status }));
    if (response.ok) return body.look;
    showAll(body.messages || { [body.field || "form"]: body.error });
    return null;
  }
  function applyLook(look) {
    form.querySelectorAll("input[data-extra]").forEach((el) => el.remove());
    const preset = presets.find((p) => p.name === look.preset);
    presetField.value = look.preset || "";
    form.querySelectorAll(".preset").forEach((b) => b.classList.toggle("active", b.dataset.preset === look.preset));
    presetText.textContent = preset ? preset.description : "";
    if (preset) Object.entries(preset.values).forEach(([name, value]) => { if (name !== "seed") setControl(name, value); });
    Object.entries(look.options).forEach(([name, value]) => {
      if (form.querySelector("[name='" + name + "']:not([data-extra])")) {
        setControl(name, value);
        return;
      }
      const extra = document.createElement("input");  // an option the form shows no control for
      extra.type = "hidden";
      extra.name = name;
      extra.value = Array.isArray(value) ? value.join(",") : String(value);
      extra.dataset.extra = "";
      form.append(extra);
    });
    updateEstimate();
  }
  if (looks) {
    looks.hidden = false;  // both need this script
    const said = document.getElementById("look-said");
    const file = document.getElementById("look-file");
    document.getElementById("look-save").addEventListener("click", async () => {
      clearAll();
      const look = await checkedLook(currentLook());
      if (!look) return;
      const link = document.createElement("a");
      link.href = URL.createObjectURL(new Blob([JSON.stringify(look, null, 2) + "\n"], { type: "application/json" }));
      link.download = "impasto-look.json";
      link.click();
      setTimeout(() => URL.revokeObjectURL(link.href), 0);
      said.textContent = "Saved as impasto-look.json: load it here, or send it with a picture (the API's look field).";
    });
    document.getElementById("look-load").addEventListener("click", () => file.click());
    file.addEventListener("change", async () => {
      const chosen = file.files[0];
      file.value = "";
      if (!chosen) return;
      clearAll();
      let look;
      try {
        look = JSON.parse(await chosen.text());
      } catch (err) {
        showError("form", chosen.name + " is not a look: it is not JSON.");
        return;
      }
      const checked = await checkedLook(look);
      if (!checked) return;
      applyLook(checked);
      said.textContent = "Loaded the look from " + chosen.name + ".";
    });
  }

  // -- errors ----------------------------------------------------------------------------------
  function errorElement(field) {
    return document.getElementById("error-" + field) || document.getElementById("error-form");
  }
  function clearError(field) {
    const el = document.getElementById("error-" + field);
    if (el) el.textContent = "";
    const box = el && el.closest(".control, .panel");
    if (box) box.querySelectorAll(".invalid").forEach((x) => x.classList.remove("invalid"));
    if (box && box.classList.contains("control")) box.classList.remove("invalid");
  }
  function clearAll() {
    document.getElementById("error-summary").hidden = true;
    form.querySelectorAll(".field-error").forEach((el) => { el.textContent = ""; });
    form.querySelectorAll(".invalid").forEach((el) => el.classList.remove("invalid"));
    const top = document.getElementById("error-form");
    top.textContent = "";
    top.hidden = true;
  }
  function showError(field, message) {
    const el = errorElement(field);
    el.textContent = message;
    el.hidden = false;
    const drop = document.getElementById("drop-" + field);
    if (drop) drop.classList.add("invalid");
    const control = form.querySelector(".control[data-name='" + field + "']");
    if (control) control.classList.add("invalid");
    const folded = el.closest("details");
    if (folded) folded.open = true;  // an error is never hidden in the folded settings
    if (clipSection && clipSection.contains(el)) clipSection.hidden = false;
    return el;
  }

  // -- checks in the browser: the server's limits, rendered into the controls' data attributes ----
  const IMAGE_TYPES = ["image/jpeg", "image/png", "image/webp", "image/bmp", "image/tiff"];
  const IMAGE_NAMES = /\.(jpe?g|png|webp|bmp|tiff?)$/i;
  const CLIP_TYPES = ["video/mp4", "video/webm", "video/quicktime", "video/x-matroska", "image/gif", "image/webp"];
  const CLIP_NAMES = /\.(mp4|m4v|mov|webm|mkv|gif)$/i;
  const FILE_LABELS = { content: "Photo", style: "Painting", style_2: "Second painting", init_image: "Start image" };
  function fileProblem(file, label, clipToo) {
    const known = (file.type ? IMAGE_TYPES.includes(file.type) : IMAGE_NAMES.test(file.name))
      || (clipToo && (file.type ? CLIP_TYPES.includes(file.type) : CLIP_NAMES.test(file.name)));
    if (!known && clipToo) {
      return label + ": " + file.name + " is not a JPEG, PNG, WebP, BMP or TIFF image, nor an MP4, WebM, MOV, "
        + "animated GIF or WebP clip.";
    }
    if (!known) return label + ": " + file.name + " is not a JPEG, PNG, WebP, BMP or TIFF image.";
    if (file.size > maxBytes) {
      return label + ": " + file.name + " is " + (file.size / 1048576).toFixed(1) + " MB; the limit is "
        + form.dataset.maxMb + " MB.";
    }
    return null;
  }
  function shownLimit(x) {  // as the server writes limits: 1024, 0.1, 1,000,000
    return x >= 1e6 ? x.toLocaleString("en-US") : String(x);
  }
  function valueProblem(input) {
    const text = input.value.trim();
    if (text === "" && "optional" in input.dataset) return null;
    const value = Number(text);
    const whole = "whole" in input.dataset;
    const min = Number(input.dataset.min), max = Number(input.dataset.max);
    const ok = text !== "" && Number.isFinite(value) && (!whole || Number.isInteger(value))
      && !(input.dataset.min !== "" && value < min) && !(input.dataset.max !== "" && value > max);
    if (ok) return null;
    const noun = whole ? "a whole number" : "a number";
    const range = input.dataset.min !== "" && input.dataset.max !== ""
      ? " from " + shownLimit(min) + " to " + shownLimit(max) : "";
    return input.dataset.label + " must be " + noun + range + "; you entered " + (text === "" ? "nothing" : text) + ".";
  }
  function checkInBrowser() {
    const errors = {};
    form.querySelectorAll("input.value[data-label]").forEach((input) => {
      const problem = valueProblem(input);
      if (problem) errors[input.name] = problem;
    });
    const photo = form.querySelector("input[name=content]").files[0];
    if (!photo && !form.querySelector("input[name=source_job]").value) {
      errors.content = "Photo: choose a photo (JPEG, PNG, WebP, BMP or TIFF).";
    }
    const files = { content: photo, style: drops[0].querySelector("input[type=file]").files[0],
                    style_2: second.hidden ? null : drops[1].querySelector("input[type=file]").files[0] };
    const init = form.querySelector("input[name=init]:checked");
    if (init && init.value === "image") files.init_image = form.querySelector("input[name=init_image]").files[0];
    Object.entries(files).forEach(([field, file]) => {
      const problem = file && fileProblem(file, FILE_LABELS[field], field === "content");
      if (problem) errors[field === "style_2" ? "style" : field] = problem;
    });
    if (!painting(drops[0])) errors.style = "Painting: choose a painting or pick one of the built-in ones.";
    Object.entries(tooManyPixels).forEach(([field, message]) => { errors[field] = errors[field] || message; });
    return errors;
  }
  function showAll(errors) {
    const fields = Object.keys(errors);
    let first = null;
    fields.forEach((field) => {
      const shown = showError(field, errors[field]);
      first = first || shown;
    });
    if (fields.length > 1) {
      const summary = document.getElementById("error-summary");
      summary.textContent = fields.length + " things to fix before painting: see the messages in red.";
      summary.hidden = false;
    }
    if (first) first.scrollIntoView({ block: "center", behavior: "smooth" });
  }

  // -- the estimate under the button: this server's measured speed, for these settings ----------
  const estimate = document.getElementById("estimate");
  let photoAspect = null;
  let clipFrames = null;  // the chosen clip's frames (the server's count), null for a photo
  let estimateTimer = null;
  let estimateAsked = 0;
  function updateEstimate() {
    clearTimeout(estimateTimer);
    estimateTimer = setTimeout(async () => {
      const asked = ++estimateAsked;
      const query = new URLSearchParams();
      new FormData(form).forEach((value, key) => {
        if (!(value instanceof File) && !["source_job", "style_name", "style_name_2", "style_blend"].includes(key)) {
          query.set(key, value);
        }
      });
      if (photoAspect) query.set("aspect", photoAspect.toFixed(3));
      if (clipFrames) query.set("frames", String(clipFrames));  // a clip: every frame counts
      try {
        const response = await fetch(estimate.dataset.url + "?" + query.toString(), { cache: "no-store" });
        if (asked !== estimateAsked) return;  // a newer question is on its way
        estimate.textContent = response.ok ? (await response.json()).line
          : "How long it takes shows here once every setting is valid.";
      } catch (err) {
        estimate.textContent = "";
      }
    }, 250);
  }
  form.addEventListener("input", updateEstimate);
  form.addEventListener("change", updateEstimate);
  form.querySelectorAll(".preset").forEach((b) => b.addEventListener("click", updateEstimate));
  updateEstimate();

  // -- submit ----------------------------------------------------------------------------------
  const button = document.getElementById("submit");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearAll();
    const problems = checkInBrowser();
    if (Object.keys(problems).length) {
      showAll(problems);
      return;
    }
    const data = new FormData(form);
    if (data.get("init") !== "image") data.delete("init_image");
    try {
      await setMasks(data, await setPaintings(data));
    } catch (err) {
      showError("style", "Could not send the earlier painting again (" + err.message + "); choose it again.");
      return;
    }
    let bytes = 0;
    data.forEach((value) => { if (value instanceof File) bytes += value.size; });
    if (bytes > maxBytes) {
      showError("form", "The files are " + (bytes / 1048576).toFixed(1) + " MB together; the limit is "
        + form.dataset.maxMb + " MB.").scrollIntoView({ block: "center" });
      return;
    }
    button.disabled = true;
    button.textContent = "Uploading…";
    try {
      const response = await fetch(form.dataset.api, { method: "POST", body: data });
      const body = await response.json().catch(() => ({ error: "the server answered " + response.status }));
      if (response.status === 202) {
        window.location.href = body.urls.page;
        return;
      }
      // "messages": the server's messages in the page's words (labels, not field names).
      showAll(body.messages || body.errors || { [body.field || "form"]: body.error });
    } catch (err) {
      showError("form", "Could not reach the server (" + err.message + "). Try again.");
    }
    button.disabled = false;
    button.textContent = "Paint it";
  });
})();
