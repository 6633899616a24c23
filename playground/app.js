// The playground page: load a scenario (or a pasted request), edit key facts, send it to the
// hook endpoint of this service, render the answer. Same origin only (the page's CSP allows
// nothing else).
//
// Query string (for links and the browser test): scenario=<category/name>, hook=order-select|
// order-sign, redate=0|1, autorun=1, expand=1 (open the recommended suggestion), and form values: ddimer, ddimerUnit, length, lengthUnit,
// diameter, diameterUnit, egfr, crcl, age, cancer=0|1, pregnancy=0|1, veins=<key,key>,
// add=<draft,draft> (apixaban, rivaroxaban, enoxaparin, warfarin, acetaminophen, duplex).
// A fragment #request=<URI-encoded JSON> loads that request instead of a scenario.

import { D_DIMER_UNITS, VEINS, applyEdits, clone, daysBetween, extractFacts, setHook, shiftDates, uuid } from "./edit.js";
import { renderCards, renderError } from "./cards.js";

const $ = (id) => document.getElementById(id);

const state = {
  scenarios: [],
  base: null, // the request as loaded
  original: null, // the facts read from it
  scenarioNow: null, // the instant a fixture is written for (ISO string), when known
  added: [], // draft templates added in the form
  services: { "order-select": "dvt-order-select", "order-sign": "dvt-order-sign" },
};

function setStatus(status) {
  document.body.dataset.status = status;
}

function say(id, text) {
  $(id).textContent = text;
}

function option(value, text) {
  const o = document.createElement("option");
  o.value = value;
  o.textContent = text;
  return o;
}

function buildStaticControls() {
  const unit = $("ddimer-unit");
  for (const key of Object.keys(D_DIMER_UNITS)) unit.append(option(key, key.replace("ug", "µg")));
  const veins = $("veins");
  for (const vein of VEINS) {
    const label = document.createElement("label");
    const input = document.createElement("input");
    input.type = "checkbox";
    input.name = "veins";
    input.value = vein.key;
    input.id = `vein-${vein.key}`;
    label.append(input, document.createTextNode(` ${vein.display}`));
    veins.append(label);
  }
}

/** The instant the loaded request is written for: the "written for" date at the fixture's time of day. */
function reference() {
  const day = $("written-for").value || new Date().toISOString().slice(0, 10);
  const time = state.scenarioNow ? state.scenarioNow.slice(10) : "T12:00:00Z";
  const instant = new Date(`${day}${time}`);
  return Number.isNaN(instant.getTime()) ? new Date() : instant;
}

function fillForm(facts) {
  $("ddimer-value").value = facts.ddimerValue;
  $("ddimer-unit").value = facts.ddimerUnit;
  $("length-value").value = facts.lengthValue;
  $("length-unit").value = facts.lengthUnit;
  $("diameter-value").value = facts.diameterValue;
  $("diameter-unit").value = facts.diameterUnit;
  $("egfr").value = facts.egfr;
  $("crcl").value = facts.crcl;
  $("age").value = facts.age;
  $("cancer").checked = facts.cancer;
  $("pregnancy").checked = facts.pregnancy;
  for (const input of document.querySelectorAll("input[name=veins]")) input.checked = facts.veins.includes(input.value);
  say("age-hint", facts.birthDate ? `birthDate ${facts.birthDate}` : "No birthDate in the request.");
  const body = $("drafts-body");
  body.replaceChildren();
  for (const draft of facts.drafts) {
    const row = document.createElement("tr");
    const name = document.createElement("td");
    name.textContent = draft.label;
    const selected = document.createElement("input");
    selected.type = "checkbox";
    selected.checked = draft.selected;
    selected.dataset.draft = String(draft.index);
    selected.dataset.role = "selected";
    selected.setAttribute("aria-label", `Selected: ${draft.label}`);
    const remove = document.createElement("input");
    remove.type = "checkbox";
    remove.dataset.draft = String(draft.index);
    remove.dataset.role = "remove";
    remove.setAttribute("aria-label", `Remove: ${draft.label}`);
    const c1 = document.createElement("td");
    c1.append(selected);
    const c2 = document.createElement("td");
    c2.append(remove);
    row.append(name, c1, c2);
    body.append(row);
  }
  if (facts.drafts.length === 0) {
    const row = document.createElement("tr");
    const cell = document.createElement("td");
    cell.colSpan = 3;
    cell.textContent = "No draft orders.";
    row.append(cell);
    body.append(row);
  }
  state.added = [];
  renderAdded();
}

function renderAdded() {
  const list = $("added-drafts");
  list.replaceChildren(...state.added.map((key, i) => {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = "Undo";
    button.setAttribute("aria-label", `Do not add ${key}`);
    button.addEventListener("click", () => {
      state.added.splice(i, 1);
      renderAdded();
    });
    li.append(document.createTextNode(`New draft: ${key} `), button);
    return li;
  }));
}

function readForm() {
  const draftValue = (index, role) => {
    const input = document.querySelector(`input[data-draft="${index}"][data-role="${role}"]`);
    return Boolean(input && input.checked);
  };
  return {
    ddimerValue: $("ddimer-value").value.trim(),
    ddimerUnit: $("ddimer-unit").value,
    lengthValue: $("length-value").value.trim(),
    lengthUnit: $("length-unit").value,
    diameterValue: $("diameter-value").value.trim(),
    diameterUnit: $("diameter-unit").value,
    veins: [...document.querySelectorAll("input[name=veins]")].filter((i) => i.checked).map((i) => i.value),
    cancer: $("cancer").checked,
    pregnancy: $("pregnancy").checked,
    egfr: $("egfr").value.trim(),
    crcl: $("crcl").value.trim(),
    age: $("age").value.trim(),
    drafts: state.original.drafts.map((d) => ({ ...d, selected: draftValue(d.index, "selected"), remove: draftValue(d.index, "remove") })),
    add: state.added.slice(),
  };
}

function useRequest(request, scenario) {
  if (!request || typeof request !== "object" || Array.isArray(request)) throw new Error("the request must be a JSON object");
  state.base = request;
  state.scenarioNow = scenario && scenario.now ? scenario.now : null;
  const writtenFor = state.scenarioNow ? state.scenarioNow.slice(0, 10) : new Date().toISOString().slice(0, 10);
  $("written-for").value = writtenFor;
  $("redate").checked = Boolean(state.scenarioNow) && $("redate").dataset.forced !== "off";
  state.original = extractFacts(request, reference());
  fillForm(state.original);
  const hook = request.hook === "order-sign" ? "order-sign" : "order-select";
  for (const radio of document.querySelectorAll("input[name=hook]")) radio.checked = radio.value === hook;
  $("send").disabled = false;
}

async function loadScenario(id) {
  const scenario = state.scenarios.find((s) => s.id === id);
  say("scenario-story", scenario && scenario.story ? scenario.story : "");
  if (!scenario) return;
  say("request-status", "Loading the scenario…");
  const response = await fetch(`/playground/scenarios/${id.split("/").map(encodeURIComponent).join("/")}`);
  if (!response.ok) throw new Error(`the scenario could not be loaded (HTTP ${response.status})`);
  useRequest(await response.json(), scenario);
  say("request-status", `Loaded ${scenario.id} (${scenario.hook || "unknown hook"}).`);
}

async function loadCatalogue() {
  const [catalogue, discovery] = await Promise.all([
    fetch("/playground/scenarios").then((r) => r.json()),
    fetch("/cds-services").then((r) => (r.ok ? r.json() : { services: [] })).catch(() => ({ services: [] })),
  ]);
  for (const service of discovery.services || []) state.services[service.hook] = service.id;
  state.scenarios = catalogue.scenarios || [];
  const select = $("scenario");
  select.replaceChildren(option("", "— choose a scenario —"));
  const groups = new Map();
  for (const s of state.scenarios) {
    if (!groups.has(s.category)) {
      const group = document.createElement("optgroup");
      group.label = s.category;
      groups.set(s.category, group);
      select.append(group);
    }
    groups.get(s.category).append(option(s.id, `${s.name}${s.hook ? ` (${s.hook})` : ""}`));
  }
  say("scenario-source", catalogue.source === "fhir-fixtures"
    ? `${state.scenarios.length} scenarios from fhir-fixtures/ (current directory).`
    : `${state.scenarios.length} built-in scenarios (no fhir-fixtures/ directory here).`);
}

async function sendFeedback(card, outcome, reason, suggestion) {
  const hook = state.lastHook || "order-select";
  const item = { card: card.uuid, outcome, outcomeTimestamp: new Date().toISOString().replace(/\.\d{3}Z$/, "Z") };
  if (suggestion) item.acceptedSuggestions = [{ id: suggestion.uuid }];
  if (reason) item.overrideReason = { reason: { code: reason.code, system: reason.system, display: reason.display } };
  try {
    const response = await fetch(`/cds-services/${encodeURIComponent(state.services[hook])}/feedback`, {
      method: "POST",
      headers: headers(),
      body: JSON.stringify({ feedback: [item] }),
    });
    return response.ok ? `Feedback sent (${outcome}).` : `Feedback refused: HTTP ${response.status}.`;
  } catch (e) {
    return `Feedback failed: ${e.message}`;
  }
}

function headers() {
  const h = { "Content-Type": "application/json", Accept: "application/json" };
  const token = $("token").value.trim();
  if (token) h.Authorization = `Bearer ${token.replace(/^Bearer\s+/i, "")}`;
  return h;
}

async function send() {
  if (!state.base) {
    say("call-status", "Choose a scenario or paste a request first.");
    return;
  }
  const hook = document.querySelector("input[name=hook]:checked").value;
  const ref = reference();
  const { request, changes } = applyEdits(state.base, state.original, readForm(), ref);
  setHook(request, hook);
  request.hookInstance = uuid();
  if ($("redate").checked) {
    const days = daysBetween(ref, new Date());
    const shifted = shiftDates(request, days);
    if (days !== 0) changes.push(`Dates moved by ${days} day${Math.abs(days) === 1 ? "" : "s"} (${shifted} values) so the story happens today`);
  }
  if (hook !== state.base.hook) changes.push(`Hook changed to ${hook}`);
  $("changes").replaceChildren(...changes.map((c) => {
    const li = document.createElement("li");
    li.textContent = c;
    return li;
  }));
  $("raw-request-json").textContent = JSON.stringify(request, null, 2);
  $("raw-response-json").textContent = "";
  const results = $("results");
  results.setAttribute("aria-busy", "true");
  setStatus("sending");
  state.lastHook = hook;
  const service = state.services[hook] || `dvt-${hook}`;
  say("call-status", `POST /cds-services/${service} …`);
  const started = performance.now();
  try {
    const response = await fetch(`/cds-services/${encodeURIComponent(service)}`, {
      method: "POST",
      headers: headers(),
      body: JSON.stringify(request),
    });
    const text = await response.text();
    const ms = Math.round(performance.now() - started);
    let body = null;
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
    $("raw-response-json").textContent = body ? JSON.stringify(body, null, 2) : text;
    if (response.ok && body) {
      const count = renderCards(results, body, sendFeedback);
      document.body.dataset.cards = String(count);
      say("call-status", `POST /cds-services/${service} → HTTP ${response.status} in ${ms} ms: ${count} card${count === 1 ? "" : "s"}.`);
      setStatus("done");
    } else {
      renderError(results, response.status, body, text);
      say("call-status", `POST /cds-services/${service} → HTTP ${response.status} in ${ms} ms.`);
      setStatus("error");
    }
  } catch (e) {
    renderError(results, 0, null, `The service could not be reached: ${e.message}`);
    say("call-status", "The request failed.");
    setStatus("error");
  } finally {
    results.setAttribute("aria-busy", "false");
  }
}

/** Form values from the query string (after a scenario is loaded). */
function applyQueryFacts(params) {
  const set = (param, id) => {
    if (params.has(param)) $(id).value = params.get(param);
  };
  set("ddimer", "ddimer-value");
  set("ddimerUnit", "ddimer-unit");
  set("length", "length-value");
  set("lengthUnit", "length-unit");
  set("diameter", "diameter-value");
  set("diameterUnit", "diameter-unit");
  set("egfr", "egfr");
  set("crcl", "crcl");
  set("age", "age");
  if (params.has("cancer")) $("cancer").checked = params.get("cancer") === "1";
  if (params.has("pregnancy")) $("pregnancy").checked = params.get("pregnancy") === "1";
  if (params.has("veins")) {
    const keys = params.get("veins").split(",");
    for (const input of document.querySelectorAll("input[name=veins]")) input.checked = keys.includes(input.value);
  }
  if (params.has("add")) {
    state.added = params.get("add").split(",").filter((key) => key !== "");
    renderAdded();
  }
  const hook = params.get("hook");
  if (hook === "order-select" || hook === "order-sign") {
    for (const radio of document.querySelectorAll("input[name=hook]")) radio.checked = radio.value === hook;
  }
}

/** Open the first recommended suggestion and its first resource (for screenshots). */
function expandRecommended() {
  const button = document.querySelector(".suggestion-button.recommended");
  if (!button) return;
  button.click();
  const panel = document.getElementById(button.getAttribute("aria-controls"));
  const details = panel && panel.querySelector("details");
  if (details) details.open = true;
}

function fail(message) {
  say("request-status", message);
  setStatus("error");
}

async function main() {
  buildStaticControls();
  const params = new URLSearchParams(window.location.search);
  if (params.get("redate") === "0") $("redate").dataset.forced = "off";
  $("scenario").addEventListener("change", (event) => {
    loadScenario(event.target.value).catch((e) => fail(`Error: ${e.message}`));
  });
  $("load-paste").addEventListener("click", () => {
    try {
      useRequest(JSON.parse($("paste").value), null);
      $("scenario").value = "";
      say("scenario-story", "");
      say("request-status", "Using the pasted request.");
    } catch (e) {
      say("request-status", `The pasted text is not a usable hook request: ${e.message}`);
    }
  });
  $("add-draft-button").addEventListener("click", () => {
    const key = $("add-draft").value;
    if (key) {
      state.added.push(key);
      renderAdded();
    }
  });
  $("reset").addEventListener("click", () => {
    if (state.original) fillForm(clone(state.original));
  });
  $("written-for").addEventListener("change", () => {
    if (state.base) say("age-hint", `${$("age-hint").textContent.split(" (")[0]} (age counted on ${$("written-for").value})`);
  });
  $("facts").addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });
  $("send").disabled = true;
  try {
    await loadCatalogue();
  } catch (e) {
    fail(`The scenario list could not be loaded: ${e.message}`);
    return;
  }
  setStatus("ready");
  const wanted = params.get("scenario");
  const hash = window.location.hash;
  if (hash.startsWith("#request=")) {
    // A request in the URL fragment (never sent to the server): a pasted request as a link.
    try {
      const request = JSON.parse(decodeURIComponent(hash.slice("#request=".length)));
      $("paste").value = JSON.stringify(request, null, 2);
      useRequest(request, null);
      say("request-status", "Using the request from the link.");
    } catch (e) {
      fail(`The request in the link is not usable: ${e.message}`);
      return;
    }
    applyQueryFacts(params);
    if (params.get("autorun") === "1") await send();
  } else if (wanted) {
    $("scenario").value = wanted;
    try {
      await loadScenario(wanted);
    } catch (e) {
      fail(`Error: ${e.message}`);
      return;
    }
    if (!state.base) {
      fail(`No scenario named ${wanted}.`);
      return;
    }
    applyQueryFacts(params);
    if (params.get("autorun") === "1") {
      await send();
      if (params.get("expand") === "1") expandRecommended();
    }
  }
}

main();
