/* The dashboard's widget preview asks every time: it forgets the mark (localStorage "rapport:KEY") that keeps
   the widget away from a visitor who answered or closed it. Runs before the snippet's async script. */
(function (me) {
  try { localStorage.removeItem("rapport:" + me.getAttribute("data-survey")); } catch (e) { /* no storage: no mark */ }
})(document.currentScript);
