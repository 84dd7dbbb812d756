// The studio form: drag-and-drop with previews, synced sliders, presets, and submission through
// the JSON API so that errors appear next to their field without losing what was chosen.
(function () {
  "use strict";
  const form = document.getElementById("studio");
  if (!form) return;
  const maxBytes = Number(form.dataset.maxBytes);
  const presets = JSON.parse(document.getElementById("preset-data").textContent);

  // -- drop zones ------------------------------------------------------------------------------
  function showFile(drop, file) {
    const img = drop.querySelector(".preview");
    const name = document.getElementById("name-" + drop.id.replace("drop-", ""));
    if (img.dataset.objectUrl) URL.revokeObjectURL(img.dataset.objectUrl);
    if (!file) return;
    const url = URL.createObjectURL(file);
    img.dataset.objectUrl = url;
    img.src = url;
    img.hidden = false;
    // Formats the browser cannot show (TIFF) still upload fine: say so instead of a broken image.
    img.onerror = () => { img.hidden = true; };
    name.textContent = file.name + " · " + (file.size / 1048576).toFixed(1) + " MB";
    clearError(drop.id.replace("drop-", ""));
  }

  document.querySelectorAll(".drop").forEach((drop) => {
    const input = drop.querySelector("input[type=file]");
    input.addEventListener("change", () => {
      showFile(drop, input.files[0]);
      if (input.name === "style" && input.files.length) pickBuiltIn(null);
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

  // -- built-in styles -------------------------------------------------------------------------
  const styleDrop = document.getElementById("drop-style");
  const styleInput = styleDrop.querySelector("input[type=file]");
  function pickBuiltIn(radio) {
    if (!radio) {
      form.querySelectorAll("input[name=style_name]").forEach((r) => { r.checked = false; });
      return;
    }
    styleInput.value = "";
    const img = styleDrop.querySelector(".preview");
    img.src = radio.dataset.src;
    img.hidden = false;
    document.getElementById("name-style").textContent = radio.dataset.credit;
    clearError("style");
  }
  form.querySelectorAll("input[name=style_name]").forEach((radio) => {
    radio.addEventListener("change", () => pickBuiltIn(radio));
    if (radio.checked) document.getElementById("name-style").textContent = radio.dataset.credit;
  });

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
  document.querySelectorAll(".slider").forEach((slider) => {
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
    return el;
  }

  // -- submit ----------------------------------------------------------------------------------
  const button = document.getElementById("submit");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearAll();
    const data = new FormData(form);
    let bytes = 0;
    form.querySelectorAll("input[type=file]").forEach((input) => {
      if (input.files[0]) bytes += input.files[0].size;
    });
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
      const errors = body.errors || { [body.field || "form"]: body.error };
      let first = null;
      Object.entries(errors).forEach(([field, message]) => {
        const shown = showError(field, message);
        first = first || shown;
      });
      if (first) first.scrollIntoView({ block: "center", behavior: "smooth" });
    } catch (err) {
      showError("form", "Could not reach the server (" + err.message + "). Try again.");
    }
    button.disabled = false;
    button.textContent = "Paint it";
  });
})();
