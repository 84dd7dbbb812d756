// Forms with a data-confirm attribute (the job page's delete button) ask before they are sent.
// Without JavaScript the form is sent at once, as a plain POST.
(() => {
  "use strict";
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
})();
