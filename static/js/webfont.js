/* The shipped Chinese face, only where the device has none, loaded after the first paint.

   Phones and most desktops draw Chinese with a font of their own (PingFang, Microsoft YaHei,
   Noto Sans CJK: --font in portal.css); there nothing is fetched. Where the device has none of
   them (a bare Linux desktop), the page is first drawn with the placeholder face (a short bar per
   character, exactly as wide as Noto's glyph, static/fonts/placeholder), then the slices of Noto Sans SC that the
   page's text needs are fetched and added to the document together: the page is laid out again
   once, not once per slice, and nothing on it moves. New content from htmx gets its slices the same
   way. Without JavaScript the <noscript> style sheet in base.html does the same job the plain way. */
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="portal-webfont"]');
  if (!meta || !window.FontFace || !document.fonts || !window.fetch) return;
  var FAMILY = "Noto Sans SC";
  // What the placeholder face covers (portal.css, static/fonts/placeholder/build.py): the
  // shipped face takes over exactly these characters, and only these.
  var CJK = [[0x2e80, 0x9fff], [0xf900, 0xfaff], [0xfe30, 0xfe4f], [0xff00, 0xff60], [0x20000, 0x2fa1f]];
  function inCJK(cp) {
    for (var i = 0; i < CJK.length; i++) { if (cp >= CJK[i][0] && cp <= CJK[i][1]) return true; }
    return false;
  }
  var slices = null, pending = null;

  // Does the page draw Chinese with a font of the device? Drawn with the page's own font
  // stack, 中 comes out as the placeholder's bar when no device font has it, and as the
  // "missing glyph" box (like a character no font has) when not even the placeholder loaded.
  function pageDrawsChinese() {
    var canvas = document.createElement("canvas");
    canvas.width = canvas.height = 32;
    var g = canvas.getContext("2d", { willReadFrequently: true });
    if (!g) return true;
    function pixels(ch, family) {
      g.clearRect(0, 0, 32, 32);
      g.font = "24px " + family;
      g.fillText(ch, 2, 26);
      return g.getImageData(0, 0, 32, 32).data.join(",");
    }
    var stack = getComputedStyle(document.body).fontFamily;
    var zhong = pixels("\u4e2d", stack);
    return zhong !== pixels("\u4e2d", '"Portal CJK Placeholder"') && zhong !== pixels("\udbff\udffd", stack);
  }

  function parse(css, base) {
    var out = [];
    css.replace(/@font-face\s*{([^}]*)}/g, function (all, body) {
      var src = /url\(\s*['"]?([^'")]+)['"]?\s*\)/.exec(body);
      var range = /unicode-range:\s*([^;]+);/.exec(body);
      if (!src || !range) return all;
      // Chinese only: Latin letters and digits stay in the device's own face, so the slices
      // that also hold Latin do not change the width of any number or word when they arrive.
      var spans = [];
      range[1].split(",").forEach(function (part) {
        var m = /U\+([0-9a-f]+)(?:-([0-9a-f]+))?/i.exec(part.trim());
        if (!m) return;
        var lo = parseInt(m[1], 16), hi = parseInt(m[2] || m[1], 16);
        CJK.forEach(function (c) {
          var a = Math.max(lo, c[0]), b = Math.min(hi, c[1]);
          if (b >= a) spans.push([a, b]);
        });
      });
      if (!spans.length) return all;
      var text = spans.map(function (s) {
        return "U+" + s[0].toString(16) + (s[1] > s[0] ? "-" + s[1].toString(16) : "");
      }).join(",");
      out.push({ url: new URL(src[1], base).href, range: text, spans: spans, face: null });
      return all;
    });
    return out;
  }

  function needs(slice, points) {
    for (var i = 0; i < points.length; i++) {
      for (var j = 0; j < slice.spans.length; j++) {
        if (points[i] >= slice.spans[j][0] && points[i] <= slice.spans[j][1]) return true;
      }
    }
    return false;
  }

  function load(text) {
    var seen = {}, points = [];
    for (var i = 0; i < text.length; i++) {
      var cp = text.codePointAt(i);
      if (cp > 0xffff) i++;
      if (!seen[cp] && inCJK(cp)) { seen[cp] = true; points.push(cp); }
    }
    if (!points.length) return;
    var wanted = slices.filter(function (s) { return !s.face && needs(s, points); });
    if (!wanted.length) return;
    var faces = wanted.map(function (s) {
      s.face = new FontFace(FAMILY, 'url("' + s.url + '") format("woff2")',
                            { unicodeRange: s.range, weight: "400", style: "normal", display: "swap" });
      return s.face.load().catch(function () { s.face = null; return null; });
    });
    // All at once: one new layout for the page, whatever order the files arrive in.
    Promise.all(faces).then(function (loaded) {
      loaded.forEach(function (face) { if (face) document.fonts.add(face); });
      // Canvas text (the dashboard's charts) is not laid out again by itself: tell it.
      document.dispatchEvent(new Event("portal:fonts-added"));
    });
  }

  function start() {
    // Wait for the placeholder (776 bytes) so the check sees what the page sees.
    document.fonts.load('24px "Portal CJK Placeholder"', "\u4e2d").catch(function () {}).then(function () {
      if (!pageDrawsChinese()) fetchSlices();
    });
  }

  function fetchSlices() {
    pending = fetch(meta.content, { credentials: "same-origin" })
      .then(function (r) { return r.text(); })
      .then(function (css) { slices = parse(css, new URL(meta.content, location.href)); load(document.body.textContent); });
  }

  // Only once the page has been drawn (its first contentful paint), so that no text and no
  // measurement of the first paint ever waits for a font file.
  function afterFirstPaint(run) {
    var done = false;
    function once() { if (!done) { done = true; setTimeout(run, 0); } }
    if (window.PerformanceObserver && (PerformanceObserver.supportedEntryTypes || []).indexOf("paint") >= 0) {
      new PerformanceObserver(function (list, observer) {
        if (list.getEntriesByName("first-contentful-paint").length) { observer.disconnect(); once(); }
      }).observe({ type: "paint", buffered: true });
    } else {
      window.addEventListener("load", function () { requestAnimationFrame(once); });
    }
  }

  afterFirstPaint(start);
  document.addEventListener("htmx:afterSettle", function (evt) {
    if (pending) pending.then(function () { load((evt.detail.elt || document.body).textContent); });
  });
})();
