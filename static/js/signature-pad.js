/* Signature pad: draw with a finger, a pen or a mouse (pointer events), send the strokes
   as a PNG cropped to the ink. The strokes are kept as points, so a resize or a phone turned
   sideways redraws them sharp at the new size instead of stretching a bitmap. */
(function () {
  "use strict";

  var PAD_HEIGHT = 200;   // CSS pixels; the width follows the form
  var MARGIN = 8;         // kept around the ink when cropping

  function setup(form) {
    var canvas = form.querySelector("canvas.pad");
    var field = form.querySelector("input[name=drawn]");
    var error = form.querySelector(".pad-error");
    var ctx = canvas.getContext("2d");
    var strokes = [];     // each stroke: [{x, y, w}], in CSS pixels
    var current = null;

    function lineWidth(e) {
      // A pen that reports pressure draws thicker when pressed; mouse and finger report 0.5.
      var p = e.pointerType === "pen" && e.pressure ? e.pressure : 0.5;
      return 1.5 + p * 3;
    }

    function point(e) {
      var r = canvas.getBoundingClientRect();
      return {x: e.clientX - r.left, y: e.clientY - r.top, w: lineWidth(e)};
    }

    function drawSegment(c, a, b) {
      c.lineWidth = (a.w + b.w) / 2;
      c.beginPath();
      c.moveTo(a.x, a.y);
      c.lineTo(b.x, b.y);
      c.stroke();
    }

    function drawStroke(c, stroke) {
      if (stroke.length === 1) {
        c.beginPath();
        c.arc(stroke[0].x, stroke[0].y, stroke[0].w / 2, 0, Math.PI * 2);
        c.fill();
        return;
      }
      for (var i = 1; i < stroke.length; i++) drawSegment(c, stroke[i - 1], stroke[i]);
    }

    function ink(c) {
      c.strokeStyle = c.fillStyle = "#111";
      c.lineCap = c.lineJoin = "round";
    }

    function resize() {
      var ratio = window.devicePixelRatio || 1;
      var width = canvas.clientWidth;
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(PAD_HEIGHT * ratio);
      ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
      ink(ctx);
      strokes.forEach(function (s) { drawStroke(ctx, s); });
    }

    function bounds() {
      var b = {x0: Infinity, y0: Infinity, x1: -Infinity, y1: -Infinity};
      strokes.forEach(function (s) {
        s.forEach(function (p) {
          b.x0 = Math.min(b.x0, p.x - p.w); b.y0 = Math.min(b.y0, p.y - p.w);
          b.x1 = Math.max(b.x1, p.x + p.w); b.y1 = Math.max(b.y1, p.y + p.w);
        });
      });
      return b;
    }

    function cropped() {
      // Twice the CSS size, so the PDF's print resolution stays crisp; transparent ground.
      var scale = 2, b = bounds();
      var out = document.createElement("canvas");
      out.width = Math.ceil((b.x1 - b.x0 + 2 * MARGIN) * scale);
      out.height = Math.ceil((b.y1 - b.y0 + 2 * MARGIN) * scale);
      var c = out.getContext("2d");
      c.setTransform(scale, 0, 0, scale, (MARGIN - b.x0) * scale, (MARGIN - b.y0) * scale);
      ink(c);
      strokes.forEach(function (s) { drawStroke(c, s); });
      return out.toDataURL("image/png");
    }

    canvas.addEventListener("pointerdown", function (e) {
      if (e.button !== 0) return;
      e.preventDefault();
      canvas.setPointerCapture(e.pointerId);
      current = [point(e)];
      strokes.push(current);
      drawStroke(ctx, current);
      error.hidden = true;
    });
    canvas.addEventListener("pointermove", function (e) {
      if (!current) return;
      e.preventDefault();
      // A fast finger moves further than one event per frame: take the points in between.
      var events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
      if (!events.length) events = [e];
      events.forEach(function (ev) {
        var p = point(ev);
        drawSegment(ctx, current[current.length - 1], p);
        current.push(p);
      });
    });
    function end() { current = null; }
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);

    form.querySelector("[data-pad-clear]").addEventListener("click", function () {
      strokes = [];
      current = null;
      field.value = "";
      ctx.clearRect(0, 0, canvas.width, canvas.height);
    });

    form.addEventListener("submit", function (e) {
      if (!strokes.length) {
        e.preventDefault();
        error.textContent = form.getAttribute("data-empty-message");
        error.hidden = false;
        return;
      }
      field.value = cropped();
    });

    var width = canvas.clientWidth;
    window.addEventListener("resize", function () {
      if (canvas.clientWidth !== width) { width = canvas.clientWidth; resize(); }
    });
    resize();
  }

  function init() {
    document.querySelectorAll("form[data-signature-pad]").forEach(setup);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
