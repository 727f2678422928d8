// Redoc draws its sidebar attribution ("API docs by Redocly") with a logo from
// cdn.redoc.ly, hard-coded in its bundle. This page makes no third-party request (the
// CSP refuses it, and the browser reports a violation: tests/browser/test_csp_browser.py),
// so any image Redoc points at that CDN gets an empty local picture instead. Loaded
// before the bundle; it touches nothing else.
(function () {
  "use strict";
  var CDN = "https://cdn.redoc.ly/";
  var BLANK = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E";
  function local(value) {
    return String(value).indexOf(CDN) === 0 ? BLANK : value;
  }
  var setAttribute = Element.prototype.setAttribute;
  Element.prototype.setAttribute = function (name, value) {
    if (this instanceof HTMLImageElement && String(name).toLowerCase() === "src") {
      value = local(value);
    }
    return setAttribute.call(this, name, value);
  };
  var src = Object.getOwnPropertyDescriptor(HTMLImageElement.prototype, "src");
  Object.defineProperty(HTMLImageElement.prototype, "src", {
    configurable: true,
    enumerable: src.enumerable,
    get: src.get,
    set: function (value) {
      src.set.call(this, local(value));
    },
  });
})();
