// Study Planner: small enhancements on top of htmx. Every page works without this file.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // --- Live generation (htmx SSE extension) ------------------------------------------
  document.addEventListener("htmx:sseBeforeMessage", function (evt) {
    var message = evt.detail;
    // EventSource reports its own connection errors as "error" events too (no data):
    // never swap those into the page as if the server had sent them.
    if (!message || typeof message.data !== "string") {
      evt.preventDefault();
      return;
    }
    // A final event ends the generation: close the stream so the browser never
    // reconnects into a finished (or failed) run.
    var panel = evt.target.closest("[data-final-events]");
    var finalEvents = panel ? panel.getAttribute("data-final-events").split(",") : [];
    if (finalEvents.indexOf(message.type) !== -1 && message.target && message.target.close) {
      message.target.close();
    }
  });

  // --- Resumable generation (issue 10): say so while the connection is down ------------
  function reconnectingNote(panel, shown) {
    var note = panel && panel.querySelector ? panel.querySelector("[data-reconnecting]") : null;
    if (note) note.hidden = !shown;
  }

  document.addEventListener("htmx:sseOpen", function (evt) {
    reconnectingNote(evt.target, false);
  });

  document.addEventListener("htmx:sseError", function (evt) {
    var source = evt.detail && evt.detail.source;
    var panel = evt.target;
    if (!source || source.readyState !== EventSource.CLOSED || !panel.hasAttribute("sse-connect")) {
      // The browser is reconnecting by itself (with Last-Event-ID): the server resumes the
      // run, which went on meanwhile.
      reconnectingNote(panel, true);
      return;
    }
    // The stream could not start (e.g. the plan is already being generated elsewhere).
    // Stop the extension's retries and show the session's current state instead.
    panel.removeAttribute("sse-connect");
    source.close();
    var page = document.getElementById("session-page");
    if (page) {
      htmx.ajax("GET", window.location.pathname, { target: "#main", select: "#main", swap: "outerHTML" });
    }
  });

  // --- Uploads: drop zone, auto-submit, progress -----------------------------------------
  function uploadForm(elt) {
    return elt && elt.closest ? elt.closest(".upload-form") : null;
  }

  function submitUpload(form) {
    var input = form.querySelector('input[type="file"]');
    if (!input || !input.files.length) return;
    var names = Array.prototype.map.call(input.files, function (f) { return f.name; });
    var status = form.querySelector("[data-upload-status]");
    var text = form.querySelector("[data-upload-text]");
    if (status) status.hidden = false;
    if (text) text.textContent = "Uploading and reading " + names.length + " file" + (names.length === 1 ? "" : "s") + ": " + names.join(", ");
    form.setAttribute("aria-busy", "true");
    form.requestSubmit();
  }

  document.addEventListener("change", function (evt) {
    var form = uploadForm(evt.target);
    if (form && evt.target.type === "file") submitUpload(form);
  });

  ["dragenter", "dragover"].forEach(function (name) {
    document.addEventListener(name, function (evt) {
      var zone = evt.target.closest && evt.target.closest("[data-drop-zone]");
      if (!zone) return;
      evt.preventDefault();
      zone.classList.add("is-over");
    });
  });
  ["dragleave", "drop"].forEach(function (name) {
    document.addEventListener(name, function (evt) {
      var zone = evt.target.closest && evt.target.closest("[data-drop-zone]");
      if (zone) zone.classList.remove("is-over");
    });
  });
  document.addEventListener("drop", function (evt) {
    var zone = evt.target.closest && evt.target.closest("[data-drop-zone]");
    if (!zone || !evt.dataTransfer || !evt.dataTransfer.files.length) return;
    evt.preventDefault();
    var form = uploadForm(zone);
    var input = form.querySelector('input[type="file"]');
    input.files = evt.dataTransfer.files;
    submitUpload(form);
  });

  document.addEventListener("htmx:xhr:progress", function (evt) {
    var form = uploadForm(evt.target);
    var bar = form && form.querySelector("[data-upload-progress]");
    if (!bar || !evt.detail.lengthComputable) return;
    var percent = Math.round((evt.detail.loaded / evt.detail.total) * 100);
    bar.value = percent;
    if (percent >= 100) {
      var text = form.querySelector("[data-upload-text]");
      if (text) text.textContent = "Reading the files…";
    }
  });

  // --- A request that failed: say so instead of doing nothing ----------------------------
  function notify(text) {
    var toast = document.getElementById("toast");
    if (!toast) return;
    toast.textContent = text;
    toast.hidden = false;
    window.clearTimeout(notify.timer);
    notify.timer = window.setTimeout(function () { toast.hidden = true; }, 8000);
  }

  document.addEventListener("htmx:responseError", function (evt) {
    var status = evt.detail.xhr ? evt.detail.xhr.status : 0;
    notify(status === 403
      ? "Your session expired or the page is out of date: reload the page and try again."
      : "That didn't work (error " + status + "). Reload the page and try again.");
  });

  document.addEventListener("htmx:sendError", function () {
    notify("Couldn't reach the server. Check your connection and try again.");
  });

  // --- Plan editor: drag to reorder, focus after a swap, unsaved-changes note ----------
  var dragged = null;

  var orderBefore = "";

  function topicOrder(list) {
    return Array.prototype.map.call(list.querySelectorAll(".editor-topic[data-key]"), function (li) {
      return li.dataset.key;
    }).join(",");
  }

  document.addEventListener("dragstart", function (evt) {
    var handle = evt.target.closest && evt.target.closest(".drag-handle");
    var item = handle && handle.closest(".editor-topic[data-key]");
    if (!item) return;
    dragged = item;
    orderBefore = topicOrder(item.parentNode);
    item.classList.add("is-dragging");
    evt.dataTransfer.effectAllowed = "move";
    evt.dataTransfer.setData("text/plain", item.dataset.key || "");
  });

  document.addEventListener("dragover", function (evt) {
    if (!dragged) return;
    var over = evt.target.closest && evt.target.closest(".editor-topic[data-key]");
    if (!over || over === dragged || over.parentNode !== dragged.parentNode) return;
    evt.preventDefault();
    var box = over.getBoundingClientRect();
    var after = evt.clientY > box.top + box.height / 2;
    over.parentNode.insertBefore(dragged, after ? over.nextSibling : over);
  });

  document.addEventListener("dragend", function () {
    if (!dragged) return;
    dragged.classList.remove("is-dragging");
    var form = dragged.closest("form");
    var moved = topicOrder(dragged.parentNode) !== orderBefore;
    dragged = null;
    if (!moved) return;
    // Save the new order right away, through the same validation as every edit.
    var save = form && form.querySelector('button[name="action"][value="save"]');
    if (save) form.requestSubmit(save);
  });

  // --- Plan editor (issue 11): unsaved changes, Enter saves, focus after a swap -----------
  var editorDirty = false;
  var focusAfterSwap = null; // the field where Enter was pressed keeps the focus

  function inEditor(elt) {
    return elt && elt.closest ? elt.closest("#plan-form") : null;
  }

  function growTextarea(area) {
    if (window.CSS && CSS.supports && CSS.supports("field-sizing", "content")) return;
    area.style.height = "auto";
    area.style.height = area.scrollHeight + "px";
  }

  function growAll(root) {
    Array.prototype.forEach.call((root || document).querySelectorAll("#plan-form textarea"), growTextarea);
  }

  document.addEventListener("input", function (evt) {
    var form = inEditor(evt.target);
    if (!form) return;
    editorDirty = true;
    var note = form.querySelector("[data-dirty-note]");
    if (note) note.hidden = false;
    var saved = form.querySelector(".save-note");
    if (saved) saved.hidden = true;
    if (evt.target.tagName === "TEXTAREA") growTextarea(evt.target);
  });

  // Titles are one line: Enter saves the plan (the form's default button), as in an input.
  document.addEventListener("keydown", function (evt) {
    var form = inEditor(evt.target);
    if (!form || evt.key !== "Enter" || evt.shiftKey || evt.isComposing) return;
    if (evt.target.tagName !== "TEXTAREA") return;
    evt.preventDefault();
    focusAfterSwap = evt.target.id;
    form.requestSubmit(form.querySelector(".default-submit"));
  });

  window.addEventListener("beforeunload", function (evt) {
    if (!editorDirty || !document.getElementById("plan-form")) return;
    evt.preventDefault();
    evt.returnValue = ""; // older browsers need it to show their "Leave site?" dialog
  });

  // Requests made from outside the editor ("Add more documents", boosted links) would
  // replace it: ask first when it holds unsaved changes.
  document.addEventListener("htmx:beforeRequest", function (evt) {
    if (!editorDirty || inEditor(evt.detail.elt) || !document.getElementById("plan-form")) return;
    if (window.confirm("Your plan has unsaved changes. Leave without saving them?")) {
      editorDirty = false;
    } else {
      evt.preventDefault();
    }
  });

  document.addEventListener("htmx:afterSwap", function (evt) {
    if (evt.detail.target && evt.detail.target.id === "plan-editor") {
      // A 422 answer re-renders what was typed (still unsaved); a 200 saved it.
      editorDirty = evt.detail.xhr && evt.detail.xhr.status !== 200;
    }
  });

  document.addEventListener("htmx:afterSettle", function () {
    var form = document.getElementById("plan-form");
    if (!form) return;
    growAll(form);
    // After a failed save the first marked field wins; otherwise the field where Enter was
    // pressed keeps the focus.
    var invalid = form.querySelector('[aria-invalid="true"]');
    var id = (!invalid && focusAfterSwap) || form.getAttribute("data-focus");
    focusAfterSwap = null;
    var target = id && document.getElementById(id);
    if (!target || target.disabled) target = id && document.getElementById(form.getAttribute("data-focus"));
    if (target && !target.disabled) {
      var box = target.closest("details");
      if (box) box.open = true;
      target.focus({ preventScroll: true });
      target.scrollIntoView({ block: "nearest" });
      form.removeAttribute("data-focus");
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    growAll(document);
  });

  // A generation that starts makes the page's earlier messages ("Added 2 documents") stale.
  document.addEventListener("htmx:sseOpen", function () {
    var messages = document.getElementById("messages");
    if (messages) messages.remove();
  });

  document.addEventListener("click", function (evt) {
    if (evt.target.closest && evt.target.closest("[data-print]")) window.print();
  });

  // The live plan grows below the fold: say how many new topics are down there.
  var topicsSeen = 0;
  function liveTopics() {
    return document.querySelectorAll("#generation-progress .plan-outline > li");
  }
  document.addEventListener("htmx:afterSettle", function (evt) {
    var pill = document.querySelector("[data-new-topics]");
    if (!pill || !evt.detail.target || evt.detail.target.id !== "generation-progress") return;
    var topics = liveTopics();
    var last = topics[topics.length - 1];
    var below = last && last.getBoundingClientRect().top > window.innerHeight;
    if (!below) {
      topicsSeen = topics.length;
      pill.hidden = true;
      return;
    }
    var fresh = topics.length - topicsSeen;
    if (fresh > 0) {
      pill.textContent = fresh + " new topic" + (fresh === 1 ? "" : "s") + " below ↓";
      pill.hidden = false;
    }
  });
  document.addEventListener("click", function (evt) {
    var pill = evt.target.closest && evt.target.closest("[data-new-topics]");
    if (!pill) return;
    var topics = liveTopics();
    if (topics.length) topics[topics.length - 1].scrollIntoView({ behavior: "smooth", block: "center" });
    topicsSeen = topics.length;
    pill.hidden = true;
  });
  window.addEventListener("scroll", function () {
    var pill = document.querySelector("[data-new-topics]");
    var topics = liveTopics();
    var last = topics[topics.length - 1];
    if (pill && !pill.hidden && last && last.getBoundingClientRect().top <= window.innerHeight) {
      topicsSeen = topics.length;
      pill.hidden = true;
    }
  }, { passive: true });
})();

// --- Ask your documents (issue 14) -------------------------------------------------------
// Citation chips show their passage on hover and focus by CSS alone. On a touch screen the
// first tap opens the preview and a second tap follows the link to the passage view.
(function () {
  "use strict";
  var noHover = window.matchMedia && window.matchMedia("(hover: none)").matches;

  function closeAll(except) {
    document.querySelectorAll(".cite.open").forEach(function (cite) {
      if (cite !== except) cite.classList.remove("open");
    });
  }

  document.addEventListener("click", function (evt) {
    var chip = evt.target.closest ? evt.target.closest(".cite-chip") : null;
    if (!chip) {
      if (!evt.target.closest || !evt.target.closest(".cite-preview")) closeAll(null);
      return;
    }
    var cite = chip.parentElement;
    if (noHover && !cite.classList.contains("open")) {
      evt.preventDefault();
      closeAll(cite);
      cite.classList.add("open");
    }
  });

  document.addEventListener("keydown", function (evt) {
    if (evt.key === "Escape") closeAll(null);
  });

  // A dropped connection must not ask the question again (EventSource would reconnect by
  // itself, and each request is a new question): stop, keep what arrived, and say so.
  document.addEventListener("htmx:sseError", function (evt) {
    var panel = evt.target;
    var source = evt.detail && evt.detail.source;
    if (!panel || panel.id !== "ask-live-panel" || !source) return;
    source.close();
    panel.removeAttribute("sse-connect");
    var status = panel.querySelector("#ask-status");
    if (status) status.textContent = "The connection was lost before the answer was complete. Ask again to get the whole answer.";
  });

})();
