// PacSpace node dashboard: the little JavaScript it uses. Every page works without it, except
// that copying is then done by selecting the text.
"use strict";

(function () {
  const status = document.getElementById("live-status");

  function announce(text) {
    if (status) {
      status.textContent = "";
      window.setTimeout(function () { status.textContent = text; }, 50);
    }
  }

  // <button data-copy="id-of-input">: copy that field's value.
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      const field = document.getElementById(button.getAttribute("data-copy"));
      if (!field) { return; }
      field.select();
      const done = function () { announce("Copied to the clipboard."); button.textContent = "Copied"; };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(done, function () { announce("Select the text and copy it."); });
      } else {
        try { document.execCommand("copy"); done(); } catch (e) { announce("Select the text and copy it."); }
      }
    });
  });

  // <form data-confirm="question">: ask before a destructive action.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });
})();
