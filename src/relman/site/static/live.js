// relman live regions: an element with data-live-src is refreshed from that URL every
// data-live-interval ms (ETag: unchanged content costs a 304). Typed form values and focus
// survive a refresh; a response with "X-Live-Final: 1" ends the polling (the run is over).
(function () {
  function localTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      var d = new Date(el.getAttribute("datetime"));
      if (isNaN(d)) return;
      el.title = el.getAttribute("datetime");
      el.textContent = d.toLocaleString();
    });
  }
  function elapsed(root) {
    var now = Date.now() / 1000;
    root.querySelectorAll("[data-since]").forEach(function (el) {
      var s = Math.max(0, now - parseFloat(el.getAttribute("data-since")));
      el.textContent = s < 60 ? s.toFixed(0) + " s" : Math.floor(s / 60) + " min " + Math.floor(s % 60) + " s";
    });
  }
  function live(region) {
    var src = region.getAttribute("data-live-src");
    var every = parseInt(region.getAttribute("data-live-interval") || "2000", 10);
    var etag = null, stopped = region.getAttribute("data-live-final") === "1";
    function tick() {
      if (stopped) return;
      var headers = etag ? {"If-None-Match": etag} : {};
      fetch(src, {headers: headers, cache: "no-store"}).then(function (r) {
        if (r.headers.get("X-Live-Final") === "1") stopped = true;
        if (r.status === 304 || !r.ok) return null;
        etag = r.headers.get("ETag");
        return r.text();
      }).then(function (html) {
        if (html === null || html === undefined) return;
        var kept = {}, focused = document.activeElement && region.contains(document.activeElement)
          ? document.activeElement.id : null;
        region.querySelectorAll("input[id], textarea[id]").forEach(function (el) { kept[el.id] = el.value; });
        region.innerHTML = html;
        Object.keys(kept).forEach(function (id) {
          var el = document.getElementById(id);
          if (el && el.type !== "hidden") el.value = kept[id];
        });
        if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
        localTimes(region);
        elapsed(region);
        region.dispatchEvent(new CustomEvent("live:updated", {bubbles: true}));
      }).catch(function () {}).then(function () { setTimeout(tick, every); });
    }
    setTimeout(tick, every);
  }
  document.querySelectorAll("[data-live-src]").forEach(live);
  setInterval(function () { elapsed(document); }, 1000);
  elapsed(document);
})();
