// Reading and editing the key facts of a CDS Hooks request, in the browser. Pure functions on
// plain JSON: no DOM. The codes follow cds-services/value-sets.toml and the fixtures.

const LOINC = "http://loinc.org";
const UCUM = "http://unitsofmeasure.org";
const SNOMED = "http://snomed.info/sct";
const ICD10 = "http://hl7.org/fhir/sid/icd-10-cm";
const RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm";
const FINDING = "https://fhir.distal-dvt-cds.org/CodeSystem/ultrasound-finding";
const OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category";
const CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical";
const CONDITION_VER = "http://terminology.hl7.org/CodeSystem/condition-ver-status";
const CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category";

const D_DIMER_CODES = ["48065-7", "48067-3", "71427-9", "48066-5", "48058-2", "91556-1", "7799-0", "3246-6", "15179-5"];
const EGFR_CODES = ["33914-3", "48642-3", "48643-1", "62238-1", "88293-6", "98979-8"];
const CRCL_CODES = ["35591-7", "2164-2"];

/** D-dimer units offered by the form: LOINC code (FEU or DDU basis), unit text, UCUM code. */
export const D_DIMER_UNITS = {
  "mg/L FEU": { loinc: "48065-7", display: "Fibrin D-dimer FEU [Mass/volume] in Platelet poor plasma", unit: "mg/L FEU", code: "mg/L" },
  "ng/mL FEU": { loinc: "48065-7", display: "Fibrin D-dimer FEU [Mass/volume] in Platelet poor plasma", unit: "ng/mL FEU", code: "ng/mL" },
  "ug/mL FEU": { loinc: "48065-7", display: "Fibrin D-dimer FEU [Mass/volume] in Platelet poor plasma", unit: "ug/mL FEU", code: "ug/mL" },
  "ng/mL DDU": { loinc: "48066-5", display: "Fibrin D-dimer DDU [Mass/volume] in Platelet poor plasma", unit: "ng/mL DDU", code: "ng/mL" },
  "mg/L DDU": { loinc: "48066-5", display: "Fibrin D-dimer DDU [Mass/volume] in Platelet poor plasma", unit: "mg/L DDU", code: "mg/L" },
};

/** The calf veins of the form (SNOMED body structures). */
export const VEINS = [
  { key: "posterior-tibial", code: "4258007", display: "Posterior tibial vein" },
  { key: "peroneal", code: "71758008", display: "Peroneal vein" },
  { key: "anterior-tibial", code: "26703007", display: "Anterior tibial vein" },
  { key: "gastrocnemius", code: "264481007", display: "Gastrocnemius vein" },
  { key: "soleal", code: "397427005", display: "Soleal vein" },
];

/** Drafts the form can add (RxNorm ingredients of cds-services/medications.toml). */
export const DRAFT_TEMPLATES = {
  apixaban: { kind: "medication", rxnorm: "1364430", name: "apixaban", text: "apixaban 5 mg oral tablet", dose: 10, route: "oral", frequency: 2, days: 90 },
  rivaroxaban: { kind: "medication", rxnorm: "1114195", name: "rivaroxaban", text: "rivaroxaban 15 mg oral tablet", dose: 15, route: "oral", frequency: 2, days: 90 },
  enoxaparin: { kind: "medication", rxnorm: "67108", name: "enoxaparin", text: "enoxaparin 80 mg/0.8 mL prefilled syringe", dose: 80, route: "subcutaneous", frequency: 2, days: 90 },
  warfarin: { kind: "medication", rxnorm: "11289", name: "warfarin", text: "warfarin 5 mg oral tablet", dose: 5, route: "oral", frequency: 1, days: 90 },
  acetaminophen: { kind: "medication", rxnorm: "161", name: "acetaminophen", text: "acetaminophen 325 mg oral tablet", dose: 650, route: "oral", frequency: 4, days: 5 },
  duplex: { kind: "duplex" },
};

const ROUTES = {
  oral: { code: "26643006", display: "Oral route" },
  subcutaneous: { code: "34206005", display: "Subcutaneous route" },
};

export function clone(value) {
  return JSON.parse(JSON.stringify(value));
}

function codings(resource, field = "code") {
  const concept = resource && resource[field];
  return concept && Array.isArray(concept.coding) ? concept.coding : [];
}

function hasCode(resource, system, codes) {
  return codings(resource).some((c) => c.system === system && codes.includes(c.code));
}

/** The resources of a prefetch value: a Bundle's entries, or a single resource. */
export function resourcesOf(value) {
  if (!value || typeof value !== "object") return [];
  if (value.resourceType === "Bundle") {
    return (value.entry || []).map((e) => e && e.resource).filter((r) => r && typeof r === "object");
  }
  return [value];
}

function observations(request) {
  return resourcesOf(request.prefetch && request.prefetch.observations).filter((r) => r.resourceType === "Observation");
}

function conditions(request) {
  return resourcesOf(request.prefetch && request.prefetch.conditions).filter((r) => r.resourceType === "Condition");
}

function effective(resource) {
  return resource.effectiveDateTime || (resource.effectivePeriod && resource.effectivePeriod.start) || resource.issued || "";
}

function mostRecent(list) {
  return list.slice().sort((a, b) => (effective(a) < effective(b) ? 1 : -1))[0];
}

function isActive(condition) {
  const status = codings(condition, "clinicalStatus").map((c) => c.code);
  const verification = codings(condition, "verificationStatus").map((c) => c.code);
  const activeish = status.length === 0 || status.some((s) => ["active", "recurrence", "relapse"].includes(s));
  return activeish && !verification.some((v) => ["refuted", "entered-in-error"].includes(v));
}

function icdStem(code) {
  return String(code || "").replace(".", "").toUpperCase();
}

function inIcdRange(code, from, to) {
  const stem = icdStem(code).slice(0, from.length);
  return stem >= from && stem <= to;
}

/** Active cancer (value-set active-cancer / metastatic-cancer): C00–C96 except C44. */
function isCancer(condition) {
  return codings(condition).some((c) => {
    if (c.system === SNOMED) return ["363346000", "128462008"].includes(c.code);
    if (c.system === ICD10) return inIcdRange(c.code, "C00", "C96") && !icdStem(c.code).startsWith("C44");
    return false;
  });
}

/** Pregnancy (value-set pregnancy), ignoring the delivery/puerperium codes. */
function isPregnancy(condition) {
  return codings(condition).some((c) => {
    if (c.system === SNOMED) return c.code === "77386006";
    if (c.system !== ICD10) return false;
    const stem = icdStem(c.code);
    if (stem.startsWith("Z331") || stem.startsWith("Z34") || stem.startsWith("Z3A")) return true;
    const excluded = ["O80", "O82", "O85", "O86", "O87", "O88", "O89", "O90", "O91", "O92", "O94"];
    return inIcdRange(stem, "O00", "O9A") && !excluded.some((x) => stem.startsWith(x));
  });
}

function isPregnancyStatus(observation) {
  return hasCode(observation, LOINC, ["82810-3"]);
}

function quantity(observation) {
  const q = observation && observation.valueQuantity;
  if (!q || typeof q.value !== "number") return null;
  return q;
}

function finding(request, code) {
  return mostRecent(observations(request).filter((o) => hasCode(o, FINDING, [code])));
}

/** Whole years between a FHIR date and `reference` (a Date), or "" when unknown/partial. */
export function ageAt(birthDate, reference) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(birthDate || "");
  if (!m) return "";
  const y = reference.getUTCFullYear();
  let age = y - Number(m[1]);
  const month = reference.getUTCMonth() + 1;
  const day = reference.getUTCDate();
  if (month < Number(m[2]) || (month === Number(m[2]) && day < Number(m[3]))) age -= 1;
  return String(age);
}

/** The birth date making someone `age` years old on `reference` (their birthday that day). */
export function birthDateFor(age, reference) {
  const d = new Date(Date.UTC(reference.getUTCFullYear() - age, reference.getUTCMonth(), reference.getUTCDate()));
  return d.toISOString().slice(0, 10);
}

function unitKeyOf(observation) {
  const q = quantity(observation);
  if (!q) return "mg/L FEU";
  const basis = hasCode(observation, LOINC, ["48066-5", "48058-2", "91556-1"]) || /ddu/i.test(q.unit || "") ? "DDU" : "FEU";
  const text = `${q.code || ""} ${q.unit || ""}`.toLowerCase();
  const mass = text.includes("ng/ml") ? "ng/mL" : text.includes("ug/ml") || text.includes("µg/ml") ? "ug/mL" : "mg/L";
  const key = `${mass} ${basis}`;
  return D_DIMER_UNITS[key] ? key : "mg/L FEU";
}

function describeDraft(resource) {
  if (!resource) return "(empty entry)";
  const concept = resource.medicationCodeableConcept || resource.code;
  const coding = concept && Array.isArray(concept.coding) ? concept.coding[0] : null;
  const what = (concept && concept.text) || (coding && (coding.display || coding.code)) || resource.resourceType;
  return `${resource.resourceType}/${resource.id || "?"}: ${what}`;
}

/** The key facts of `request`, as the form shows them. Unknown values are "". */
export function extractFacts(request, reference) {
  const obs = observations(request);
  const ddimer = mostRecent(obs.filter((o) => hasCode(o, LOINC, D_DIMER_CODES)));
  const egfr = mostRecent(obs.filter((o) => hasCode(o, LOINC, EGFR_CODES)));
  const crcl = mostRecent(obs.filter((o) => hasCode(o, LOINC, CRCL_CODES)));
  const length = finding(request, "thrombus-length");
  const diameter = finding(request, "thrombus-diameter");
  const veinCodes = new Set();
  for (const o of obs.filter((x) => hasCode(x, FINDING, ["vein-involved"]))) {
    for (const field of ["valueCodeableConcept", "bodySite"]) {
      for (const c of codings(o, field)) if (c.system === SNOMED) veinCodes.add(c.code);
    }
  }
  const conds = conditions(request).filter(isActive);
  const patient = resourcesOf(request.prefetch && request.prefetch.patient).find((r) => r.resourceType === "Patient");
  const draftEntries = ((request.context && request.context.draftOrders && request.context.draftOrders.entry) || []);
  const selections = (request.context && request.context.selections) || [];
  return {
    ddimerValue: quantity(ddimer) ? String(quantity(ddimer).value) : "",
    ddimerUnit: unitKeyOf(ddimer),
    lengthValue: quantity(length) ? String(quantity(length).value) : "",
    lengthUnit: quantity(length) && /mm/.test(quantity(length).code || quantity(length).unit || "") ? "mm" : "cm",
    diameterValue: quantity(diameter) ? String(quantity(diameter).value) : "",
    diameterUnit: quantity(diameter) && /cm/.test(quantity(diameter).code || quantity(diameter).unit || "") ? "cm" : "mm",
    veins: VEINS.filter((v) => veinCodes.has(v.code)).map((v) => v.key),
    cancer: conds.some(isCancer),
    pregnancy: conds.some(isPregnancy) || obs.some((o) => isPregnancyStatus(o) && codings(o, "valueCodeableConcept").some((c) => c.code === "77386006")),
    egfr: quantity(egfr) ? String(quantity(egfr).value) : "",
    crcl: quantity(crcl) ? String(quantity(crcl).value) : "",
    age: patient ? ageAt(patient.birthDate, reference) : "",
    birthDate: (patient && patient.birthDate) || "",
    drafts: draftEntries.map((e, index) => {
      const r = e && e.resource;
      const ref = r && r.resourceType && r.id ? `${r.resourceType}/${r.id}` : "";
      return { index, ref, label: describeDraft(r), selected: ref !== "" && selections.includes(ref) };
    }),
  };
}

function patientId(request) {
  return (request.context && request.context.patientId) || "unknown";
}

function isoMinusHours(reference, hours) {
  return new Date(reference.getTime() - hours * 3600 * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** The Bundle behind a prefetch key, created (searchset) when absent or null. */
function bundleFor(request, key) {
  request.prefetch = request.prefetch || {};
  const value = request.prefetch[key];
  if (value && value.resourceType === "Bundle") {
    value.entry = value.entry || [];
    return value;
  }
  const bundle = { resourceType: "Bundle", type: "searchset", entry: [] };
  if (value && typeof value === "object") bundle.entry.push({ resource: value, search: { mode: "match" } });
  request.prefetch[key] = bundle;
  return bundle;
}

function removeResources(request, key, predicate) {
  const value = request.prefetch && request.prefetch[key];
  if (!value || value.resourceType !== "Bundle" || !Array.isArray(value.entry)) return;
  value.entry = value.entry.filter((e) => !(e && e.resource && predicate(e.resource)));
  if (value.entry.length === 0) delete value.entry;
}

function addResource(request, key, resource) {
  const bundle = bundleFor(request, key);
  const entry = { resource, search: { mode: "match" } };
  if (request.fhirServer) entry.fullUrl = `${request.fhirServer.replace(/\/$/, "")}/${resource.resourceType}/${resource.id}`;
  bundle.entry.push(entry);
}

function observation(request, reference, id, category, coding, value) {
  return {
    resourceType: "Observation",
    id,
    status: "final",
    category: [{ coding: [{ system: OBS_CATEGORY, code: category, display: category === "imaging" ? "Imaging" : "Laboratory" }] }],
    code: { coding: [coding], text: coding.display },
    subject: { reference: `Patient/${patientId(request)}` },
    effectiveDateTime: isoMinusHours(reference, category === "imaging" ? 3 : 4),
    ...value,
  };
}

function ucum(value, unit, code) {
  return { valueQuantity: { value, unit, system: UCUM, code: code || unit } };
}

function condition(request, reference, id, codingList, text) {
  return {
    resourceType: "Condition",
    id,
    clinicalStatus: { coding: [{ system: CONDITION_CLINICAL, code: "active" }] },
    verificationStatus: { coding: [{ system: CONDITION_VER, code: "confirmed" }] },
    category: [{ coding: [{ system: CONDITION_CATEGORY, code: "problem-list-item", display: "Problem List Item" }] }],
    code: { coding: codingList, text },
    subject: { reference: `Patient/${patientId(request)}` },
    onsetDateTime: isoMinusHours(reference, 24 * 60).slice(0, 10),
    recordedDate: isoMinusHours(reference, 24 * 30),
  };
}

function draftResource(request, reference, template, id) {
  const subject = { reference: `Patient/${patientId(request)}` };
  if (template.kind === "duplex") {
    const when = new Date(reference.getTime() + 6 * 24 * 3600 * 1000).toISOString().slice(0, 10);
    return {
      resourceType: "ServiceRequest",
      id,
      status: "draft",
      intent: "order",
      code: { coding: [{ system: LOINC, code: "30881-7", display: "US Doppler Lower extremity vein" }], text: "Follow-up venous duplex ultrasound" },
      subject,
      occurrenceDateTime: when,
      authoredOn: isoMinusHours(reference, 0.25),
    };
  }
  const route = ROUTES[template.route];
  return {
    resourceType: "MedicationRequest",
    id,
    status: "draft",
    intent: "order",
    medicationCodeableConcept: { coding: [{ system: RXNORM, code: template.rxnorm, display: template.name }], text: template.text },
    subject,
    authoredOn: isoMinusHours(reference, 0.25),
    dosageInstruction: [{
      text: `${template.dose} mg ${template.frequency === 1 ? "once" : `${template.frequency} times`} daily`,
      timing: { repeat: { frequency: template.frequency, period: 1, periodUnit: "d" } },
      route: { coding: [{ system: SNOMED, code: route.code, display: route.display }] },
      doseAndRate: [{ doseQuantity: { value: template.dose, unit: "mg", system: UCUM, code: "mg" } }],
    }],
    dispenseRequest: { expectedSupplyDuration: { value: template.days, unit: "days", system: UCUM, code: "d" } },
  };
}

function number(text) {
  const n = Number(String(text).trim());
  return String(text).trim() === "" || !Number.isFinite(n) ? null : n;
}

/**
 * Apply the form's edits to a copy of `request`: only facts that differ from `original`
 * (what extractFacts read) are rewritten, so a request nobody edited is sent unchanged.
 * A changed lab or finding replaces every Observation of that kind with one new Observation
 * (blank = removed: the fact becomes missing). `reference` is the instant the request is
 * written for. Returns { request, changes } with a human-readable list of what changed.
 */
export function applyEdits(base, original, edited, reference) {
  const request = clone(base);
  const changes = [];
  const obsKey = "observations";
  const changed = (field) => JSON.stringify(original[field]) !== JSON.stringify(edited[field]);

  if (changed("ddimerValue") || changed("ddimerUnit")) {
    removeResources(request, obsKey, (r) => r.resourceType === "Observation" && hasCode(r, LOINC, D_DIMER_CODES));
    const value = number(edited.ddimerValue);
    if (value !== null) {
      const unit = D_DIMER_UNITS[edited.ddimerUnit] || D_DIMER_UNITS["mg/L FEU"];
      addResource(request, obsKey, observation(request, reference, "pg-ddimer", "laboratory",
        { system: LOINC, code: unit.loinc, display: unit.display }, ucum(value, unit.unit, unit.code)));
      changes.push(`D-dimer ${value} ${unit.unit} (no laboratory interpretation: the service's threshold decides)`);
    } else {
      changes.push("D-dimer removed");
    }
  }
  const findings = [
    ["lengthValue", "lengthUnit", "thrombus-length", "Thrombus length", "pg-us-length"],
    ["diameterValue", "diameterUnit", "thrombus-diameter", "Maximum thrombus diameter", "pg-us-diameter"],
  ];
  for (const [valueField, unitField, code, display, id] of findings) {
    if (!changed(valueField) && !changed(unitField)) continue;
    removeResources(request, obsKey, (r) => r.resourceType === "Observation" && hasCode(r, FINDING, [code]));
    const value = number(edited[valueField]);
    if (value !== null) {
      addResource(request, obsKey, observation(request, reference, id, "imaging",
        { system: FINDING, code, display }, ucum(value, edited[unitField])));
      changes.push(`${display} ${value} ${edited[unitField]}`);
    } else {
      changes.push(`${display} removed`);
    }
  }
  if (changed("veins")) {
    removeResources(request, obsKey, (r) => r.resourceType === "Observation" && hasCode(r, FINDING, ["vein-involved", "veins-involved"]));
    const veins = VEINS.filter((v) => edited.veins.includes(v.key));
    if (veins.length > 0) {
      addResource(request, obsKey, observation(request, reference, "pg-us-veins", "imaging",
        { system: FINDING, code: "veins-involved", display: "Number of calf veins involved" }, { valueInteger: veins.length }));
      veins.forEach((v, i) => addResource(request, obsKey, observation(request, reference, `pg-us-vein-${i + 1}`, "imaging",
        { system: FINDING, code: "vein-involved", display: "Vein involved" },
        { valueCodeableConcept: { coding: [{ system: SNOMED, code: v.code, display: v.display }], text: v.display } })));
      changes.push(`Veins involved: ${veins.map((v) => v.display.toLowerCase()).join(", ")}`);
    } else {
      changes.push("Vein findings removed");
    }
  }
  const labs = [
    ["egfr", EGFR_CODES, { system: LOINC, code: "98979-8", display: "eGFR (CKD-EPI 2021)" }, "mL/min/1.73m2", "mL/min/{1.73_m2}", "pg-egfr"],
    ["crcl", CRCL_CODES, { system: LOINC, code: "2164-2", display: "Creatinine renal clearance in 24 hour Urine and Serum or Plasma" }, "mL/min", "mL/min", "pg-crcl"],
  ];
  for (const [field, codes, coding, unit, code, id] of labs) {
    if (!changed(field)) continue;
    removeResources(request, obsKey, (r) => r.resourceType === "Observation" && hasCode(r, LOINC, codes));
    const value = number(edited[field]);
    if (value !== null) {
      addResource(request, obsKey, observation(request, reference, id, "laboratory", coding, ucum(value, unit, code)));
      changes.push(`${field === "egfr" ? "eGFR" : "CrCl"} ${value} ${unit}`);
    } else {
      changes.push(`${field === "egfr" ? "eGFR" : "CrCl"} removed`);
    }
  }
  if (changed("cancer")) {
    if (edited.cancer) {
      addResource(request, "conditions", condition(request, reference, "pg-cancer",
        [{ system: ICD10, code: "C18.9", display: "Malignant neoplasm of colon, unspecified" }], "Colon cancer"));
      changes.push("Active cancer added (C18.9)");
    } else {
      removeResources(request, "conditions", (r) => r.resourceType === "Condition" && isCancer(r));
      changes.push("Cancer conditions removed");
    }
  }
  if (changed("pregnancy")) {
    if (edited.pregnancy) {
      addResource(request, "conditions", condition(request, reference, "pg-pregnancy",
        [{ system: SNOMED, code: "77386006", display: "Pregnancy" }, { system: ICD10, code: "Z33.1", display: "Pregnant state, incidental" }], "Pregnancy"));
      changes.push("Pregnancy added");
    } else {
      removeResources(request, "conditions", (r) => r.resourceType === "Condition" && isPregnancy(r));
      removeResources(request, obsKey, (r) => r.resourceType === "Observation" && isPregnancyStatus(r));
      changes.push("Pregnancy removed");
    }
  }
  if (changed("age")) {
    const age = number(edited.age);
    const patient = request.prefetch && request.prefetch.patient;
    if (patient && patient.resourceType === "Patient") {
      if (age !== null && age >= 0) {
        patient.birthDate = birthDateFor(Math.floor(age), reference);
        changes.push(`Age ${Math.floor(age)} (birthDate ${patient.birthDate})`);
      } else {
        delete patient.birthDate;
        changes.push("birthDate removed");
      }
    }
  }
  applyDraftEdits(request, original, edited, reference, changes);
  return { request, changes };
}

function applyDraftEdits(request, original, edited, reference, changes) {
  request.context = request.context || {};
  const bundle = request.context.draftOrders && request.context.draftOrders.resourceType === "Bundle"
    ? request.context.draftOrders
    : (request.context.draftOrders = { resourceType: "Bundle", type: "collection", entry: [] });
  const entries = bundle.entry || [];
  const keep = [];
  const selections = [];
  edited.drafts.forEach((draft) => {
    const entry = entries[draft.index];
    if (!entry) return;
    if (draft.remove) {
      changes.push(`Draft removed: ${draft.label}`);
      return;
    }
    keep.push(entry);
    if (draft.selected && draft.ref) selections.push(draft.ref);
  });
  for (const [i, key] of (edited.add || []).entries()) {
    const template = DRAFT_TEMPLATES[key];
    if (!template) continue;
    const resource = draftResource(request, reference, template, `pg-draft-${i + 1}`);
    keep.push({ resource });
    selections.push(`${resource.resourceType}/${resource.id}`);
    changes.push(`Draft added and selected: ${describeDraft(resource)}`);
  }
  bundle.entry = keep;
  const originalSelections = original.drafts.filter((d) => d.selected).map((d) => d.ref);
  const editedSelections = edited.drafts.filter((d) => d.selected && !d.remove).map((d) => d.ref);
  if (JSON.stringify(originalSelections) !== JSON.stringify(editedSelections) || (edited.add || []).length > 0 ||
      edited.drafts.some((d) => d.remove)) {
    request.context.selections = selections;
    if (JSON.stringify(originalSelections) !== JSON.stringify(editedSelections)) {
      changes.push(`Selections: ${selections.join(", ") || "(none)"}`);
    }
  }
}

/**
 * Set the hook (and the service it goes to): order-sign has no `selections`; order-select
 * needs at least one (the first draft when none is left).
 */
export function setHook(request, hook) {
  request.hook = hook;
  request.context = request.context || {};
  if (hook === "order-sign") {
    delete request.context.selections;
  } else if (!Array.isArray(request.context.selections) || request.context.selections.length === 0) {
    const first = ((request.context.draftOrders && request.context.draftOrders.entry) || [])
      .map((e) => e && e.resource).find((r) => r && r.resourceType && r.id);
    if (first) request.context.selections = [`${first.resourceType}/${first.id}`];
  }
  return request;
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})(T[0-9:.]+(Z|[+-]\d{2}:\d{2})?)?$/;

/** Shift every full date and dateTime in `value` by `days` (times and offsets kept; partial
 * dates such as "1950" or "1950-03" are left alone). Returns the number of values shifted. */
export function shiftDates(value, days) {
  let count = 0;
  const shift = (text) => {
    const m = DATE.exec(text);
    if (!m) return text;
    const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + days));
    count += 1;
    return d.toISOString().slice(0, 10) + (m[4] || "");
  };
  const walk = (node) => {
    if (Array.isArray(node)) {
      node.forEach((item, i) => { if (typeof item === "string") node[i] = shift(item); else walk(item); });
    } else if (node && typeof node === "object") {
      for (const key of Object.keys(node)) {
        if (typeof node[key] === "string") node[key] = shift(node[key]);
        else walk(node[key]);
      }
    }
  };
  if (days !== 0) walk(value);
  return count;
}

/** Whole days from `from` to `to` (Dates), rounded down. */
export function daysBetween(from, to) {
  return Math.floor((to.getTime() - from.getTime()) / (24 * 3600 * 1000));
}

/** A random UUID (crypto.randomUUID needs a secure context; loopback http is one, others not). */
export function uuid() {
  if (globalThis.crypto && typeof globalThis.crypto.randomUUID === "function") return globalThis.crypto.randomUUID();
  const b = new Uint8Array(16);
  globalThis.crypto.getRandomValues(b);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
