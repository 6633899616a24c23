// Cards rendered as an EHR shows them: indicator colour, summary, Markdown detail, source,
// suggestion buttons with the FHIR resources they would create/update/delete, links, override
// reasons. DOM built with createElement/textContent only.

import { renderMarkdown } from "./markdown.js";

const ORDER = { critical: 0, warning: 1, info: 2 };
const LABEL = { critical: "Critical", warning: "Warning", info: "Info" };
let sequence = 0;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("data-") || key.startsWith("aria-") || key === "role" || key === "for") node.setAttribute(key, value);
    else node[key] = value;
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

function nextId(prefix) {
  sequence += 1;
  return `${prefix}-${sequence}`;
}

/** A collapsible pretty-printed JSON block. */
export function jsonDetails(summaryText, value, open = false) {
  const pre = el("pre", { class: "json", tabIndex: 0 });
  pre.textContent = JSON.stringify(value, null, 2);
  return el("details", { class: "json-details", open }, el("summary", { text: summaryText }), pre);
}

function safeHref(url) {
  return typeof url === "string" && /^https?:\/\/\S+$/i.test(url) ? url : null;
}

function renderAction(action) {
  const type = String(action.type || "?");
  const resource = action.resource && typeof action.resource === "object" ? action.resource : null;
  const target = resource
    ? `${resource.resourceType || "resource"}${resource.id ? `/${resource.id}` : ""}`
    : action.resourceId || (typeof action.resource === "string" ? action.resource : "");
  const li = el("li", { class: "action" },
    el("span", { class: `action-type action-${type}`, text: type }),
    el("span", { class: "action-description", text: ` ${action.description || ""}` }),
    target ? el("span", { class: "action-target", text: ` — ${target}` }) : null);
  if (resource) li.append(jsonDetails(`${type === "create" ? "Would create" : "Would update"} ${resource.resourceType || "resource"} (FHIR JSON)`, resource));
  return li;
}

function renderSuggestion(suggestion, card, onFeedback) {
  const panelId = nextId("suggestion");
  const button = el("button", {
    type: "button",
    class: `suggestion-button${suggestion.isRecommended ? " recommended" : ""}`,
    "aria-expanded": "false",
    "aria-controls": panelId,
  }, el("span", { text: suggestion.label || "(no label)" }));
  if (suggestion.isRecommended) button.append(el("span", { class: "recommended-badge", text: "Recommended" }));
  const actions = Array.isArray(suggestion.actions) ? suggestion.actions : [];
  const panel = el("div", { class: "suggestion-actions", id: panelId, hidden: true },
    el("p", { class: "hint", text: actions.length ? "Accepting this suggestion would apply, together:" : "This suggestion has no actions." }),
    el("ul", {}, ...actions.map(renderAction)));
  if (suggestion.uuid && card.uuid) {
    const status = el("span", { class: "feedback-status", role: "status" });
    const accept = el("button", { type: "button", class: "accept", text: "Accept (sends feedback only; nothing is ordered)" });
    accept.addEventListener("click", async () => {
      accept.disabled = true;
      status.textContent = await onFeedback(card, "accepted", null, suggestion);
    });
    panel.append(el("div", { class: "accept-row" }, accept, status));
  }
  button.addEventListener("click", () => {
    const open = button.getAttribute("aria-expanded") === "true";
    button.setAttribute("aria-expanded", String(!open));
    panel.hidden = open;
  });
  return el("li", { class: "suggestion" }, button, panel);
}

function renderLinks(links) {
  return el("ul", { class: "card-links" }, ...links.map((link) => {
    const href = safeHref(link.url);
    if (link.type === "smart") {
      return el("li", {}, el("span", { class: "link-disabled", text: `${link.label} (SMART app link: needs an EHR launch)` }));
    }
    return el("li", {}, href
      ? el("a", { href, rel: "noopener noreferrer", target: "_blank", text: link.label || href })
      : el("span", { text: link.label || "" }));
  }));
}

function renderOverride(card, onFeedback) {
  const reasons = Array.isArray(card.overrideReasons) ? card.overrideReasons : [];
  const selectId = nextId("override");
  const select = el("select", { id: selectId },
    el("option", { value: "", text: "— reason (optional) —" }),
    ...reasons.map((r, i) => el("option", { value: String(i), text: r.display || r.code })));
  const status = el("span", { class: "feedback-status", role: "status" });
  const dismiss = el("button", { type: "button", class: "dismiss", text: "Dismiss card" });
  dismiss.addEventListener("click", async () => {
    const reason = select.value === "" ? null : reasons[Number(select.value)];
    dismiss.disabled = true;
    status.textContent = await onFeedback(card, "overridden", reason);
  });
  return el("div", { class: "override" },
    reasons.length ? el("label", { for: selectId, text: "Override reason " }) : null,
    reasons.length ? select : null,
    dismiss, status);
}

function renderCard(card, onFeedback) {
  const indicator = ORDER[card.indicator] !== undefined ? card.indicator : "unknown";
  const headingId = nextId("card-summary");
  const article = el("article", {
    class: `card card--${indicator}`,
    "data-indicator": indicator,
    "aria-labelledby": headingId,
  });
  article.append(el("header", { class: "card-head" },
    el("span", { class: "indicator-badge", text: LABEL[indicator] || "Unknown indicator" }),
    el("h3", { class: "card-summary", id: headingId, text: card.summary || "(no summary)" })));
  if (card.detail) {
    const detail = el("div", { class: "card-detail markdown" });
    detail.append(renderMarkdown(card.detail));
    article.append(detail);
  }
  const suggestions = Array.isArray(card.suggestions) ? card.suggestions : [];
  if (suggestions.length) {
    const behaviour = card.selectionBehavior === "at-most-one" ? "choose at most one" : card.selectionBehavior === "any" ? "choose any" : `selectionBehavior: ${card.selectionBehavior}`;
    article.append(el("section", { class: "suggestions" },
      el("h4", { text: `Suggestions (${behaviour})` }),
      el("ul", {}, ...suggestions.map((s) => renderSuggestion(s, card, onFeedback)))));
  }
  if (Array.isArray(card.links) && card.links.length) {
    article.append(el("section", { class: "links" }, el("h4", { text: "Links" }), renderLinks(card.links)));
  }
  if (card.uuid) article.append(renderOverride(card, onFeedback));
  const source = card.source || {};
  const topic = source.topic && (source.topic.display || source.topic.code);
  const sourceUrl = safeHref(source.url);
  article.append(el("footer", { class: "card-source" },
    el("span", { text: "Source: " }),
    sourceUrl ? el("a", { href: sourceUrl, rel: "noopener noreferrer", target: "_blank", text: source.label || sourceUrl }) : el("span", { class: "source-label", text: source.label || "(none)" }),
    topic ? el("span", { class: "source-topic", text: ` · ${topic}` }) : null));
  if (card.extension) article.append(jsonDetails("Machine-readable extension", card.extension));
  return article;
}

/** Render `response.cards` into `container` (emptied first), most severe first. */
export function renderCards(container, response, onFeedback) {
  container.replaceChildren();
  const cards = Array.isArray(response.cards) ? response.cards.slice() : [];
  cards.sort((a, b) => (ORDER[a.indicator] ?? 3) - (ORDER[b.indicator] ?? 3));
  if (cards.length === 0) {
    container.append(el("p", { class: "no-cards", text: "No cards: the service has no guidance for this request." }));
    return 0;
  }
  container.append(...cards.map((card) => renderCard(card, onFeedback)));
  return cards.length;
}

/** Render an error answer (the service's JSON error shape, or anything else). */
export function renderError(container, status, body, text) {
  container.replaceChildren();
  const error = body && body.error;
  const box = el("div", { class: "error-box", role: "alert" },
    el("h3", { text: `HTTP ${status}${error && error.code ? ` — ${error.code}` : ""}` }),
    el("p", { text: (error && error.message) || text || "The request failed." }));
  if (error && error.pointer) box.append(el("p", {}, el("span", { text: "At " }), el("code", { text: error.pointer })));
  if (error && Array.isArray(error.missing)) box.append(el("p", { text: `Missing prefetch keys: ${error.missing.join(", ")}` }));
  if (status === 401) box.append(el("p", { text: "The service requires authentication: paste a bearer token (a CDS Hooks JWT) in the Send section." }));
  container.append(box);
}
