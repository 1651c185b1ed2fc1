// Rapport dashboard behaviour. Loaded with `defer` on every signed-in page; no inline scripts
// anywhere (the CSP forbids them). Sections: == copy buttons ==, == confirmations ==.
// Results pages append their own section at the end.
(function () {
  "use strict";

  // == copy buttons ==
  // <button data-copy="#id"> copies the value (or text) of the element #id.
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    // Plain-HTTP sites have no Clipboard API: select a scratch textarea and copy.
    return new Promise(function (resolve, reject) {
      var scratch = document.createElement("textarea");
      scratch.value = text;
      scratch.setAttribute("readonly", "");
      scratch.className = "visually-hidden";
      document.body.appendChild(scratch);
      scratch.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      document.body.removeChild(scratch);
      if (ok) { resolve(); } else { reject(new Error("copy refused")); }
    });
  }

  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var source = document.querySelector(button.getAttribute("data-copy"));
      if (!source) return;
      var text = "value" in source ? source.value : source.textContent;
      var label = button.textContent;
      copyText(text).then(function () {
        button.textContent = "Copied";
        button.classList.add("copied");
      }, function () {
        if (source.select) source.select();
        button.textContent = "Press Ctrl+C";
      }).then(function () {
        window.setTimeout(function () {
          button.textContent = label;
          button.classList.remove("copied");
        }, 2000);
      });
    });
  });

  // == confirmations ==
  // <form data-confirm="Really?"> asks before it submits.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
    });
  });
})();
