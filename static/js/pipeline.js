/* The pipeline board (sales/pipeline/kanban.html): drag a card [data-opp] onto a column [data-column] to move
   it (htmx POST to the card's data-move-url; a drop on the lost column asks for the reason first). The
   answer is the card in its new state: it replaces the old one and is put into the column of its stage.
   On a phone the card's own "move to" select posts the same form (hx-trigger on change). No inline script:
   the Content-Security-Policy forbids it. */
(function () {
  "use strict";
  var board = document.querySelector("[data-kanban]");
  if (!board) return;
  var dragged = null;

  function columnOf(stageId) {
    return board.querySelector('[data-column][data-stage-id="' + stageId + '"] [data-cards]');
  }

  function place(card) {
    var target = columnOf(card.getAttribute("data-stage"));
    if (target && card.parentElement !== target) target.insertBefore(card, target.firstChild);
  }

  board.addEventListener("dragstart", function (ev) {
    var card = ev.target instanceof Element ? ev.target.closest("[data-opp]") : null;
    if (!card) return;
    dragged = card;
    ev.dataTransfer.effectAllowed = "move";
    ev.dataTransfer.setData("text/plain", card.getAttribute("data-opp"));
  });
  board.addEventListener("dragend", function () { dragged = null; });
  board.addEventListener("dragover", function (ev) {
    if (dragged && ev.target instanceof Element && ev.target.closest("[data-column]")) ev.preventDefault();
  });
  board.addEventListener("drop", function (ev) {
    var column = ev.target instanceof Element ? ev.target.closest("[data-column]") : null;
    var card = dragged;
    dragged = null;
    if (!column || !card || !window.htmx) return;
    ev.preventDefault();
    var stage = column.getAttribute("data-stage-id");
    if (stage === card.getAttribute("data-stage")) return;
    var values = { stage: stage, lost_reason: "" };
    if (column.getAttribute("data-stage-kind") === "lost") {
      var reason = window.prompt(card.getAttribute("data-lost-prompt") || "");
      if (reason === null) return;
      values.lost_reason = reason;
    }
    window.htmx.ajax("POST", card.getAttribute("data-move-url"), {
      source: card, target: card, swap: "outerHTML", values: values
    });
  });

  /* A refused move (400) still shows its card with the message. */
  document.body.addEventListener("htmx:beforeSwap", function (ev) {
    if (ev.detail.xhr && ev.detail.xhr.status === 400) { ev.detail.shouldSwap = true; ev.detail.isError = false; }
  });
  document.body.addEventListener("htmx:afterSettle", function (ev) {
    var el = ev.detail && ev.detail.elt;
    var card = el instanceof Element ? (el.matches("[data-opp]") ? el : el.querySelector("[data-opp]")) : null;
    if (!card) {
      var id = ev.detail && ev.detail.target && ev.detail.target.id;
      card = id ? document.getElementById(id) : null;
    }
    if (card && card.hasAttribute("data-opp")) place(card);
  });
})();
