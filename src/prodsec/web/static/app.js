// prodsec: progressive enhancement only; every page works without this file.
(function () {
  "use strict";
  var form = document.getElementById("wizard");
  if (form) {
    document.documentElement.classList.add("js");
    var steps = Array.prototype.slice.call(form.querySelectorAll(".step"));
    var invalid = steps.findIndex(function (s) { return s.querySelector("[aria-invalid=true]"); });
    var current = invalid >= 0 ? invalid : 0;
    function show(i) {
      current = Math.max(0, Math.min(steps.length - 1, i));
      steps.forEach(function (s, n) { s.classList.toggle("current", n === current); });
      var prev = steps[current].querySelector(".prev");
      var next = steps[current].querySelector(".next");
      if (prev) prev.hidden = current === 0;
      if (next) next.hidden = current === steps.length - 1;
    }
    form.addEventListener("click", function (e) {
      var t = e.target;
      if (t.classList.contains("next")) { show(current + 1); focusStep(); }
      if (t.classList.contains("prev")) { show(current - 1); focusStep(); }
    });
    // Keyboard: Enter in an answer goes to the next question rather than submitting a preview.
    form.addEventListener("keydown", function (e) {
      var t = e.target;
      if (e.key !== "Enter" || t.tagName !== "INPUT" || t.type === "file") return;
      if (current === steps.length - 1) return;
      e.preventDefault(); show(current + 1); focusStep();
    });
    function focusStep() {
      var first = steps[current].querySelector("input, select, textarea");
      if (first) first.focus();
    }
    show(current);
    var timer = null;
    function preview() {
      // urlencoded, not multipart: the server takes multipart only on forms that upload a file
      var data = new URLSearchParams(new FormData(form));
      fetch("/products/preview", { method: "POST", body: data, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) { if (html !== null) document.getElementById("preview").innerHTML = html; });
    }
    form.addEventListener("change", function () { clearTimeout(timer); timer = setTimeout(preview, 250); });
    form.addEventListener("input", function (e) {
      if (e.target.classList.contains("filter")) {
        var words = e.target.value.toLowerCase();
        var box = document.getElementById("c-" + e.target.dataset.filter);
        box.querySelectorAll(".choice").forEach(function (c) {
          c.hidden = words && c.textContent.toLowerCase().indexOf(words) < 0;
        });
      }
    });
    preview();
  }
})();

// After a save the board returns to the changed requirement (#s-…): unfold its forms there.
(function () {
  function unfold() {
    if (!/^#s-[\w-]+$/.test(location.hash)) return;
    var item = document.getElementById(location.hash.slice(1));
    if (item) item.querySelectorAll("details.edit").forEach(function (d) { d.open = true; });
  }
  unfold();
  window.addEventListener("hashchange", unfold);
})();

// Printing (h16d): folded sections print unfolded, so a printed board or product is complete.
(function () {
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("main details").forEach(function (d) { d.open = true; });
  });
})();

// A refused board save comes back scrolled to its item (#s-…); browsers skip autofocus when
// the address has a fragment (and move the focus to the fragment's target), so the field in
// error gets the focus here, once the page has loaded (h16d).
window.addEventListener("load", function () {
  if (!/^#s-[\w-]+$/.test(location.hash)) return;
  var item = document.getElementById(location.hash.slice(1));
  var field = item && item.querySelector(".error") && item.querySelector("[autofocus]");
  if (field) field.focus({ preventScroll: true });
});

// On a phone the navigation is one row that scrolls sideways (app.css): scroll it so that the
// current page's link is in view rather than cut off at the right edge (h16e).
(function () {
  var nav = document.querySelector(".top nav");
  var here = nav && nav.querySelector("[aria-current=page]");
  if (!here || nav.scrollWidth <= nav.clientWidth) return;
  nav.scrollLeft += here.getBoundingClientRect().left - nav.getBoundingClientRect().left - 16;
})();
