// Gatehouse UI: small enhancements on top of pages that work without scripts.
(function () {
  "use strict";

  // Copy buttons stay hidden without scripts; the link beside them is a
  // read-only field that can be selected and copied by hand.
  function setupCopy(root) {
    root.querySelectorAll("button[data-copy]").forEach(function (button) {
      if (button.dataset.ready) return;
      button.dataset.ready = "1";
      button.hidden = false;
      var label = button.textContent;
      button.addEventListener("click", function () {
        var field = document.getElementById(button.dataset.copy);
        if (!field) return;
        var done = function () {
          button.textContent = "Copied";
          setTimeout(function () { button.textContent = label; }, 2000);
        };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(field.value).then(done, function () {
            field.select();
          });
        } else {
          field.select();
          if (document.execCommand("copy")) done();
        }
      });
    });
  }

  // Forms that destroy something ask first. Without scripts they submit at
  // once, like any form.
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      e.preventDefault();
    }
  }, true);

  document.addEventListener("DOMContentLoaded", function () { setupCopy(document); });
  document.addEventListener("htmx:load", function (e) { setupCopy(e.target); });
})();
