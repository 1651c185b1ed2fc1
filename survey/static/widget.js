/* Rapport survey widget. <script src="https://HOST/widget.js" data-survey="KEY" async></script>
   No cookies, no dependencies, no requests but to HOST. Options: see README "The widget". */
(function (d, w) {
  "use strict";
  var me = d.currentScript || [].filter.call(d.querySelectorAll("script[data-survey]"), function (s) {
    return !s.rapport;
  })[0];
  if (!me || me.rapport || !w.fetch) return;
  me.rapport = 1;
  var opt = function (n) { return me.getAttribute("data-" + n); };
  var key = opt("survey") || "";
  var home = new URL(me.src, location.href).origin;
  var api = home + "/api/v1/surveys/" + encodeURIComponent(key);
  var capKey = "rapport:" + key;
  var embed = me.hasAttribute("data-embed");
  var target = opt("target");
  // The dashboard's preview page marks itself: the API then checks and thanks its answers but stores none.
  var mark = d.querySelector('meta[name="rapport-preview"]');
  var preview = !embed && mark && mark.getAttribute("data-survey") == key ? mark.content : undefined;
  var floating = !target && !embed;
  // Fixed labels: send, close, region name, send failed, choose a score, the score chosen.
  var T = {
    en: ["Send", "Close", "Feedback", "Could not send. Please try again.", "Please choose a score.", "Your score"],
    fr: ["Envoyer", "Fermer", "Votre avis", "Envoi impossible. Veuillez réessayer.", "Veuillez choisir une note.", "Votre note"],
    de: ["Senden", "Schließen", "Feedback", "Senden fehlgeschlagen. Bitte erneut versuchen.", "Bitte wählen Sie einen Wert.", "Ihre Bewertung"],
    es: ["Enviar", "Cerrar", "Su opinión", "No se pudo enviar. Inténtelo de nuevo.", "Elija una puntuación.", "Su puntuación"],
    it: ["Invia", "Chiudi", "Il tuo parere", "Invio non riuscito. Riprova.", "Scegli un punteggio.", "Il tuo punteggio"],
    nl: ["Versturen", "Sluiten", "Feedback", "Versturen mislukt. Probeer het opnieuw.", "Kies een score.", "Uw score"],
    pt: ["Enviar", "Fechar", "A sua opinião", "Não foi possível enviar. Tente novamente.", "Escolha uma nota.", "A sua nota"]
  };
  var lang = (opt("lang") || d.documentElement.lang || "en").toLowerCase().split("-")[0];
  var L = T[lang] || T[lang = "en"];
  var warn = function (m) { if (w.console) console.warn("Rapport widget " + key + ": " + m); };
  try { if (+localStorage.getItem(capKey) > Date.now()) return; } catch (e) { /* no storage: no cap */ }
  // A CSP blocking our requests fails like a wrong origin; the violation event tells them apart.
  var blockedBy = "";
  d.addEventListener("securitypolicyviolation", function (e) {
    if (String(e.blockedURI).indexOf(home) == 0) blockedBy = e.effectiveDirective;
  });

  function json(method, url, body) {
    return fetch(url, {method: method, credentials: "omit", headers: body ? {"Content-Type": "application/json"} : {},
                       body: body && JSON.stringify(body)}).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (!r.ok) throw new Error((j.error && j.error.message) || L[3]);
        return j;
      });
    });
  }
  // Element builder: h("p", {"class": "q"}, "text or", [children]).
  function h(tag, attrs, kids) {
    var el = d.createElement(tag);
    for (var a in attrs) if (attrs[a] != null) el.setAttribute(a, attrs[a]);
    [].concat(kids == null ? [] : kids).forEach(function (k) {
      el.appendChild(typeof k == "string" ? d.createTextNode(k) : k);
    });
    return el;
  }

  json("GET", api + "/widget").then(function (cfg) {
    var delay = floating ? 1e3 * (+opt("delay") || 0) : 0;
    setTimeout(function () {
      if (d.readyState == "loading") d.addEventListener("DOMContentLoaded", function () { render(cfg); });
      else render(cfg);
    }, delay);
  }, function (e) {
    setTimeout(function () {  // the violation event may come just after
      warn(e.message + (blockedBy ? " (this page's Content-Security-Policy blocks " + home + ": add it to " + blockedBy + ")"
        : e instanceof TypeError ? " (is " + location.origin + " on the survey's list of origins?)" : ""));
    }, 50);
  });

  function render(cfg) {
    var sc = cfg.scale, many = sc.high - sc.low > 6, started = performance.now(), answer = null, busy = false, prev = d.activeElement;
    // One key per answer: if a reply is lost and the visitor sends again, the API revises, not duplicates.
    var submissionKey = [].map.call(crypto.getRandomValues(new Uint8Array(16)), function (b) {
      return (b + 256).toString(16).slice(1);
    }).join("");
    var host = h("rapport-widget", {lang: lang, "data-survey": key});
    // Inline !important beats any page rule, so the page's CSS cannot move, hide or restyle the box.
    host.style.cssText = "all:initial!important;display:block!important;" + (floating
      ? "position:fixed!important;z-index:2147483000!important;bottom:16px!important;" +
        (/left/.test(opt("position")) ? "left" : "right") + ":16px!important;width:min(" + (many ? 520 : 360) +
        "px,calc(100vw - 32px))!important"
      : "");
    if (/top/.test(opt("position")) && floating) host.style.cssText += ";bottom:auto!important;top:16px!important";
    if (opt("accent")) host.style.setProperty("--rapport-accent", opt("accent"));
    var root = host.attachShadow({mode: "open"});
    var css = ":host{all:initial}*{box-sizing:border-box}" +
      // `all` leaves direction inherited: a dir=rtl page mirrored the card. Its languages read LTR;
      // the survey's wording and the comment take their text's direction (dir=auto).
      ".w{all:initial;direction:ltr;display:block;container-type:inline-size;position:relative;box-sizing:border-box;padding:16px;" +
      "font:15px/1.4 var(--rapport-font,system-ui,-apple-system,'Segoe UI',Roboto,sans-serif);" +
      "color:var(--rapport-text,#1b1f24);background:var(--rapport-background,#fff);" +
      "border:1px solid rgba(128,128,128,.35);border-radius:var(--rapport-radius,12px);" +
      (floating ? "box-shadow:0 8px 28px rgba(0,0,0,.18)}" +
        "@media (prefers-reduced-motion:no-preference){.w{animation:in .25s ease-out}}" +
        "@keyframes in{from{opacity:0;transform:translateY(12px)}}" : "}") +
      ".q{display:block;margin:0 30px 10px 0;font-weight:600}" +
      ".o{display:flex;gap:4px}.o label{flex:1;position:relative;min-width:0}" +
      // Eleven options in one row under 40px wide are too narrow to tap (a phone, a narrow
      // column): 0-5 over 6-10, 44px each. A floating card is wide enough for one row on a desktop.
      "@container (max-width:470px){.o.m{flex-wrap:wrap;justify-content:center}" +
      ".o.m label{flex:0 0 calc((100% - 20px)/6)}.o.m .n{height:44px}}" +
      ".o input{position:absolute;inset:0;width:100%;height:100%;margin:0;opacity:0;cursor:pointer}" +
      ".n{display:flex;align-items:center;justify-content:center;height:38px;border:1px solid rgba(128,128,128,.6);" +
      "border-radius:calc(var(--rapport-radius,12px)/2);font-weight:600;background:var(--rapport-background,#fff)}" +
      "label:hover .n{border-color:var(--rapport-accent,#2457d6)}" +
      ".got{display:flex;align-items:center;gap:8px;margin:0 30px 10px 0}.got .n{width:38px}" +
      "input:checked+.n,.on{background:var(--rapport-accent,#2457d6);border-color:var(--rapport-accent,#2457d6);color:#fff}" +
      ":focus-visible,input:focus-visible+.n{outline:3px solid var(--rapport-accent,#2457d6);outline-offset:2px}" +
      ".e{display:flex;justify-content:space-between;gap:8px;margin-top:4px;font-size:12px;opacity:.8}" +
      ".e span:last-child{text-align:right}" +
      ".v,.hp{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}" +
      ".hp{left:-9999px}" +
      "textarea{display:block;width:100%;min-height:76px;padding:8px;font:inherit;color:inherit;resize:vertical;" +
      "background:var(--rapport-background,#fff);border:1px solid rgba(128,128,128,.6);border-radius:calc(var(--rapport-radius,12px)/2)}" +
      ".b{margin-top:10px;padding:8px 18px;font:inherit;font-weight:600;color:#fff;cursor:pointer;border:0;" +
      "border-radius:calc(var(--rapport-radius,12px)/2);background:var(--rapport-accent,#2457d6)}" +
      ".s1 .b{display:none}.s1.picked .b{display:inline-block}" +
      ".x{position:absolute;top:8px;right:8px;width:32px;height:32px;padding:0;border:0;border-radius:50%;" +
      "background:none;color:inherit;opacity:.75;font:22px/32px sans-serif;cursor:pointer}.x:hover{background:rgba(128,128,128,.15)}" +
      ".err{margin:8px 0 0;padding-left:8px;border-left:3px solid #d92d20;font-size:13px}.err:empty,.ty:empty{display:none}" +
      ".ty{margin:0 30px 0 0;font-weight:600;outline:none}";
    try {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(css);
      root.adoptedStyleSheets = [sheet];
    } catch (e) { root.appendChild(h("style", {}, css)); }

    var status = h("p", {"class": "ty", role: "status", tabindex: "-1", dir: "auto"});
    var close = h("button", {"class": "x", type: "button", "aria-label": L[1]}, "×");
    var card = h("div", {"class": "w", role: "region", "aria-label": L[2]}, [close]);
    var trap = h("input", {"class": "hp", name: "website", tabindex: "-1", autocomplete: "off", "aria-hidden": "true"});

    // Step 1: the question as a radio group; a click answers at once, the keyboard picks then sends.
    var options = [];
    for (var s = sc.low; s <= sc.high; s++) {
      var end = s == sc.low ? sc.low_label : s == sc.high ? sc.high_label : "";
      // The end options are named "0, Not at all likely": screen readers announce what the scale means.
      options.push(h("label", {}, [h("input", {type: "radio", name: "score", value: s}),
                                   h("span", {"class": "n", "aria-hidden": end ? "true" : null}, String(s)),
                                   end ? h("span", {"class": "v"}, s + ", " + end) : ""]));
    }
    var err1 = h("p", {"class": "err", role: "alert"});
    var step1 = h("form", {"class": "s1", novalidate: ""}, [
      h("div", {role: "radiogroup", "aria-labelledby": "q", "aria-describedby": "e"}, [
        h("p", {"class": "q", id: "q", dir: "auto"}, cfg.question),
        h("div", {"class": many ? "o m" : "o"}, options),
        h("div", {"class": "e", id: "e"}, [
          h("span", {dir: "auto"}, [h("span", {"class": "v"}, sc.low + " = "), sc.low_label]),
          h("span", {dir: "auto"}, [h("span", {"class": "v"}, sc.high + " = "), sc.high_label])
        ])
      ]),
      trap, h("button", {"class": "b", type: "submit"}, L[0]), err1
    ]);
    card.appendChild(step1);
    card.appendChild(status);
    root.appendChild(card);
    var place = null;
    try { place = target && d.querySelector(target); } catch (e) { /* not a selector */ }
    if (target && !place) warn("no element matches data-target " + target + "; shown at the end of the page");
    (place || d.body).appendChild(host);
    // A page wider than a phone widens the layout viewport a fixed box sits in (on a dir=rtl page
    // the extra lies left of what is shown): the card is kept inside the visual viewport.
    var v = w.visualViewport;
    function fit() {
      var s = host.style, r, m = function (a, b, o, n) { return Math.max(o + 16 - a, Math.min(0, o + n - 16 - b)); };
      s.setProperty("translate", "0 0", "important");
      r = host.getBoundingClientRect();
      s.setProperty("translate", m(r.left, r.right, v.offsetLeft, v.width) + "px " + m(r.top, r.bottom, v.offsetTop, v.height) + "px", "important");
    }
    if (floating && v) { fit(); v.addEventListener("resize", fit); v.addEventListener("scroll", fit); }

    function chosen() {
      var c = step1.querySelector("input:checked");
      return c ? +c.value : null;
    }
    // The Send button appears for keyboard choices (a click has already sent by then).
    step1.addEventListener("change", function () { if (!busy) step1.className = "s1 picked"; });
    step1.addEventListener("click", function (e) {
      // A pointer click answers; keyboard-made clicks (detail 0) only select.
      if (e.target.name == "score" && e.detail > 0) sendScore();
    });
    step1.addEventListener("keydown", function (e) {
      if (e.key == "Enter" && e.target.name == "score") { e.preventDefault(); sendScore(); }
    });
    step1.addEventListener("submit", function (e) { e.preventDefault(); sendScore(); });

    function sendScore() {
      var score = chosen();
      if (score == null) { err1.textContent = L[4]; return; }
      if (busy) return;
      busy = true;
      var meta = {};
      [].forEach.call(me.attributes, function (a) {
        if (a.name.indexOf("data-meta-") == 0) meta[a.name.slice(10)] = a.value;
      });
      json("POST", api + "/responses", {
        score: score, meta: meta, page_url: embed ? d.referrer || null : location.href, website: trap.value,
        elapsed_ms: Math.round(performance.now() - started),
        submission_key: submissionKey, preview: preview
      }).then(function (j) {
        answer = j;
        remember();
        var band = score <= sc.negative_max ? "negative" : score >= sc.positive_min ? "positive" : "neutral";
        if (cfg.followup) showFollowup(cfg.followup[band], score); else thank();
      }, function (e) {
        busy = false;
        err1.textContent = e instanceof TypeError ? L[3] : e.message;
      });
    }

    // Step 2: the follow-up question for the score's band, under the score chosen; its answer
    // updates the same response.
    function showFollowup(prompt, score) {
      var area = h("textarea", {id: "c", name: "comment", maxlength: cfg.comment_max_length, rows: "3", dir: "auto"});
      var err2 = h("p", {"class": "err", role: "alert"});
      var step2 = h("form", {"class": "s2", novalidate: ""}, [
        h("p", {"class": "got"}, [L[5] + ":", h("b", {"class": "n on"}, String(score))]),
        h("label", {"class": "q", "for": "c", dir: "auto"}, prompt), area, h("button", {"class": "b", type: "submit"}, L[0]), err2
      ]);
      card.replaceChild(step2, step1);
      area.focus();
      var sending = false;  // a double click sent it twice
      step2.addEventListener("submit", function (e) {
        e.preventDefault();
        var text = area.value.trim();
        if (!text) return thank();
        if (sending) return;
        sending = true;
        json("PATCH", api + "/responses/" + answer.id, {edit_token: answer.edit_token, comment: text, website: trap.value})
          .then(thank, function (e) { sending = false; err2.textContent = e instanceof TypeError ? L[3] : e.message; });
      });
    }

    function thank() {
      var form = card.querySelector("form");
      if (form) card.removeChild(form);
      status.textContent = cfg.thank_you;
      status.focus();
      if (floating) setTimeout(dismiss, 6e3);
    }

    function remember() {
      try {
        if (cfg.cap_days > 0) localStorage.setItem(capKey, String(Date.now() + cfg.cap_days * 864e5));
      } catch (e) { /* private mode: the widget may show again */ }
    }

    // Closing dismisses (counted like an answer for the cap) and gives focus back to where it was.
    function dismiss() {
      if (!host.parentNode) return;
      var inside = host.matches(":focus-within");
      remember();
      host.parentNode.removeChild(host);
      if (inside && prev && prev.focus && prev.isConnected) prev.focus();
      resized();
    }
    close.addEventListener("click", dismiss);
    root.addEventListener("keydown", function (e) {
      if (e.key == "Escape" && floating) dismiss();
    });
    d.addEventListener("focusin", function (e) { if (e.target != host) prev = e.target; });

    // In the iframe (/embed/KEY), tell the partner page how tall the content is.
    function resized() {
      if (embed && w.parent != w) {
        w.parent.postMessage({rapport: "resize", survey: key, height: host.parentNode ? Math.ceil(host.getBoundingClientRect().height) : 0}, "*");
      }
    }
    if (embed && w.ResizeObserver) new ResizeObserver(resized).observe(host);
    resized();
  }
})(document, window);
