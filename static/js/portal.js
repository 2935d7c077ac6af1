/* A little behaviour of our own: htmx settings, upload progress, pickers, countdowns. */
(function () {
  "use strict";

  // The words, in the page's language, come from base.html: "{n}天", "剩余 {time}" …
  var T = JSON.parse(document.getElementById("portal-i18n").textContent);
  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (all, name) { return name in values ? values[name] : all; });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (window.htmx) {
      // Validation errors (400), conflicts (409) and refusals (403) carry a page fragment
      // that explains what happened: swap them in like a success.
      htmx.config.responseHandling = [
        { code: "204", swap: false },
        { code: "[23]..", swap: true },
        { code: "(400|403|409|413|422|429)", swap: true, error: false },
        { code: "[45]..", swap: false, error: true },
      ];
      // No page snapshots in localStorage: they would keep customers' names and phones on the
      // device after logout. Back reloads the page from its address (the filters are in it).
      htmx.config.historyCacheSize = 0;
      htmx.config.refreshOnHistoryMiss = true;
    }
    tick();
    setInterval(tick, 30000);
  });

  // Upload progress for forms that post files through htmx.
  document.addEventListener("htmx:xhr:progress", function (evt) {
    var form = evt.target.closest && evt.target.closest("form[data-progress]");
    if (!form || !evt.detail.lengthComputable) return;
    var bar = form.querySelector("progress");
    var label = form.querySelector("[data-progress-label]");
    if (bar) { bar.hidden = false; bar.value = evt.detail.loaded; bar.max = evt.detail.total; }
    if (label) label.textContent = Math.round(evt.detail.loaded * 100 / evt.detail.total) + "%";
  });

  // Server errors that htmx does not swap: tell the user instead of doing nothing.
  document.addEventListener("htmx:responseError", function (evt) {
    alert(fill(T.submitFailed, { status: evt.detail.xhr.status }));
  });
  document.addEventListener("htmx:sendError", function () {
    alert(T.networkFailed);
  });

  // Local previews of the photos chosen, before they are sent.
  document.addEventListener("change", function (evt) {
    var input = evt.target;
    if (!(input instanceof HTMLInputElement) || input.type !== "file" || !input.dataset.previews) return;
    var box = document.getElementById(input.dataset.previews);
    if (!box) return;
    box.innerHTML = "";
    Array.prototype.forEach.call(input.files, function (file) {
      var fig = document.createElement("figure");
      if (file.type.indexOf("image/") === 0 && !/hei[cf]/i.test(file.type)) {
        var img = document.createElement("img");
        img.src = URL.createObjectURL(file);
        img.alt = file.name;
        fig.appendChild(img);
      }
      var cap = document.createElement("figcaption");
      cap.textContent = file.name + " · " + (file.size / 1048576).toFixed(1) + " MB";
      fig.appendChild(cap);
      box.appendChild(fig);
    });
  });

  // Forms that ask first (data-confirm): an inline onsubmit would need 'unsafe-inline' in the CSP.
  document.addEventListener("submit", function (evt) {
    var message = evt.target.dataset && evt.target.dataset.confirm;
    if (message && !window.confirm(message)) evt.preventDefault();
  });

  // Product picker: a search result fills the product fields.
  document.addEventListener("click", function (evt) {
    var btn = evt.target.closest && evt.target.closest("[data-pick-product]");
    if (!btn) return;
    evt.preventDefault();
    var form = btn.closest("form");
    form.querySelector("[name$=product_id]").value = btn.dataset.id;
    form.querySelector("[name$=product_name]").value = btn.dataset.name;
    var spec = form.querySelector("[name$=product_spec]");
    if (spec) spec.value = btn.dataset.spec || "";
    btn.closest(".picker").innerHTML = "";
  });

  // Typing a product name by hand forgets a previously picked catalogue id.
  document.addEventListener("input", function (evt) {
    if (evt.target.name && /product_name$/.test(evt.target.name)) {
      var id = evt.target.form && evt.target.form.querySelector("[name$=product_id]");
      if (id) id.value = "";
    }
  });

  // Countdowns to each due time (server time is the reference for the first render).
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-due]").forEach(function (el) {
      var due = Date.parse(el.dataset.due);
      if (isNaN(due)) return;
      var left = Math.round((due - now) / 60000);
      var abs = Math.abs(left), d = Math.floor(abs / 1440), h = Math.floor((abs % 1440) / 60), m = abs % 60;
      var parts = [];
      if (d) parts.push(fill(T.days, { n: d }));
      if (h) parts.push(fill(T.hours, { n: h }));
      if (!d) parts.push(fill(T.minutes, { n: m }));
      // The server sends the same words (present.countdown): rewrite only what changed, so the
      // first tick after loading costs no layout and moves nothing.
      var words = fill(left < 0 ? T.overdue : T.left, { time: parts.join(T.sep) });
      if (el.textContent !== words) el.textContent = words;
      el.classList.toggle("overdue", left < 0);
      el.classList.toggle("due-soon", left >= 0 && left < 60);
    });
  }
  document.addEventListener("htmx:afterSettle", tick);

  // The list's export links take the filters the page shows now (htmx pushed them to the URL).
  document.addEventListener("click", function (evt) {
    var link = evt.target.closest && evt.target.closest("a[data-export]");
    if (link) link.search = location.search;
  });
})();
