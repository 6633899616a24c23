#!/usr/bin/env python3
"""Writes fhir-fixtures/<category>/<story>.{request,expected}.json.

The expected outcomes below are written by hand from shared/clinical-rules.md (+ the decisions in the
fixture brief), story by story; check.py is an independent reference evaluator used to cross-check them.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from fhirbuild import (Builder, bundle, hook_uuid, cc, coding, qty, FHIR, ICD, SCT, LOINC, RX, UCUM, CPT,
                       INTERP, USF)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOW = "2026-11-20T12:00:00Z"
DUE = ["2026-11-26", "2026-12-03"]   # index 2026-11-19 + 7 / + 14 days
FIXTURES = []

DVT_ICD = {
    "I82.441": "Acute embolism and thrombosis of right tibial vein",
    "I82.442": "Acute embolism and thrombosis of left tibial vein",
    "I82.451": "Acute embolism and thrombosis of right peroneal vein",
    "I82.452": "Acute embolism and thrombosis of left peroneal vein",
    "I82.461": "Acute embolism and thrombosis of right calf muscular vein",
    "I82.462": "Acute embolism and thrombosis of left calf muscular vein",
    "I82.4Z1": "Acute embolism and thrombosis of unspecified deep veins of right distal lower extremity",
    "I82.401": "Acute embolism and thrombosis of unspecified deep veins of right lower extremity",
    "I82.409": "Acute embolism and thrombosis of unspecified deep veins of unspecified lower extremity",
    "I82.411": "Acute embolism and thrombosis of right femoral vein",
    "I82.431": "Acute embolism and thrombosis of right popliteal vein",
    "I82.561": "Chronic embolism and thrombosis of right calf muscular vein",
}


def dvt(b, code, veins=(), side=None, **kw):
    if kw.get("system", ICD) != ICD:
        return b.dvt(code, "Deep venous thrombosis", veins, side, **kw)
    dotted = code if "." in code else code[:3] + "." + code[3:]
    return b.dvt(code, DVT_ICD[dotted], veins, side, **kw)


# ------------------------------------------------------------------ expected-outcome helpers
def serial_sugg():
    return [{"isRecommended": True, "actions": ["create ServiceRequest duplex", "create ServiceRequest duplex"]}]


def regimens(*drugs):
    return [{"isRecommended": i == 0, "actions": [f"create MedicationRequest {d}"]} for i, d in enumerate(drugs)]


def indiv_sugg(*drugs):
    return ([{"isRecommended": False, "actions": ["create ServiceRequest duplex", "create ServiceRequest duplex"]}]
            + [{"isRecommended": False, "actions": [f"create MedicationRequest {d}"]} for d in drugs])


DEFAULT = ("apixaban", "rivaroxaban", "enoxaparin")


def strat(rec, indicator, erf, bleeding, brf=(), *, sp=(), pm=(), missing=(), muscular=None, sugg=None,
          due=None, lat=None):
    if sugg is None:
        sugg = {"serial-imaging": serial_sugg(), "anticoagulate": regimens(*DEFAULT),
                "individualize": indiv_sugg(*DEFAULT)}[rec]
    c = {"kind": "stratification", "indicator": indicator, "recommendation": rec,
         "extensionRiskFactors": sorted(erf), "bleedingRisk": bleeding, "bleedingRiskFactors": sorted(brf),
         "specialPopulations": sorted(sp), "progressionModifiers": sorted(pm), "missingData": sorted(missing),
         "muscularOnly": muscular, "suggestions": sugg}
    if rec in ("serial-imaging", "individualize"):
        c["duplexDue"] = due or DUE
        c["duplexLaterality"] = lat
        assert lat in ("left", "right", "both"), "laterality needed"
    return c


def safety(check, indicator, orders, sugg=()):
    return {"kind": "order-safety", "check": check, "indicator": indicator, "orders": list(orders),
            "suggestions": list(sugg)}


# ------------------------------------------------------------------ request assembly
def fixture(category, name, hook, b, patient, *, story, rows, cards, conditions=(), observations=(),
            medications=(), encounters=None, procedures=None, service_requests=None, drafts=(),
            selections=None, encounter_id="enc-ed", nulls=(), extra_entries=None, now=NOW,
            user="Practitioner/prac-ed-1"):
    extra_entries = extra_entries or {}
    if encounters is None:
        encounters = [b.ed(), b.old_visit()]
    if procedures is None:
        procedures = [b.duplex_procedure()]
    if service_requests is None:
        # the diagnostic duplex the findings are basedOn, already completed
        service_requests = [b.duplex_order("sr-duplex-dx", None, status="completed",
                                           authored="2026-11-20T08:10:00Z", reason_ref=None)]
    pid = b.pid
    ctx = {"userId": user, "patientId": pid}
    if encounter_id:
        ctx["encounterId"] = encounter_id
    if hook == "order-select":
        assert selections, f"{name}: order-select needs selections"
        ids = {f"{d['resourceType']}/{d['id']}" for d in drafts}
        assert set(selections) <= ids, f"{name}: selection not in drafts"
        ctx["selections"] = list(selections)
    else:
        assert not selections
    assert drafts, f"{name}: draftOrders needs at least one entry"
    ctx["draftOrders"] = {"resourceType": "Bundle", "type": "collection",
                          "entry": [{"resource": d} for d in drafts]}

    def key(k, rtype, items):
        if k in nulls:
            return None
        return bundle(list(items), rtype, pid, extra_entries.get(k, ()))

    prefetch = {
        "patient": None if "patient" in nulls else patient,
        "conditions": key("conditions", "Condition", conditions),
        "observations": key("observations", "Observation", observations),
        "medications": key("medications", "MedicationRequest", medications),
        "encounters": key("encounters", "Encounter", encounters),
        "procedures": key("procedures", "Procedure", procedures),
        "serviceRequests": key("serviceRequests", "ServiceRequest", service_requests),
    }
    req = {"hook": hook, "hookInstance": hook_uuid(category + "/" + name), "fhirServer": FHIR,
           "context": ctx, "prefetch": prefetch}
    exp = {"story": story, "ruleBookRows": rows, "now": now, "cards": cards}
    FIXTURES.append((category, name, req, exp))


def write_all():
    seen = set()
    for category, name, req, exp in FIXTURES:
        assert (category, name) not in seen, name
        seen.add((category, name))
        d = os.path.join(ROOT, category)
        os.makedirs(d, exist_ok=True)
        for suffix, obj in (("request", req), ("expected", exp)):
            with open(os.path.join(d, f"{name}.{suffix}.json"), "w") as f:
                json.dump(obj, f, indent=2, ensure_ascii=False)
                f.write("\n")
    print(f"wrote {len(FIXTURES)} fixtures")


def P(pid):
    return Builder(pid)


# =====================================================================================================
# recommendation/
# =====================================================================================================
def recommendation():
    cat = "recommendation"

    # R1 serial imaging on order-select: provoked by an ankle sprain (lower-limb injury <= 60 d).
    b = P("pt-rec-alder")
    fixture(cat, "serial-imaging-order-select-ankle-sprain", "order-select", b,
            b.patient("Alder", "1985-06-02", "male"),
            story="41-year-old man, right gastrocnemius vein thrombosis 19 days after a right ankle sprain "
                  "(provoking, so not unprovoked); short, narrow, far from the popliteal vein, negative D-dimer: "
                  "no extension risk factor, so serial imaging (info on order-select).",
            rows=["§1 index DVT I82.46", "§2 unprovoked absent (lower-limb injury S93 <= 60 d)",
                  "§2 positive-d-dimer absent (interpretation N)", "§4 serial-imaging (info on order-select)",
                  "decision 6 duplex due dates"],
            conditions=[dvt(b, "I82.461", ["gastrocnemius"], "right"),
                        b.icd("cond-sprain", "S93.401A", "Sprain of unspecified ligament of right ankle, initial "
                              "encounter", category="encounter-diagnosis", onset="2026-11-01",
                              recorded="2026-11-01T16:20:00Z")],
            observations=[b.ddimer_feu(0.41, interp="N", ref_high=qty(0.5, "mg/L")), *b.baseline(weight=(84, "kg")),
                          *b.ultrasound(length=(2.4, "cm"), diameter=(5, "mm"), veins=1, named=["gastrocnemius"],
                                        distance=(11, "cm"))],
            service_requests=[b.duplex_order("sr-duplex-dx", "right", status="completed",
                                             authored="2026-11-20T08:10:00Z", reason_ref=None)],
            drafts=[b.draft_acetaminophen()], selections=["MedicationRequest/draft-1"],
            cards=[strat("serial-imaging", "info", [], "low", muscular=True, lat="right")])

    # R2 serial imaging on order-sign: provoked by estrogen therapy.
    b = P("pt-rec-birch")
    fixture(cat, "serial-imaging-order-sign-estradiol", "order-sign", b,
            b.patient("Birch", "1970-02-11", "female"),
            story="56-year-old woman on transdermal estradiol (provoking), left soleal vein thrombosis, D-dimer below "
                  "the lab's reference high, no other factor: serial imaging; warning because order-sign is the "
                  "'no plan' safety net.",
            rows=["§2 unprovoked absent (active estrogen therapy)", "§2 positive-d-dimer via referenceRange.high",
                  "§2 near-proximal-veins absent (near-proximal-veins = false)", "§4 serial-imaging (warning on order-sign)"],
            conditions=[dvt(b, "I82.462", ["soleal"], "left"),
                        b.icd("cond-meno", "N95.1", "Menopausal and female climacteric states", onset="2021-05-01",
                              recorded="2021-06-14")],
            observations=[b.ddimer_feu(0.36, ref_high=qty(0.5, "mg/L")), *b.baseline(weight=(69, "kg")),
                          *b.ultrasound(length=(3.1, "cm"), diameter=(4, "mm"), veins=1, named=["soleal"], near=False)],
            medications=[b.med("mr-estradiol", "estradiol", "estradiol 0.05 mg/24hr transdermal patch",
                               authored="2026-02-03", dosage_text="Apply one patch twice weekly",
                               reason_ref="Condition/cond-meno")],
            service_requests=[b.duplex_order("sr-duplex-dx", "left", status="completed",
                                             authored="2026-11-20T08:10:00Z", reason_ref=None)],
            drafts=[b.cbc_order()],
            cards=[strat("serial-imaging", "warning", [], "low", muscular=True, lat="left")])

    # R3 anticoagulate on order-select: unprovoked + positive D-dimer.
    b = P("pt-rec-cedar")
    fixture(cat, "anticoagulate-order-select-unprovoked", "order-select", b,
            b.patient("Cedar", "1974-09-23", "male"),
            story="52-year-old man with a right peroneal vein thrombosis, no provoking factor in the record and a "
                  "positive D-dimer: anticoagulate 3 months, default regimens (apixaban first).",
            rows=["§2 positive-d-dimer (interpretation H)", "§2 unprovoked", "§3 low",
                  "§4 anticoagulate (low/moderate)", "decision 1 default regimen order"],
            conditions=[dvt(b, "I82.451", ["peroneal"], "right"),
                        b.icd("cond-lipid", "E78.5", "Hyperlipidemia, unspecified", onset="2019-04-02",
                              recorded="2019-04-02")],
            observations=[b.ddimer_feu(1.9, interp="H", ref_high=qty(0.5, "mg/L")), *b.baseline(weight=(91, "kg")),
                          *b.ultrasound(length=(3.8, "cm"), diameter=(6, "mm"), veins=1, named=["peroneal"],
                                        distance=(9, "cm"))],
            medications=[b.med("mr-atorva", "atorvastatin", "atorvastatin 20 mg oral tablet", authored="2019-04-02",
                               dose=(20, "mg"), freq=1)],
            drafts=[b.draft_acetaminophen()], selections=["MedicationRequest/draft-1"],
            cards=[strat("anticoagulate", "warning", ["positive-d-dimer", "unprovoked"], "low", muscular=False)])

    # R4 anticoagulate on order-sign: long thrombus close to the popliteal vein, diabetes (moderate).
    b = P("pt-rec-dogwood")
    fixture(cat, "anticoagulate-order-sign-long-thrombus-near-popliteal", "order-sign", b,
            b.patient("Dogwood", "1966-01-15", "female"),
            story="60-year-old woman with type 2 diabetes (1 bleeding factor: moderate), left posterior tibial "
                  "thrombus 6.5 cm long ending 3.5 cm below the popliteal vein, positive D-dimer, unprovoked: "
                  "anticoagulate.",
            rows=["§2 thrombus-length > 5 cm", "§2 near-proximal-veins (distance <= 5 cm)", "§2 positive-d-dimer",
                  "§2 unprovoked", "§3 diabetes -> moderate", "§4 anticoagulate"],
            conditions=[dvt(b, "I82.442", ["posterior-tibial"], "left"),
                        b.icd("cond-dm", "E11.9", "Type 2 diabetes mellitus without complications",
                              onset="2015-08-20", recorded="2015-08-20")],
            observations=[b.ddimer_feu(2.4, interp="H"), *b.baseline(egfr=74, weight=(88, "kg")),
                          b.lab("lab-a1c", "4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", 7.4, "%", "%",
                                "2026-09-30T09:00:00Z"),
                          *b.ultrasound(length=(6.5, "cm"), diameter=(6, "mm"), veins=1, named=["posterior-tibial"],
                                        distance=(3.5, "cm"))],
            medications=[b.med("mr-metformin", "metformin", "metformin hydrochloride 1000 mg oral tablet",
                               authored="2015-08-20", dose=(1000, "mg"), freq=2, reason_ref="Condition/cond-dm")],
            drafts=[b.lab_order("draft-lab", "4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood")],
            cards=[strat("anticoagulate", "warning",
                         ["thrombus-length", "near-proximal-veins", "positive-d-dimer", "unprovoked"],
                         "moderate", ["diabetes"], muscular=False)])

    # R5 individualize on order-select: age 78 (counts 2 -> high), two muscular veins.
    b = P("pt-rec-elm")
    fixture(cat, "individualize-order-select-age-78-two-veins", "order-select", b,
            b.patient("Elm", "1948-05-02", "male"),
            story="78-year-old man (age > 75 counts 2: high bleeding risk) with unprovoked thrombosis of the right "
                  "gastrocnemius and soleal veins and a positive D-dimer: individualize (duplex and regimens, none "
                  "recommended).",
            rows=["§2 multiple-veins (veins-involved = 2)", "§2 positive-d-dimer", "§2 unprovoked",
                  "§3 age-over-75 counts 2 -> high", "§4 individualize", "decision 1 individualize order"],
            conditions=[dvt(b, "I82.461", ["gastrocnemius", "soleal"], "right"),
                        b.icd("cond-htn", "I10", "Essential (primary) hypertension", onset="2009-01-12",
                              recorded="2009-01-12")],
            observations=[b.ddimer_feu(2.1, interp="H"), *b.baseline(egfr=64, weight=(76, "kg")),
                          *b.ultrasound(length=(4.0, "cm"), diameter=(5, "mm"), veins=2,
                                        named=["gastrocnemius", "soleal"], distance=(7, "cm"))],
            medications=[b.med("mr-amlo", "amlodipine", "amlodipine 5 mg oral tablet", authored="2020-06-01",
                               dose=(5, "mg"), freq=1)],
            drafts=[b.draft_acetaminophen()], selections=["MedicationRequest/draft-1"],
            cards=[strat("individualize", "warning", ["multiple-veins", "positive-d-dimer", "unprovoked"], "high",
                         ["age-over-75"], muscular=True, lat="right")])

    # R6 individualize on order-sign: previous GI bleed + aspirin + age 67; prior VTE; no vein named.
    b = P("pt-rec-fir")
    fixture(cat, "individualize-order-sign-prior-bleed-aspirin", "order-sign", b,
            b.patient("Fir", "1959-03-30", "male"),
            story="67-year-old man with a past DVT (Z86.718), a resolved GI bleed in 2024 and daily aspirin for "
                  "coronary disease; new distal DVT of the right leg with no vein named (I82.4Z1): prior-vte and "
                  "unprovoked present; bleeding age-over-65 + previous-bleeding + antiplatelet = high: individualize. "
                  "No vein named, so muscularOnly is null; laterality right from the code and bodySite.",
            rows=["§1 I82.4Z distal, vein unspecified", "§2 prior-vte (Z86.718)", "§2 unprovoked",
                  "§2 multiple-veins absent (veins-involved = 1)", "§2 muscularOnly omitted (no vein named)",
                  "§3 previous-bleeding counts whatever clinicalStatus", "§3 antiplatelet-therapy",
                  "§3 age-over-65", "§4 individualize"],
            conditions=[dvt(b, "I82.4Z1", [], "right"),
                        b.icd("cond-hx-dvt", "Z86.718", "Personal history of other venous thrombosis and embolism",
                              onset="2019-02-10", recorded="2019-06-01"),
                        b.icd("cond-gibleed", "K92.2", "Gastrointestinal hemorrhage, unspecified", clinical="resolved",
                              onset="2024-03-04", abatement="2024-03-09", recorded="2024-03-04"),
                        b.icd("cond-cad", "I25.10", "Atherosclerotic heart disease of native coronary artery without "
                              "angina pectoris", onset="2018-10-01", recorded="2018-10-01")],
            observations=[b.ddimer_feu(0.38, interp="N"), *b.baseline(egfr=71, weight=(83, "kg")),
                          *b.ultrasound(length=(3.0, "cm"), diameter=(5, "mm"), veins=1, distance=(8, "cm"))],
            medications=[b.med("mr-asa", "aspirin", "aspirin 81 mg oral tablet", authored="2018-10-01",
                               dose=(81, "mg"), freq=1, reason_ref="Condition/cond-cad"),
                         b.med("mr-atorva", "atorvastatin", "atorvastatin 40 mg oral tablet", authored="2018-10-01",
                               dose=(40, "mg"), freq=1)],
            drafts=[b.lab_order("draft-lab", "24323-8", "Comprehensive metabolic 2000 panel - Serum or Plasma")],
            cards=[strat("individualize", "warning", ["prior-vte", "unprovoked"], "high",
                         ["age-over-65", "previous-bleeding", "antiplatelet-therapy"], muscular=None, lat="right")])

    # R7 anticoagulate: inpatient (hook encounter IMP) + pain score 8.
    b = P("pt-rec-ginkgo")
    fixture(cat, "anticoagulate-order-select-inpatient-pain-score", "order-select", b,
            b.patient("Ginkgo", "1981-07-19", "female"),
            story="45-year-old woman admitted 3 days ago for pneumonia (the hook's encounter is inpatient) who "
                  "develops a right posterior tibial vein thrombosis with calf pain 8/10; D-dimer negative. "
                  "Inpatient and severe-symptoms present (the hospital stay also makes it provoked): anticoagulate.",
            rows=["§2 inpatient (hook encounter class IMP)", "§2 severe-symptoms (pain score >= 7 in 7 days, decision 8)",
                  "§2 unprovoked absent (hospital stay)", "§4 anticoagulate"],
            conditions=[dvt(b, "I82.441", ["posterior-tibial"], "right", encounter="enc-adm",
                            recorded="2026-11-20T09:50:00Z"),
                        b.icd("cond-cap", "J18.9", "Pneumonia, unspecified organism", category="encounter-diagnosis",
                              onset="2026-11-16", recorded="2026-11-17T10:00:00Z", encounter="enc-adm")],
            observations=[b.ddimer_feu(0.45, interp="N"), b.pain(8, "2026-11-20T06:00:00Z"),
                          *b.baseline(weight=(64, "kg")),
                          *b.ultrasound(length=(3.2, "cm"), diameter=(6, "mm"), veins=1, named=["posterior-tibial"],
                                        distance=(8, "cm"))],
            encounters=[b.encounter("enc-adm", "IMP", "in-progress", "2026-11-17T09:30:00Z",
                                    reason=("J18.9", "Pneumonia, unspecified organism")), b.old_visit()],
            encounter_id="enc-adm", user="Practitioner/prac-hosp-2",
            drafts=[b.draft_acetaminophen()], selections=["MedicationRequest/draft-1"],
            cards=[strat("anticoagulate", "warning", ["inpatient", "severe-symptoms"], "low", muscular=False)])

    # R8 anticoagulate on order-sign: COVID-19 + wide thrombus.
    b = P("pt-rec-hazel")
    fixture(cat, "anticoagulate-order-sign-covid-wide-thrombus", "order-sign", b,
            b.patient("Hazel", "1987-12-03", "male"),
            story="38-year-old man with COVID-19 diagnosed 12 days ago (outpatient) and a left gastrocnemius vein "
                  "thrombus 8 mm wide; D-dimer negative: covid-19 and thrombus-diameter present, not unprovoked: "
                  "anticoagulate.",
            rows=["§2 covid-19 (active U07.1)", "§2 thrombus-diameter > 7 mm", "§2 unprovoked absent (COVID-19 <= 30 d)",
                  "§4 anticoagulate"],
            conditions=[dvt(b, "I82.462", ["gastrocnemius"], "left"),
                        b.icd("cond-covid", "U07.1", "COVID-19", onset="2026-11-08", recorded="2026-11-08T15:00:00Z")],
            observations=[b.ddimer_feu(0.44, interp="N"), *b.baseline(weight=(95, "kg")),
                          *b.ultrasound(length=(3.6, "cm"), diameter=(8, "mm"), veins=1, named=["gastrocnemius"],
                                        distance=(7, "cm"), near=False)],
            drafts=[b.cbc_order()],
            cards=[strat("anticoagulate", "warning", ["covid-19", "thrombus-diameter"], "low", muscular=True)])

    # R9 anticoagulate: knee arthroscopy 35 days ago (extension AND bleeding factor), severity severe.
    b = P("pt-rec-juniper")
    fixture(cat, "anticoagulate-order-select-recent-surgery-severe", "order-select", b,
            b.patient("Juniper", "1972-04-09", "female"),
            story="54-year-old woman 5 weeks after day-case right knee arthroscopy (no admission) with a severe "
                  "right gastrocnemius vein thrombosis and positive D-dimer: recent-surgery (also 1 bleeding "
                  "factor: moderate), severe-symptoms, positive-d-dimer: anticoagulate.",
            rows=["§2 recent-surgery (CPT 29881, 35 d)", "§2 severe-symptoms (Condition.severity 24484000)",
                  "§2 positive-d-dimer", "§3 recent-surgery -> moderate", "§4 anticoagulate"],
            conditions=[dvt(b, "I82.461", ["gastrocnemius"], "right", severity=("24484000", "Severe")),
                        b.icd("cond-menisc", "S83.231A", "Complex tear of medial meniscus, current injury, right "
                              "knee, initial encounter", category="encounter-diagnosis", clinical="resolved",
                              onset="2026-06-02", abatement="2026-08-01", recorded="2026-06-10")],
            observations=[b.ddimer_feu(0.9, interp="H"), *b.baseline(weight=(71, "kg")),
                          *b.ultrasound(length=(4.2, "cm"), diameter=(6, "mm"), veins=1, named=["gastrocnemius"],
                                        distance=(10, "cm"))],
            encounters=[b.ed(), b.encounter("enc-daysurg", "AMB", "finished", "2026-10-16T07:00:00Z",
                                            "2026-10-16T15:30:00Z")],
            procedures=[b.duplex_procedure(),
                        b.procedure("proc-arthro", "29881", "Arthroscopy, knee, surgical; with meniscectomy "
                                    "(medial OR lateral, including any meniscal shaving)", "2026-10-16T09:10:00Z")],
            drafts=[b.draft_acetaminophen()], selections=["MedicationRequest/draft-1"],
            cards=[strat("anticoagulate", "warning", ["recent-surgery", "severe-symptoms", "positive-d-dimer"],
                         "moderate", ["recent-surgery"], muscular=True)])


    # R10 bed confinement: inpatient factor (bed-confinement Condition) and provoked.
    b = P("pt-rec-kapok")
    fixture(cat, "anticoagulate-order-sign-bed-confinement", "order-sign", b, b.patient("Kapok", "1968-03-21", "female"),
            story="58-year-old woman with advanced multiple sclerosis, bed-bound at home (Z74.01), left peroneal "
                  "thrombosis, negative D-dimer: bed confinement makes the inpatient factor present and the DVT "
                  "provoked: anticoagulate.",
            rows=["§2 inpatient via bed confinement (Z74.01)", "§2 unprovoked absent (bed confinement)",
                  "§4 anticoagulate"],
            conditions=[dvt(b, "I82.452", ["peroneal"], "left"),
                        b.icd("cond-ms", "G35", "Multiple sclerosis", onset="2009-05-05", recorded="2009-05-05"),
                        b.icd("cond-bed", "Z74.01", "Bed confinement status", onset="2025-12-01",
                              recorded="2025-12-01")],
            observations=[b.ddimer_feu(0.42, interp="N"), *b.baseline(weight=(57, "kg")),
                          *b.ultrasound(length=(3.3, "cm"), diameter=(5, "mm"), veins=1, named=["peroneal"],
                                        distance=(8, "cm"))],
            encounters=[b.encounter("enc-home", "AMB", "in-progress", "2026-11-20T10:00:00Z"), b.old_visit()],
            encounter_id="enc-home", user="Practitioner/prac-gp-3",
            drafts=[b.cbc_order()],
            cards=[strat("anticoagulate", "warning", ["inpatient"], "low", muscular=False)])

    # R11 observation stay 20 days ago counts as a hospital stay; the ED visit itself does not.
    b = P("pt-rec-larch")
    fixture(cat, "anticoagulate-order-select-recent-observation-stay", "order-select", b,
            b.patient("Larch", "1963-06-30", "male"),
            story="63-year-old man kept overnight in an observation unit for chest pain 3 weeks ago (OBSENC counts as "
                  "a hospital stay; today's emergency visit does not), right posterior tibial thrombosis, negative "
                  "D-dimer: inpatient present, provoked: anticoagulate.",
            rows=["§2 inpatient (OBSENC ended <= 90 d; EMER alone is not)", "§2 unprovoked absent (hospital stay)",
                  "§4 anticoagulate"],
            conditions=[dvt(b, "I82.441", ["posterior-tibial"], "right"),
                        b.icd("cond-cp", "R07.9", "Chest pain, unspecified", category="encounter-diagnosis",
                              clinical="resolved", onset="2026-10-29", abatement="2026-10-30",
                              recorded="2026-10-29T22:00:00Z", encounter="enc-obs")],
            observations=[b.ddimer_feu(0.37, interp="N"), *b.baseline(egfr=81, weight=(92, "kg")),
                          *b.ultrasound(length=(3.4, "cm"), diameter=(6, "mm"), veins=1, named=["posterior-tibial"],
                                        distance=(8, "cm"))],
            encounters=[b.ed(), b.encounter("enc-obs", "OBSENC", "finished", "2026-10-29T21:00:00Z",
                                            "2026-10-30T16:00:00Z", reason=("R07.9", "Chest pain, unspecified"))],
            drafts=[b.draft_acetaminophen()], selections=["MedicationRequest/draft-1"],
            cards=[strat("anticoagulate", "warning", ["inpatient"], "low", muscular=False)])

    # R12 alcohol, cirrhosis, falls, NSAID: high bleeding risk -> individualize.
    b = P("pt-rec-mulberry")
    fixture(cat, "individualize-order-sign-alcohol-cirrhosis-falls-nsaid", "order-sign", b,
            b.patient("Mulberry", "1967-01-09", "male"),
            story="59-year-old man with alcohol dependence, cirrhosis, repeated falls and regular ibuprofen (4 bleeding "
                  "factors: high) and an unprovoked right gastrocnemius thrombosis with positive D-dimer: "
                  "individualize.",
            rows=["§3 alcohol-abuse, liver-failure (K74.6), frequent-falls (R29.6), nsaid-therapy -> high",
                  "§2 unprovoked", "§2 positive-d-dimer", "§4 individualize"],
            conditions=[dvt(b, "I82.461", ["gastrocnemius"], "right"),
                        b.icd("cond-etoh", "F10.20", "Alcohol dependence, uncomplicated", onset="2015-01-01",
                              recorded="2016-02-02"),
                        b.icd("cond-cirrh", "K74.60", "Unspecified cirrhosis of liver", onset="2024-09-09",
                              recorded="2024-09-09"),
                        b.icd("cond-falls", "R29.6", "Repeated falls", onset="2026-03-01", recorded="2026-03-01")],
            observations=[b.ddimer_feu(1.9, interp="H"), *b.baseline(egfr=92, plt=142, hgb=12.1, weight=(70, "kg")),
                          *b.ultrasound(length=(3.2, "cm"), diameter=(5, "mm"), veins=1, named=["gastrocnemius"],
                                        distance=(10, "cm"))],
            medications=[b.med("mr-ibu", "ibuprofen", "ibuprofen 400 mg oral tablet", authored="2026-09-15",
                               dose=(400, "mg"), freq=3, dosage_text="400 mg three times daily as needed for back pain")],
            drafts=[b.cbc_order()],
            cards=[strat("individualize", "warning", ["positive-d-dimer", "unprovoked"], "high",
                         ["alcohol-abuse", "liver-failure", "frequent-falls", "nsaid-therapy"], muscular=True,
                         lat="right")])


# =====================================================================================================
# boundaries/
# =====================================================================================================
def provoker(b, kind):
    """A provoking factor that is not itself an extension risk factor -> 'unprovoked' absent."""
    if kind == "injury":
        return ([b.icd("cond-injury", "S86.011A", "Strain of right Achilles tendon, initial encounter",
                       category="encounter-diagnosis", onset="2026-10-29", recorded="2026-10-29T18:00:00Z")], [],
                "§2 unprovoked absent (lower-limb injury S86 <= 60 d)")
    if kind == "estrogen":
        return ([], [b.med("mr-estradiol", "estradiol", "estradiol 1 mg oral tablet", authored="2025-09-15",
                           dose=(1, "mg"), freq=1)],
                "§2 unprovoked absent (active estrogen therapy)")
    if kind == "mobility":
        return ([b.icd("cond-mobility", "Z74.09", "Other reduced mobility", onset="2026-07-01",
                       recorded="2026-07-01")], [],
                "§2 unprovoked absent (reduced mobility Z74.09)")
    raise ValueError(kind)


NEG_US = dict(length=(2.8, "cm"), diameter=(5, "mm"), veins=1, distance=(9, "cm"))


def boundary(name, hook, pid, given, birth, gender, *, code, vein, side, provoke, story, rows, card,
             us=None, ddimer=None, labs=None, extra_conditions=(), extra_obs=(), encounters=None,
             category="boundaries"):
    b = P(pid)
    conds, meds, prow = provoker(b, provoke) if provoke else ([], [], None)
    us_kw = dict(NEG_US, named=[vein])
    us_kw.update(us or {})
    dd = ddimer(b) if ddimer else b.ddimer_feu(0.34, interp="N")
    obs = [dd, *(labs(b) if labs else b.baseline()), *b.ultrasound(**us_kw), *extra_obs]
    if hook == "order-select":
        drafts, sel = [b.draft_acetaminophen()], ["MedicationRequest/draft-1"]
    else:
        drafts, sel = [b.cbc_order()], None
    fixture(category, name, hook, b, b.patient(given, birth, gender), story=story,
            rows=([prow] if prow else []) + rows,
            conditions=[dvt(b, code, [vein], side), *conds, *extra_conditions], observations=obs,
            medications=meds, encounters=encounters, drafts=drafts, selections=sel, cards=[card])


def boundaries():
    # thrombus length 5.0 vs 5.1 cm
    boundary("thrombus-length-5.0cm-not-present", "order-select", "pt-bnd-len50", "Lindenfive", "1990-03-17", "male",
             code="I82.461", vein="gastrocnemius", side="right", provoke="injury", us={"length": (5.0, "cm")},
             story="36-year-old man, Achilles strain 3 weeks ago (provoked), right gastrocnemius thrombus exactly "
                   "5.0 cm long: not > 5 cm, no other factor: serial imaging.",
             rows=["§2 thrombus-length absent at exactly 5.0 cm (present is > 5 cm)", "§4 serial-imaging"],
             card=strat("serial-imaging", "info", [], "low", muscular=True, lat="right"))
    boundary("thrombus-length-5.1cm-present", "order-select", "pt-bnd-len51", "Lindenfiveone", "1990-05-02", "male",
             code="I82.461", vein="gastrocnemius", side="right", provoke="injury", us={"length": (5.1, "cm")},
             story="36-year-old man, Achilles strain 3 weeks ago (provoked), right gastrocnemius thrombus 5.1 cm "
                   "long: thrombus-length present: anticoagulate.",
             rows=["§2 thrombus-length present at 5.1 cm", "§4 anticoagulate"],
             card=strat("anticoagulate", "warning", ["thrombus-length"], "low", muscular=True))
    # diameter 7 vs 7.1 mm
    boundary("thrombus-diameter-7mm-not-present", "order-sign", "pt-bnd-dia70", "Maplesevon", "1968-08-08", "female",
             code="I82.452", vein="peroneal", side="left", provoke="estrogen", us={"diameter": (7, "mm")},
             story="58-year-old woman on oral estradiol (provoked), left peroneal thrombus with maximum diameter "
                   "exactly 7 mm: not > 7 mm: serial imaging (warning on order-sign).",
             rows=["§2 thrombus-diameter absent at exactly 7 mm (present is > 7 mm)", "§4 serial-imaging"],
             card=strat("serial-imaging", "warning", [], "low", muscular=False, lat="left"))
    boundary("thrombus-diameter-7.1mm-present", "order-sign", "pt-bnd-dia71", "Maplesevenone", "1968-09-12",
             "female", code="I82.452", vein="peroneal", side="left", provoke="estrogen", us={"diameter": (7.1, "mm")},
             story="58-year-old woman on oral estradiol (provoked), left peroneal thrombus 7.1 mm wide: "
                   "thrombus-diameter present: anticoagulate.",
             rows=["§2 thrombus-diameter present at 7.1 mm", "§4 anticoagulate"],
             card=strat("anticoagulate", "warning", ["thrombus-diameter"], "low", muscular=False))
    # distance to proximal veins 5 vs 5.5 cm
    boundary("distance-to-popliteal-5cm-present", "order-select", "pt-bnd-dist50", "Oakfive", "1977-01-30", "male",
             code="I82.441", vein="posterior-tibial", side="right", provoke="mobility", us={"distance": (5, "cm")},
             story="49-year-old man with reduced mobility (provoked), right posterior tibial thrombus ending exactly "
                   "5 cm below the popliteal vein: near-proximal-veins present (<= 5 cm): anticoagulate.",
             rows=["§2 near-proximal-veins present at distance exactly 5 cm (<= 5)", "§4 anticoagulate"],
             card=strat("anticoagulate", "warning", ["near-proximal-veins"], "low", muscular=False))
    boundary("distance-to-popliteal-5.5cm-not-present", "order-select", "pt-bnd-dist55", "Oakfivefive",
             "1977-02-14", "male", code="I82.441", vein="posterior-tibial", side="right", provoke="mobility",
             us={"distance": (5.5, "cm")},
             story="49-year-old man with reduced mobility (provoked), right posterior tibial thrombus 5.5 cm below "
                   "the popliteal vein: not near, no other factor: serial imaging.",
             rows=["§2 near-proximal-veins absent at 5.5 cm", "§4 serial-imaging"],
             card=strat("serial-imaging", "info", [], "low", muscular=False, lat="right"))

    # ages: unprovoked + positive D-dimer, so the bleeding category decides anticoagulate vs individualize
    def pos(b):
        return b.ddimer_feu(1.4, interp="H")

    boundary("age-65-day-before-66th-birthday", "order-sign", "pt-bnd-age65", "Pinesixtyfive", "1960-11-21", "female",
             code="I82.462", vein="soleal", side="left", provoke=None, ddimer=pos,
             story="Woman born 1960-11-21, so 65 completed years on 2026-11-20 (66 tomorrow): no age factor, low "
                   "bleeding risk; unprovoked with positive D-dimer: anticoagulate.",
             rows=["§0 age in completed years", "§3 no age factor at 65", "§2 positive-d-dimer", "§2 unprovoked",
                   "§4 anticoagulate"],
             card=strat("anticoagulate", "warning", ["positive-d-dimer", "unprovoked"], "low", muscular=True))
    boundary("age-66-on-birthday", "order-sign", "pt-bnd-age66", "Pinesixtysix", "1960-11-20", "female",
             code="I82.462", vein="soleal", side="left", provoke=None, ddimer=pos,
             story="Woman born 1960-11-20: 66 today, so age-over-65 (1 factor, moderate); unprovoked with positive "
                   "D-dimer: anticoagulate.",
             rows=["§0 age in completed years (birthday today)", "§3 age-over-65 (66-75 counts 1) -> moderate",
                   "§4 anticoagulate"],
             card=strat("anticoagulate", "warning", ["positive-d-dimer", "unprovoked"], "moderate", ["age-over-65"],
                        muscular=True))
    boundary("age-75-day-before-76th-birthday", "order-sign", "pt-bnd-age75", "Pineseventyfive", "1950-11-21", "male",
             code="I82.451", vein="peroneal", side="right", provoke=None, ddimer=pos,
             story="Man born 1950-11-21: 75 completed years (76 tomorrow), so age-over-65 counting 1 (moderate); "
                   "unprovoked with positive D-dimer: anticoagulate.",
             rows=["§3 age-over-65 at 75 (counts 1) -> moderate", "§4 anticoagulate"],
             card=strat("anticoagulate", "warning", ["positive-d-dimer", "unprovoked"], "moderate", ["age-over-65"],
                        muscular=False))
    boundary("age-76-on-birthday-high", "order-sign", "pt-bnd-age76", "Pineseventysix", "1950-11-20", "male",
             code="I82.451", vein="peroneal", side="right", provoke=None, ddimer=pos,
             story="Man born 1950-11-20: 76 today, age-over-75 counts 2 (high bleeding risk, age-over-65 not listed "
                   "separately); unprovoked with positive D-dimer: individualize.",
             rows=["§3 age-over-75 (>= 76) counts 2 -> high", "§4 individualize"],
             card=strat("individualize", "warning", ["positive-d-dimer", "unprovoked"], "high", ["age-over-75"],
                        muscular=False, lat="right"))

    # renal thresholds
    def renal(v):
        return lambda b: b.baseline(egfr=v, weight=(80, "kg"))

    boundary("egfr-30-no-renal-impairment", "order-sign", "pt-bnd-egfr30", "Rowanthirty", "1963-06-06", "male",
             code="I82.461", vein="gastrocnemius", side="right", provoke=None, ddimer=pos, labs=renal(30),
             story="63-year-old man, eGFR exactly 30: not < 30, so no renal-failure, no renal-impairment, rivaroxaban "
                   "stays; unprovoked with positive D-dimer: anticoagulate with the default regimens.",
             rows=["§3 renal-failure absent at eGFR 30 (< 30)", "§4 renal < 30 not applied", "§4 anticoagulate"],
             card=strat("anticoagulate", "warning", ["positive-d-dimer", "unprovoked"], "low", muscular=True))
    boundary("egfr-29.9-renal-impairment", "order-sign", "pt-bnd-egfr299", "Rowantwentynine", "1963-07-07", "male",
             code="I82.461", vein="gastrocnemius", side="right", provoke=None, ddimer=pos, labs=renal(29.9),
             story="63-year-old man, eGFR 29.9: renal-failure (moderate) and renal-impairment: no rivaroxaban, "
                   "enoxaparin once daily; unprovoked with positive D-dimer: anticoagulate with apixaban, enoxaparin.",
             rows=["§3 renal-failure (eGFR < 30) -> moderate", "§4 renal < 30: no rivaroxaban",
                   "decision 1 renal 15-30 regimen list", "§4 anticoagulate"],
             card=strat("anticoagulate", "warning", ["positive-d-dimer", "unprovoked"], "moderate", ["renal-failure"],
                        sp=["renal-impairment"], muscular=True, sugg=regimens("apixaban", "enoxaparin")))
    boundary("egfr-15-not-severe", "order-sign", "pt-bnd-egfr15", "Rowanfifteen", "1963-08-08", "female",
             code="I82.462", vein="gastrocnemius", side="left", provoke=None, ddimer=pos, labs=renal(15),
             extra_conditions=[],
             story="63-year-old woman, eGFR exactly 15: renal-impairment (< 30) but not severe (< 15) and no ESRD "
                   "progression modifier; unprovoked with positive D-dimer: anticoagulate with apixaban, enoxaparin.",
             rows=["§4 renal class: 15 is < 30 but not < 15", "§2 progression modifier ESRD absent (eGFR < 15)",
                   "§3 renal-failure -> moderate", "§4 anticoagulate"],
             card=strat("anticoagulate", "warning", ["positive-d-dimer", "unprovoked"], "moderate", ["renal-failure"],
                        sp=["renal-impairment"], muscular=True, sugg=regimens("apixaban", "enoxaparin")))
    boundary("egfr-14.9-severe-warfarin-only", "order-sign", "pt-bnd-egfr149", "Rowanfourteen", "1963-09-09",
             "female", code="I82.462", vein="gastrocnemius", side="left", provoke=None, ddimer=pos, labs=renal(14.9),
             story="63-year-old woman, eGFR 14.9 (not on dialysis): severe-renal-impairment and the ESRD progression "
                   "modifier; unprovoked with positive D-dimer: anticoagulate with warfarin only.",
             rows=["§4 renal < 15: no DOAC, no LMWH -> warfarin", "§2 progression modifier ESRD (eGFR < 15)",
                   "§3 renal-failure -> moderate", "decision 1 warfarin only"],
             card=strat("anticoagulate", "warning", ["positive-d-dimer", "unprovoked"], "moderate", ["renal-failure"],
                        sp=["severe-renal-impairment"], pm=["end-stage-renal-disease"], muscular=True,
                        sugg=regimens("warfarin")))

    # D-dimer cutoffs (no interpretation, no reference range: the LOINC basis cutoff decides)
    boundary("d-dimer-0.50-mg-l-feu-positive", "order-select", "pt-bnd-dd050", "Sprucehalf", "1984-04-04", "male",
             code="I82.461", vein="soleal", side="right", provoke="injury",
             ddimer=lambda b: b.ddimer_feu(0.5),
             story="42-year-old man after an Achilles strain (provoked); D-dimer exactly 0.50 mg/L FEU with no "
                   "interpretation or reference range: positive at the cutoff (>=): anticoagulate.",
             rows=["§2 positive-d-dimer: cutoff >= 0.5 mg/L FEU", "§4 anticoagulate"],
             card=strat("anticoagulate", "warning", ["positive-d-dimer"], "low", muscular=True))
    boundary("d-dimer-0.49-mg-l-feu-negative", "order-select", "pt-bnd-dd049", "Sprucefortynine", "1984-05-05", "male",
             code="I82.461", vein="soleal", side="right", provoke="injury",
             ddimer=lambda b: b.ddimer_feu(0.49),
             story="42-year-old man after an Achilles strain (provoked); D-dimer 0.49 mg/L FEU (no interpretation, "
                   "no reference range): below the cutoff, no factor: serial imaging.",
             rows=["§2 positive-d-dimer absent below 0.5 mg/L FEU", "§4 serial-imaging"],
             card=strat("serial-imaging", "info", [], "low", muscular=True, lat="right"))
    boundary("d-dimer-ddu-250-positive", "order-select", "pt-bnd-ddu250", "Sprucetwofifty", "1984-06-06", "female",
             code="I82.461", vein="soleal", side="right", provoke="injury",
             ddimer=lambda b: b.ddimer_ddu(250),
             story="42-year-old woman after an Achilles strain (provoked); D-dimer DDU (LOINC 48066-5) exactly "
                   "250 ng/mL with no interpretation or range: positive at the DDU cutoff: anticoagulate.",
             rows=["§2 positive-d-dimer: DDU cutoff >= 250 ng/mL", "§4 anticoagulate"],
             card=strat("anticoagulate", "warning", ["positive-d-dimer"], "low", muscular=True))

    # hospital-stay window: exactly 90 days (inclusive) vs 91 days
    def stay(end):
        return lambda b: [b.ed(), b.encounter("enc-stay", "IMP", "finished", end[:8] + "%02d" % (int(end[8:10]) - 4)
                                              + "T10:00:00Z", end, reason=("J18.9", "Pneumonia, unspecified organism"))]

    boundary("hospital-discharge-exactly-90-days-ago", "order-sign", "pt-bnd-stay90", "Willowninety", "1971-02-02",
             "male", code="I82.451", vein="peroneal", side="right", provoke=None,
             encounters=stay("2026-08-22T12:00:00Z")(P("pt-bnd-stay90")),
             story="55-year-old man discharged from a pneumonia admission exactly 90 days before now (window is "
                   "inclusive): inpatient present, so provoked; nothing else: anticoagulate for the inpatient factor.",
             rows=["§0 inclusive window [now - 90 d, now]", "§2 inpatient (stay ended <= 90 days ago)",
                   "§2 unprovoked absent (hospital stay)", "§4 anticoagulate"],
             card=strat("anticoagulate", "warning", ["inpatient"], "low", muscular=False))
    boundary("hospital-discharge-91-days-ago", "order-sign", "pt-bnd-stay91", "Willowninetyone", "1971-03-03", "male",
             code="I82.451", vein="peroneal", side="right", provoke=None,
             encounters=stay("2026-08-21T12:00:00Z")(P("pt-bnd-stay91")),
             story="55-year-old man discharged 91 days ago: outside the 90-day window, so no inpatient factor and no "
                   "provoking factor: unprovoked present: anticoagulate for unprovoked.",
             rows=["§2 inpatient absent (stay ended 91 days ago)", "§2 unprovoked present", "§4 anticoagulate"],
             card=strat("anticoagulate", "warning", ["unprovoked"], "low", muscular=False))


# =====================================================================================================
# special-populations/
# =====================================================================================================
PREG_CC = {"coding": [coding(SCT, "77386006", "Pregnancy"), coding(ICD, "Z33.1", "Pregnant state, incidental")],
           "text": "Pregnant"}


def pregnancy_condition(b, onset="2026-06-20", cid="cond-preg", clinical="active", abatement=None):
    c = b.icd(cid, "Z33.1", "Pregnant state, incidental", onset=onset, recorded=onset, clinical=clinical,
              abatement=abatement)
    c["code"] = PREG_CC
    return c


def special():
    cat = "special-populations"

    b = P("pt-sp-iris")
    fixture(cat, "pregnancy-serial-imaging-warning", "order-select", b, b.patient("Iris", "1995-03-08", "female"),
            story="31-year-old woman, 22 weeks pregnant, small left gastrocnemius vein thrombosis, negative D-dimer: "
                  "pregnancy provokes (not unprovoked), no extension factor: serial imaging, indicator warning in "
                  "pregnancy even on order-select.",
            rows=["§4 pregnancy (active pregnancy Condition)", "§2 unprovoked absent (pregnancy)",
                  "§4 serial-imaging warning in pregnancy (decision 7)"],
            conditions=[dvt(b, "I82.462", ["gastrocnemius"], "left", encounter="enc-ob"), pregnancy_condition(b),
                        b.icd("cond-ga", "Z3A.22", "22 weeks gestation of pregnancy", category="encounter-diagnosis",
                              onset="2026-11-20", recorded="2026-11-20T09:00:00Z")],
            observations=[b.ddimer_feu(0.42, interp="N"), *b.baseline(hgb=11.6, weight=(71, "kg")),
                          *b.ultrasound(length=(2.2, "cm"), diameter=(4, "mm"), veins=1, named=["gastrocnemius"],
                                        distance=(12, "cm"))],
            encounters=[b.encounter("enc-ob", "AMB", "in-progress", "2026-11-20T08:00:00Z"), b.old_visit()],
            encounter_id="enc-ob", user="Practitioner/prac-ob-1",
            drafts=[b.cbc_order()], selections=["ServiceRequest/draft-lab"],
            cards=[strat("serial-imaging", "warning", [], "low", sp=["pregnancy"], muscular=True, lat="left")])

    b = P("pt-sp-jasmine")
    fixture(cat, "pregnancy-anticoagulate-enoxaparin-only", "order-sign", b,
            b.patient("Jasmine", "1993-10-27", "female"),
            story="33-year-old woman about 30 weeks pregnant (pregnancy status observation from May, no delivery "
                  "since), right posterior tibial thrombus 5.8 cm, positive D-dimer (still counts in pregnancy): "
                  "anticoagulate with enoxaparin only (never a DOAC or warfarin).",
            rows=["§4 pregnancy (LOINC 82810-3 = 77386006 within 9 months, no delivery)", "§2 thrombus-length",
                  "§2 positive-d-dimer counts in pregnancy (decision 7)", "§4 pregnancy: LMWH only",
                  "decision 1 pregnancy regimen"],
            conditions=[dvt(b, "I82.441", ["posterior-tibial"], "right")],
            observations=[b.ddimer_feu(1.4, interp="H"), *b.baseline(hgb=11.2, weight=(77, "kg")),
                          b.obs("obs-pregstatus", cc(LOINC, "82810-3", "Pregnancy status", "Pregnancy status"),
                                "2026-05-28T10:00:00Z", category="survey",
                                value={"valueCodeableConcept": cc(SCT, "77386006", "Pregnant", "Pregnant")}),
                          *b.ultrasound(length=(5.8, "cm"), diameter=(6, "mm"), veins=1, named=["posterior-tibial"],
                                        distance=(9, "cm"))],
            drafts=[b.cbc_order()],
            cards=[strat("anticoagulate", "warning", ["thrombus-length", "positive-d-dimer"], "low",
                         sp=["pregnancy"], muscular=False, sugg=regimens("enoxaparin"))])

    b = P("pt-sp-kalmia")
    fixture(cat, "postpartum-3-weeks-enoxaparin-or-warfarin", "order-select", b,
            b.patient("Kalmia", "1991-08-14", "female"),
            story="35-year-old woman who delivered 21 days ago (admitted 3 days for the delivery): postpartum <= 6 "
                  "weeks, inpatient stay <= 90 days, positive D-dimer: anticoagulate with enoxaparin or warfarin "
                  "(no DOAC while breastfeeding status is unknown).",
            rows=["§4 postpartum <= 6 weeks (delivery O80)", "§2 inpatient (IMP ended <= 90 d)", "§2 positive-d-dimer",
                  "§2 unprovoked absent (postpartum, hospital stay)", "decision 1 postpartum regimens"],
            conditions=[dvt(b, "I82.462", ["soleal"], "left"),
                        pregnancy_condition(b, onset="2026-02-10", clinical="resolved", abatement="2026-10-30"),
                        b.icd("cond-delivery", "O80", "Encounter for full-term uncomplicated delivery",
                              category="encounter-diagnosis", clinical=None, onset="2026-10-30",
                              recorded="2026-10-30T22:00:00Z", encounter="enc-delivery"),
                        b.icd("cond-outcome", "Z37.0", "Single live birth", category="encounter-diagnosis",
                              clinical=None, onset="2026-10-30", recorded="2026-10-30T22:00:00Z",
                              encounter="enc-delivery")],
            observations=[b.ddimer_feu(1.3, interp="H"), *b.baseline(hgb=11.9, weight=(74, "kg")),
                          *b.ultrasound(length=(3.0, "cm"), diameter=(5, "mm"), veins=1, named=["soleal"],
                                        distance=(10, "cm"))],
            encounters=[b.ed(), b.encounter("enc-delivery", "IMP", "finished", "2026-10-29T23:00:00Z",
                                            "2026-11-01T11:00:00Z", reason=("O80", "Encounter for full-term "
                                                                                  "uncomplicated delivery"))],
            drafts=[b.cbc_order()], selections=["ServiceRequest/draft-lab"],
            cards=[strat("anticoagulate", "warning", ["inpatient", "positive-d-dimer"], "low", sp=["postpartum"],
                         muscular=True, sugg=regimens("enoxaparin", "warfarin"))])

    b = P("pt-sp-laurel")
    fixture(cat, "postpartum-8-weeks-default-regimens", "order-sign", b,
            b.patient("Laurel", "1990-01-22", "female"),
            story="36-year-old woman who delivered 59 days ago (> 6 weeks: no longer postpartum for the regimen "
                  "rule), discharged 57 days ago (inpatient factor still within 90 days), negative D-dimer: "
                  "anticoagulate with the default regimens.",
            rows=["§4 postpartum window 6 weeks exceeded", "§2 inpatient (IMP ended 57 d ago)", "§4 anticoagulate",
                  "decision 1 default regimens"],
            conditions=[dvt(b, "I82.451", ["peroneal"], "right"),
                        pregnancy_condition(b, onset="2025-12-30", clinical="resolved", abatement="2026-09-22"),
                        b.icd("cond-delivery", "O80", "Encounter for full-term uncomplicated delivery",
                              category="encounter-diagnosis", clinical=None, onset="2026-09-22",
                              recorded="2026-09-22T06:00:00Z", encounter="enc-delivery")],
            observations=[b.ddimer_feu(0.4, interp="N"), *b.baseline(weight=(70, "kg")),
                          *b.ultrasound(length=(3.3, "cm"), diameter=(5, "mm"), veins=1, named=["peroneal"],
                                        distance=(8, "cm"))],
            encounters=[b.ed(), b.encounter("enc-delivery", "IMP", "finished", "2026-09-21T18:00:00Z",
                                            "2026-09-24T10:00:00Z")],
            drafts=[b.cbc_order()],
            cards=[strat("anticoagulate", "warning", ["inpatient"], "low", muscular=False)])

    b = P("pt-sp-magnolia")
    fixture(cat, "active-cancer-enoxaparin-first", "order-sign", b, b.patient("Magnolia", "1964-02-17", "male"),
            story="62-year-old man on chemotherapy for sigmoid colon cancer, thrombus in the right posterior tibial "
                  "and peroneal veins, positive D-dimer: active-cancer (also the bleeding factor cancer: moderate), "
                  "multiple-veins: anticoagulate with enoxaparin recommended and apixaban as alternative.",
            rows=["§2 active-cancer", "§2 multiple-veins (2 named veins, count 2)", "§3 cancer -> moderate",
                  "§4 active cancer: LMWH first, apixaban alternative", "decision 1 cancer regimens"],
            conditions=[dvt(b, "I82.441", ["posterior-tibial", "peroneal"], "right"),
                        b.icd("cond-ca", "C18.7", "Malignant neoplasm of sigmoid colon", onset="2026-08-03",
                              recorded="2026-08-05")],
            observations=[b.ddimer_feu(3.2, interp="H"), *b.baseline(egfr=79, plt=181, hgb=11.8, weight=(74, "kg")),
                          *b.ultrasound(length=(4.5, "cm"), diameter=(6, "mm"), veins=2,
                                        named=["posterior-tibial", "peroneal"], distance=(8, "cm"))],
            procedures=[b.duplex_procedure(),
                        b.procedure("proc-colonoscopy", "45380", "Colonoscopy, flexible; with biopsy, single or "
                                    "multiple", "2026-08-01T10:00:00Z")],
            drafts=[b.cbc_order()],
            cards=[strat("anticoagulate", "warning", ["active-cancer", "multiple-veins", "positive-d-dimer"],
                         "moderate", ["cancer"], sp=["active-cancer"], muscular=False,
                         sugg=regimens("enoxaparin", "apixaban"))])

    b = P("pt-sp-nutmeg")
    fixture(cat, "metastatic-cancer-individualize", "order-sign", b, b.patient("Nutmeg", "1956-06-30", "female"),
            story="70-year-old woman with left breast cancer metastatic to the liver: age-over-65 + cancer + "
                  "metastatic-cancer = high bleeding risk; active-cancer and positive D-dimer: individualize "
                  "(duplex, then enoxaparin and apixaban, none recommended).",
            rows=["§2 active-cancer", "§3 metastatic code satisfies cancer too: both listed, each counts 1",
                  "§3 high", "§4 individualize", "decision 1 individualize with cancer regimens"],
            conditions=[dvt(b, "I82.462", ["gastrocnemius"], "left"),
                        b.icd("cond-ca", "C50.912", "Malignant neoplasm of unspecified site of left female breast",
                              onset="2024-05-14", recorded="2024-05-20"),
                        b.icd("cond-mets", "C78.7", "Secondary malignant neoplasm of liver and intrahepatic bile duct",
                              onset="2026-07-22", recorded="2026-07-25")],
            observations=[b.ddimer_feu(2.8, interp="H"), *b.baseline(egfr=68, plt=205, hgb=11.4, weight=(63, "kg")),
                          *b.ultrasound(length=(3.4, "cm"), diameter=(5, "mm"), veins=1, named=["gastrocnemius"],
                                        distance=(9, "cm"))],
            drafts=[b.cbc_order()],
            cards=[strat("individualize", "warning", ["active-cancer", "positive-d-dimer"], "high",
                         ["age-over-65", "cancer", "metastatic-cancer"], sp=["active-cancer"], muscular=True,
                         sugg=indiv_sugg("enoxaparin", "apixaban"), lat="left")])

    b = P("pt-sp-olive")
    fixture(cat, "skin-cancer-and-cancer-history-not-active-cancer", "order-select", b,
            b.patient("Olive", "1963-12-12", "male"),
            story="62-year-old man with an active basal cell carcinoma (C44, excluded) and a history of prostate "
                  "cancer (Z85.46, history): neither is active cancer, so the DVT is unprovoked; positive D-dimer: "
                  "anticoagulate with the default regimens, no cancer bleeding factor.",
            rows=["§2 active-cancer excludes C44 and Z85", "§2 unprovoked", "§2 positive-d-dimer", "§4 anticoagulate"],
            conditions=[dvt(b, "I82.451", ["peroneal"], "right"),
                        b.icd("cond-bcc", "C44.91", "Basal cell carcinoma of skin, unspecified", onset="2026-09-15",
                              recorded="2026-09-20"),
                        b.icd("cond-hx-prostate", "Z85.46", "Personal history of malignant neoplasm of prostate",
                              onset="2017-03-01", recorded="2019-01-10")],
            observations=[b.ddimer_feu(1.5, interp="H"), *b.baseline(weight=(86, "kg")),
                          *b.ultrasound(length=(3.5, "cm"), diameter=(6, "mm"), veins=1, named=["peroneal"],
                                        distance=(8, "cm"))],
            drafts=[b.draft_acetaminophen()], selections=["MedicationRequest/draft-1"],
            cards=[strat("anticoagulate", "warning", ["positive-d-dimer", "unprovoked"], "low", muscular=False)])

    b = P("pt-sp-peony")
    fixture(cat, "renal-crcl-preferred-over-egfr", "order-sign", b, b.patient("Peony", "1961-04-04", "female"),
            story="65-year-old woman of 52 kg: eGFR 38 but Cockcroft-Gault creatinine clearance 27 mL/min; the "
                  "clearance decides (DOAC labels), so renal-impairment and renal-failure (moderate); unprovoked with "
                  "positive D-dimer: anticoagulate with apixaban, enoxaparin (no rivaroxaban).",
            rows=["§4 renal: creatinine clearance preferred over eGFR", "§3 renal-failure (CrCl < 30) -> moderate",
                  "§3 no age factor at 65", "§4 renal < 30: no rivaroxaban", "decision 1 renal 15-30 regimens"],
            conditions=[dvt(b, "I82.462", ["gastrocnemius"], "left")],
            observations=[b.ddimer_feu(1.2, interp="H"), *b.baseline(egfr=38, weight=(52, "kg")), b.crcl(27),
                          *b.ultrasound(length=(3.9, "cm"), diameter=(5, "mm"), veins=1, named=["gastrocnemius"],
                                        distance=(8, "cm"))],
            drafts=[b.cbc_order()],
            cards=[strat("anticoagulate", "warning", ["positive-d-dimer", "unprovoked"], "moderate", ["renal-failure"],
                         sp=["renal-impairment"], muscular=True, sugg=regimens("apixaban", "enoxaparin"))])

    b = P("pt-sp-quince")
    fixture(cat, "renal-egfr-12-warfarin-only", "order-select", b, b.patient("Quince", "1968-09-09", "male"),
            story="58-year-old man with CKD stage 5 not yet on dialysis, eGFR 12: severe-renal-impairment and the "
                  "ESRD progression modifier (eGFR < 15); unprovoked with positive D-dimer: anticoagulate with "
                  "warfarin only (UFH bridging stated in the text).",
            rows=["§4 renal < 15: warfarin only", "§2 progression modifier ESRD (eGFR < 15)",
                  "§3 renal-failure -> moderate", "decision 1 warfarin only"],
            conditions=[dvt(b, "I82.451", ["peroneal"], "right"),
                        b.icd("cond-ckd5", "N18.5", "Chronic kidney disease, stage 5", onset="2025-11-01",
                              recorded="2025-11-01")],
            observations=[b.ddimer_feu(1.7, interp="H"), *b.baseline(egfr=12, hgb=10.6, weight=(82, "kg")),
                          *b.ultrasound(length=(3.1, "cm"), diameter=(5, "mm"), veins=1, named=["peroneal"],
                                        distance=(9, "cm"))],
            drafts=[b.cbc_order()], selections=["ServiceRequest/draft-lab"],
            cards=[strat("anticoagulate", "warning", ["positive-d-dimer", "unprovoked"], "moderate", ["renal-failure"],
                         sp=["severe-renal-impairment"], pm=["end-stage-renal-disease"], muscular=False,
                         sugg=regimens("warfarin"))])

    b = P("pt-sp-rosemary")
    fixture(cat, "dialysis-serial-imaging-warning", "order-select", b, b.patient("Rosemary", "1962-05-19", "male"),
            story="64-year-old man on haemodialysis (N18.6, Z99.2, no eGFR reported) with reduced mobility "
                  "(provoked), small right soleal thrombus, negative D-dimer: serial imaging, but the ESRD "
                  "progression modifier makes it a warning on order-select.",
            rows=["§2 progression modifier end-stage-renal-disease (ESRD/dialysis Condition)",
                  "§4 severe-renal-impairment (dialysis, no lab needed)", "§3 renal-failure -> moderate",
                  "§2 unprovoked absent (reduced mobility)", "§4 serial-imaging warning with ESRD (decision 3)"],
            conditions=[dvt(b, "I82.461", ["soleal"], "right"),
                        b.icd("cond-esrd", "N18.6", "End stage renal disease", onset="2022-02-01",
                              recorded="2022-02-01"),
                        b.icd("cond-hd", "Z99.2", "Dependence on renal dialysis", onset="2022-02-15",
                              recorded="2022-02-15"),
                        b.icd("cond-mobility", "Z74.09", "Other reduced mobility", onset="2025-06-01",
                              recorded="2025-06-01")],
            observations=[b.ddimer_feu(0.46, interp="N"),
                          b.lab("lab-creat", "2160-0", "Creatinine [Mass/volume] in Serum or Plasma", 7.8, "mg/dL"),
                          *b.baseline(egfr=None, hgb=10.9, weight=(68, "kg")),
                          *b.ultrasound(length=(2.6, "cm"), diameter=(5, "mm"), veins=1, named=["soleal"],
                                        distance=(10, "cm"))],
            drafts=[b.cbc_order()], selections=["ServiceRequest/draft-lab"],
            cards=[strat("serial-imaging", "warning", [], "moderate", ["renal-failure"],
                         sp=["severe-renal-impairment"], pm=["end-stage-renal-disease"], muscular=True, lat="right")])

    b = P("pt-sp-sage")
    fixture(cat, "prior-stroke-serial-imaging-warning", "order-select", b, b.patient("Sage", "1966-07-07", "male"),
            story="60-year-old man with an ischaemic stroke in 2023 (resolved; history counts) on clopidogrel, leg "
                  "contusion 2 weeks ago (provoked), small right posterior tibial thrombus, negative D-dimer: serial "
                  "imaging as a warning (prior-stroke modifier); bleeding previous-stroke + antiplatelet = high.",
            rows=["§2 progression modifier prior-stroke (history counts whatever clinicalStatus)",
                  "§3 previous-stroke, antiplatelet-therapy -> high", "§2 unprovoked absent (injury S80 <= 60 d)",
                  "§4 serial-imaging (none present, any bleeding) warning with stroke"],
            conditions=[dvt(b, "I82.441", ["posterior-tibial"], "right"),
                        b.icd("cond-stroke", "I63.9", "Cerebral infarction, unspecified", clinical="resolved",
                              onset="2023-04-11", abatement="2023-05-02", recorded="2023-04-11"),
                        b.icd("cond-contusion", "S80.11XA", "Contusion of right lower leg, initial encounter",
                              category="encounter-diagnosis", onset="2026-11-06", recorded="2026-11-06T13:00:00Z")],
            observations=[b.ddimer_feu(0.4, interp="N"), *b.baseline(egfr=77, weight=(90, "kg")),
                          *b.ultrasound(length=(2.9, "cm"), diameter=(5, "mm"), veins=1, named=["posterior-tibial"],
                                        distance=(9, "cm"))],
            medications=[b.med("mr-clopi", "clopidogrel", "clopidogrel 75 mg oral tablet", authored="2023-04-14",
                               dose=(75, "mg"), freq=1, reason_ref="Condition/cond-stroke")],
            drafts=[b.draft_acetaminophen()], selections=["MedicationRequest/draft-1"],
            cards=[strat("serial-imaging", "warning", [], "high", ["previous-stroke", "antiplatelet-therapy"],
                         pm=["prior-stroke"], muscular=False, lat="right")])

    b = P("pt-sp-tansy")
    fixture(cat, "cancer-with-renal-impairment-individualize", "order-sign", b,
            b.patient("Tansy", "1967-10-10", "male"),
            story="59-year-old man with lung cancer and eGFR 26: bleeding cancer + renal-failure = high; "
                  "active-cancer and positive D-dimer: individualize with the cancer list under renal < 30 "
                  "(enoxaparin, apixaban; no rivaroxaban).",
            rows=["§4 active cancer + renal < 30 regimen list (decision 1)", "§3 cancer + renal-failure -> high",
                  "§4 individualize"],
            conditions=[dvt(b, "I82.462", ["gastrocnemius"], "left"),
                        b.icd("cond-ca", "C34.11", "Malignant neoplasm of upper lobe, right bronchus or lung",
                              onset="2026-05-06", recorded="2026-05-12")],
            observations=[b.ddimer_feu(2.0, interp="H"), *b.baseline(egfr=26, plt=160, hgb=11.1, weight=(66, "kg")),
                          *b.ultrasound(length=(3.0, "cm"), diameter=(5, "mm"), veins=1, named=["gastrocnemius"],
                                        distance=(10, "cm"))],
            drafts=[b.cbc_order()],
            cards=[strat("individualize", "warning", ["active-cancer", "positive-d-dimer"], "high",
                         ["cancer", "renal-failure"], sp=["active-cancer", "renal-impairment"], muscular=True,
                         sugg=indiv_sugg("enoxaparin", "apixaban"), lat="left")])


# =====================================================================================================
# missing-data/
# =====================================================================================================
def missing():
    cat = "missing-data"

    b = P("pt-md-umber")
    conds, meds, prow = provoker(b, "estrogen")
    fixture(cat, "no-d-dimer-serial-imaging", "order-sign", b, b.patient("Umber", "1969-05-21", "female"),
            story="57-year-old woman on oral estradiol (provoked), right gastrocnemius thrombosis, no D-dimer "
                  "measured, ultrasound otherwise reassuring: serial imaging with d-dimer listed as missing (a "
                  "positive D-dimer would have favoured anticoagulation).",
            rows=[prow, "§2 positive-d-dimer unknown -> missingData d-dimer", "§4 serial-imaging (warning on order-sign)"],
            conditions=[dvt(b, "I82.461", ["gastrocnemius"], "right"), *conds],
            observations=[*b.baseline(weight=(67, "kg")),
                          *b.ultrasound(length=(2.5, "cm"), diameter=(4, "mm"), veins=1, named=["gastrocnemius"],
                                        distance=(10, "cm"))],
            medications=meds, drafts=[b.cbc_order()],
            cards=[strat("serial-imaging", "warning", [], "low", missing=["d-dimer"], muscular=True, lat="right")])

    b = P("pt-md-vetch")
    fixture(cat, "no-ultrasound-findings", "order-select", b, b.patient("Vetch", "1979-11-03", "male"),
            story="47-year-old man with a right gastrocnemius vein thrombosis recorded from an outside scan report "
                  "(no structured findings), positive D-dimer, unprovoked: anticoagulate; length, diameter, veins "
                  "involved and distance are unknown (one vein on the Condition proves nothing about the others).",
            rows=["§2 thrombus-length/diameter unknown", "§2 multiple-veins unknown with a single vein on the Condition",
                  "§2 near-proximal-veins unknown", "§2 positive-d-dimer", "§2 unprovoked", "§4 anticoagulate"],
            conditions=[dvt(b, "I82.461", ["gastrocnemius"], "right")],
            observations=[b.ddimer_feu(1.6, interp="H"), *b.baseline(weight=(88, "kg"))],
            procedures=[b.procedure("proc-appendix", "44970", "Laparoscopy, surgical, appendectomy",
                                    "2011-07-09T15:00:00Z")],
            drafts=[b.draft_acetaminophen()], selections=["MedicationRequest/draft-1"],
            cards=[strat("anticoagulate", "warning", ["positive-d-dimer", "unprovoked"], "low",
                         missing=["thrombus-length", "thrombus-diameter", "veins-involved",
                                  "distance-to-proximal-veins"], muscular=True)])

    b = P("pt-md-wisteria")
    fixture(cat, "no-birthdate", "order-sign", b, b.patient("Wisteria", None, "male"),
            story="Man whose Patient resource has no birthDate (registration incomplete), unprovoked right peroneal "
                  "thrombosis with positive D-dimer: anticoagulate; age is missing, so the bleeding category is 'at "
                  "least' low.",
            rows=["§3 age unknown -> missingData age, category 'at least'", "§4 anticoagulate"],
            conditions=[dvt(b, "I82.451", ["peroneal"], "right")],
            observations=[b.ddimer_feu(1.1, interp="H"), *b.baseline(weight=(79, "kg")),
                          *b.ultrasound(length=(3.0, "cm"), diameter=(6, "mm"), veins=1, named=["peroneal"],
                                        distance=(9, "cm"))],
            drafts=[b.cbc_order()],
            cards=[strat("anticoagulate", "warning", ["positive-d-dimer", "unprovoked"], "low", missing=["age"],
                         muscular=False)])

    b = P("pt-md-yarrow")
    fixture(cat, "no-renal-function-in-90-days", "order-sign", b, b.patient("Yarrow", "1972-12-01", "female"),
            story="53-year-old woman whose last eGFR is 113 days old (outside the 90-day window) and no ESRD or "
                  "dialysis Condition: renal-function missing; unprovoked with positive D-dimer: anticoagulate with "
                  "the default regimens.",
            rows=["§3 renal-function unknown (no lab in 90 d, no ESRD/dialysis) -> missingData", "§4 anticoagulate"],
            conditions=[dvt(b, "I82.462", ["soleal"], "left")],
            observations=[b.ddimer_feu(0.95, interp="H"), b.egfr(72, "2026-07-30T09:00:00Z"),
                          *b.baseline(egfr=None, weight=(62, "kg")),
                          *b.ultrasound(length=(3.2, "cm"), diameter=(5, "mm"), veins=1, named=["soleal"],
                                        distance=(9, "cm"))],
            drafts=[b.cbc_order()],
            cards=[strat("anticoagulate", "warning", ["positive-d-dimer", "unprovoked"], "low",
                         missing=["renal-function"], muscular=True)])

    b = P("pt-md-zinnia")
    conds, meds, prow = provoker(b, "injury")
    fixture(cat, "no-body-weight-serial-imaging", "order-select", b, b.patient("Zinnia", "1988-02-29", "female"),
            story="38-year-old woman after an Achilles strain (provoked), no weight recorded in 90 days (last one "
                  "2025): serial imaging; body-weight is still listed as missing whatever the recommendation.",
            rows=[prow, "§3 body-weight missing (no weight in 90 d) listed whatever the recommendation",
                  "§4 serial-imaging"],
            conditions=[dvt(b, "I82.461", ["soleal"], "right"), *conds],
            observations=[b.ddimer_feu(0.3, interp="N"), *b.baseline(weight=None),
                          b.weight(61, effective="2025-10-02T10:00:00Z", oid="vs-weight-2025"),
                          *b.ultrasound(length=(2.0, "cm"), diameter=(4, "mm"), veins=1, named=["soleal"],
                                        distance=(12, "cm"))],
            drafts=[b.draft_acetaminophen()], selections=["MedicationRequest/draft-1"],
            cards=[strat("serial-imaging", "info", [], "low", missing=["body-weight"], muscular=True, lat="right")])

    b = P("pt-md-acacia")
    fixture(cat, "observations-prefetch-null", "order-sign", b, b.patient("Acacia", "1976-06-18", "male"),
            story="50-year-old man, left peroneal DVT; the EHR answers the observations prefetch with null (no such "
                  "data): every observation-based fact is unknown and listed; no provoking factor, so unprovoked: "
                  "anticoagulate.",
            rows=["contract: prefetch key null = no such data", "§2 unknowns listed in missingData",
                  "§3 renal-function, platelets, hemoglobin, body-weight missing", "§2 unprovoked", "§4 anticoagulate"],
            conditions=[dvt(b, "I82.452", ["peroneal"], "left")], nulls=("observations",),
            drafts=[b.cbc_order()],
            cards=[strat("anticoagulate", "warning", ["unprovoked"], "low",
                         missing=["d-dimer", "thrombus-length", "thrombus-diameter", "veins-involved",
                                  "distance-to-proximal-veins", "renal-function", "platelets", "hemoglobin",
                                  "body-weight"], muscular=False)])

    b = P("pt-md-bluebell")
    fixture(cat, "blood-count-older-than-30-days", "order-select", b, b.patient("Bluebell", "1982-09-14", "female"),
            story="44-year-old woman whose last blood count (haemoglobin 9.2 g/dL, platelets 140) is 41 days old: "
                  "outside the 30-day window, so no anaemia factor and platelets/hemoglobin missing; unprovoked with "
                  "positive D-dimer: anticoagulate, bleeding 'at least' low.",
            rows=["§3 platelets/haemoglobin window 30 d -> missingData", "§3 old anaemia value not used",
                  "§4 anticoagulate"],
            conditions=[dvt(b, "I82.462", ["gastrocnemius"], "left")],
            observations=[b.ddimer_feu(1.3, interp="H"), *b.baseline(plt=None, hgb=None, weight=(58, "kg")),
                          b.platelets(140, effective="2026-10-10T09:00:00Z"),
                          b.hemoglobin(9.2, effective="2026-10-10T09:00:00Z"),
                          *b.ultrasound(length=(3.1, "cm"), diameter=(5, "mm"), veins=1, named=["gastrocnemius"],
                                        distance=(11, "cm"))],
            drafts=[b.draft_acetaminophen()], selections=["MedicationRequest/draft-1"],
            cards=[strat("anticoagulate", "warning", ["positive-d-dimer", "unprovoked"], "low",
                         missing=["platelets", "hemoglobin"], muscular=True)])

    b = P("pt-md-clover")
    conds, meds, prow = provoker(b, "mobility")
    fixture(cat, "d-dimer-before-window", "order-sign", b, b.patient("Clover", "1958-03-03", "male"),
            story="68-year-old man with reduced mobility (provoked) whose only D-dimer (positive) was drawn 17 days "
                  "before the DVT onset, outside the window (14 days before the index date): D-dimer unknown; serial "
                  "imaging with d-dimer missing; age-over-65 (moderate).",
            rows=[prow, "§2 D-dimer window: 14 days before the index date until now", "§3 age-over-65",
                  "§4 serial-imaging"],
            conditions=[dvt(b, "I82.451", ["peroneal"], "right"), *conds],
            observations=[b.ddimer_feu(1.2, interp="H", effective="2026-11-02T10:00:00Z"),
                          *b.baseline(egfr=66, weight=(81, "kg")),
                          *b.ultrasound(length=(2.7, "cm"), diameter=(5, "mm"), veins=1, named=["peroneal"],
                                        distance=(9, "cm"))],
            drafts=[b.cbc_order()],
            cards=[strat("serial-imaging", "warning", [], "moderate", ["age-over-65"], missing=["d-dimer"],
                         muscular=False, lat="right")])

    b = P("pt-md-daisy")
    conds, meds, prow = provoker(b, "injury")
    fixture(cat, "no-distance-to-proximal-veins", "order-select", b, b.patient("Daisy", "1992-07-07", "female"),
            story="34-year-old woman after an Achilles strain (provoked); the duplex report gives length, diameter "
                  "and one vein but neither the distance to the popliteal vein nor a near-proximal flag: "
                  "near-proximal-veins unknown (distance-to-proximal-veins missing), never silently absent; serial "
                  "imaging.",
            rows=[prow, "§2 near-proximal-veins unknown -> missingData distance-to-proximal-veins",
                  "§4 serial-imaging"],
            conditions=[dvt(b, "I82.461", ["gastrocnemius"], "right"), *conds],
            observations=[b.ddimer_feu(0.33, interp="N"), *b.baseline(weight=(60, "kg")),
                          *b.ultrasound(length=(2.1, "cm"), diameter=(4, "mm"), veins=1, named=["gastrocnemius"])],
            drafts=[b.draft_acetaminophen()], selections=["MedicationRequest/draft-1"],
            cards=[strat("serial-imaging", "info", [], "low", missing=["distance-to-proximal-veins"], muscular=True,
                         lat="right")])


# =====================================================================================================
# units/
# =====================================================================================================
def units():
    cat = "units"

    def prov_case(name, hook, pid, given, birth, gender, provoke, *, story, rows, card, dd=None, labs=None,
                  us=None, code="I82.461", vein="gastrocnemius", side="right"):
        boundary(name, hook, pid, given, birth, gender, code=code, vein=vein, side=side, provoke=provoke,
                 story=story, rows=rows, card=card, ddimer=dd, labs=labs, us=us, category=cat)

    prov_case("d-dimer-ng-ml-feu-620", "order-sign", "pt-un-dd620", "Elder", "1967-05-05", "female", "estrogen",
              dd=lambda b: b.ddimer_feu(620, unit="ng/mL FEU", ucum="ng/mL"),
              story="59-year-old woman on oral estradiol (provoked); D-dimer FEU 620 ng/mL (= 0.62 mg/L), no "
                    "interpretation or range: positive: anticoagulate.",
              rows=["§2 cutoff 0.5 mg/L FEU = 500 ng/mL", "§4 anticoagulate"],
              card=strat("anticoagulate", "warning", ["positive-d-dimer"], "low", muscular=True))
    prov_case("d-dimer-ug-ml-0.45-negative", "order-select", "pt-un-dd045", "Fennel", "1986-08-18", "male", "injury",
              dd=lambda b: b.ddimer_feu(0.45, unit="ug/mL FEU", ucum="ug/mL"),
              story="40-year-old man after an Achilles strain (provoked); D-dimer 0.45 ug/mL FEU (= 0.45 mg/L): "
                    "negative; serial imaging.",
              rows=["§2 cutoff 0.5 ug/mL FEU", "§4 serial-imaging"],
              card=strat("serial-imaging", "info", [], "low", muscular=True, lat="right"))
    prov_case("d-dimer-mg-l-feu-annotation", "order-select", "pt-un-ddann", "Gorse", "1986-09-19", "male", "injury",
              dd=lambda b: b.ddimer_feu(0.55, unit="mg/L FEU", ucum="mg/L{FEU}"),
              story="40-year-old man after an Achilles strain (provoked); D-dimer 0.55 with UCUM code mg/L{FEU} (the "
                    "annotation carries no meaning): positive: anticoagulate.",
              rows=["§2 UCUM annotations ignored", "§4 anticoagulate"],
              card=strat("anticoagulate", "warning", ["positive-d-dimer"], "low", muscular=True))
    prov_case("d-dimer-ddu-300-positive", "order-sign", "pt-un-ddu300", "Heather", "1975-10-20", "female", "estrogen",
              dd=lambda b: b.ddimer_ddu(300),
              story="51-year-old woman on oral estradiol (provoked); D-dimer DDU (48066-5) 300 ng/mL: positive by the "
                    "DDU cutoff of 250 (it would be negative if read against the FEU cutoff of 500): anticoagulate.",
              rows=["§2 DDU basis from the LOINC code, cutoff 250 ng/mL", "§4 anticoagulate"],
              card=strat("anticoagulate", "warning", ["positive-d-dimer"], "low", muscular=True))

    def mm_labs(b):
        return [b.egfr(91), b.platelets(233), b.hemoglobin(14.4), b.weight(81500, "g")]

    prov_case("thrombus-length-mm-weight-grams", "order-select", "pt-un-mm", "Ivy", "1983-01-11", "male", "mobility",
              labs=mm_labs,
              us={"length": (55, "mm"), "diameter": (0.6, "cm"), "distance": (80, "mm")},
              code="I82.452", vein="peroneal", side="left",
              story="43-year-old man with reduced mobility (provoked); duplex lengths reported in mm (thrombus 55 mm "
                    "= 5.5 cm: present; distance 80 mm: not near) and diameter in cm (0.6 cm = 6 mm: absent); weight "
                    "in g (81500 g, known): anticoagulate for thrombus length.",
              rows=["§2 thrombus-length in mm", "§2 thrombus-diameter in cm", "§2 distance in mm",
                    "§3 body weight in g", "§4 anticoagulate"],
              card=strat("anticoagulate", "warning", ["thrombus-length"], "low", muscular=False))

    def si_labs(b):
        return [b.egfr(83), b.platelets(86, "10*9/L"), b.hemoglobin(94, "g/L"), b.weight(72, "kg")]

    boundary("hemoglobin-g-l-platelets-10-9-l", "order-sign", "pt-un-si", "Jessamine", "1970-12-24", "female",
             category=cat,
             code="I82.462", vein="soleal", side="left", provoke=None, ddimer=lambda b: b.ddimer_feu(1.8, interp="H"),
             labs=si_labs,
             story="55-year-old woman, haemoglobin 94 g/L (= 9.4 g/dL: anaemia) and platelets 86 x 10^9/L "
                   "(thrombocytopenia): high bleeding risk; unprovoked with positive D-dimer: individualize.",
             rows=["§3 haemoglobin g/L / 10", "§3 platelets 10*9/L = 10*3/uL", "§3 anemia + thrombocytopenia -> high",
                   "§4 individualize"],
             card=strat("individualize", "warning", ["positive-d-dimer", "unprovoked"], "high",
                        ["anemia", "thrombocytopenia"], muscular=True, lat="left"))

    def mmol_labs(b):
        return [b.egfr(86), b.platelets(212), b.hemoglobin(6.0, "mmol/L"), b.weight(172, "[lb_av]")]

    boundary("hemoglobin-mmol-l-weight-pounds", "order-sign", "pt-un-mmol", "Kale", "1964-03-15", "male",
             category=cat,
             code="I82.451", vein="peroneal", side="right", provoke=None, ddimer=lambda b: b.ddimer_feu(1.2, interp="H"),
             labs=mmol_labs,
             story="62-year-old man, haemoglobin 6.0 mmol/L (x 1.611 = 9.7 g/dL: anaemia, moderate), weight 172 "
                   "[lb_av] (known); unprovoked with positive D-dimer: anticoagulate.",
             rows=["§3 haemoglobin mmol/L x 1.611", "§3 weight in [lb_av]", "§3 anemia -> moderate",
                   "§4 anticoagulate"],
             card=strat("anticoagulate", "warning", ["positive-d-dimer", "unprovoked"], "moderate", ["anemia"],
                        muscular=False))

    def odd_unit(b):
        o = b.ddimer_feu(1.4)
        o["valueQuantity"] = {"value": 1.4, "unit": "LIA units"}
        return o

    prov_case("d-dimer-unknown-unit", "order-sign", "pt-un-odd", "Lupin", "1973-04-30", "female", "estrogen",
              dd=odd_unit,
              story="53-year-old woman on oral estradiol (provoked); D-dimer reported as 1.4 'LIA units' with no "
                    "UCUM code, no interpretation and no reference range: cannot be judged, so unknown (missing); "
                    "serial imaging with d-dimer listed.",
              rows=["§2 positive-d-dimer unknown when unit and range cannot be judged", "§4 serial-imaging"],
              card=strat("serial-imaging", "warning", [], "low", missing=["d-dimer"], muscular=True, lat="right"))


# =====================================================================================================
# out-of-scope/
# =====================================================================================================
def out_of_scope():
    cat = "out-of-scope"

    def oos(name, hook, pid, given, birth, gender, *, story, rows, conditions, us=None, drafts=None, sel=None,
            cards=(), labs=None, dd=None):
        b = P(pid)
        conds = conditions(b)
        obs = [(dd(b) if dd else b.ddimer_feu(1.6, interp="H")), *(labs(b) if labs else b.baseline()),
               *b.ultrasound(**(us or dict(length=(3.0, "cm"), diameter=(5, "mm"), veins=1, distance=(8, "cm"))))]
        if drafts is None:
            drafts_l, sel_l = ([b.draft_acetaminophen()], ["MedicationRequest/draft-1"]) if hook == "order-select" \
                else ([b.cbc_order()], None)
        else:
            drafts_l, sel_l = drafts(b), sel
        fixture(cat, name, hook, b, b.patient(given, birth, gender), story=story, rows=rows, conditions=conds,
                observations=obs, drafts=drafts_l, selections=sel_l, cards=list(cards))

    oos("proximal-femoral-dvt-alone", "order-sign", "pt-oos-femoral", "Mallow", "1961-01-19", "male",
        conditions=lambda b: [dvt(b, "I82.411", ["femoral"], "right")],
        story="Right femoral vein DVT (proximal, I82.41): not a distal DVT, so no index DVT and no card.",
        rows=["§1 proximal class -> not an index DVT", "§1 no index DVT -> cards []"])
    oos("calf-and-popliteal-dvt-together", "order-select", "pt-oos-poplit", "Nettle", "1959-04-08", "female",
        conditions=lambda b: [dvt(b, "I82.461", ["gastrocnemius"], "right"),
                              dvt(b, "I82.431", ["popliteal"], "right", cid="dvt-2")],
        us=dict(length=(9, "cm"), diameter=(8, "mm"), veins=1, named=["gastrocnemius"], extends=None),
        story="Right gastrocnemius thrombosis with a concurrent right popliteal DVT: not isolated distal DVT, so "
              "no stratification card; the selected draft raises no safety issue.",
        rows=["§1 active proximal Condition -> not isolated", "decision 5 safety checks still run (none fires)"])
    oos("pulmonary-embolism-with-calf-dvt", "order-sign", "pt-oos-pe", "Orris", "1966-02-22", "male",
        conditions=lambda b: [dvt(b, "I82.452", ["peroneal"], "left"),
                              b.icd("cond-pe", "I26.99", "Other pulmonary embolism without acute cor pulmonale",
                                    category="encounter-diagnosis", onset="2026-11-19",
                                    recorded="2026-11-20T10:30:00Z", encounter="enc-ed")],
        story="Left peroneal DVT with a pulmonary embolism: not isolated distal DVT (PE is out of scope): no card.",
        rows=["§1 pulmonary embolism -> not isolated", "decision 5 no safety issue among drafts"])
    oos("pulmonary-embolism-rivaroxaban-draft-renal-doac", "order-sign", "pt-oos-pe-riva", "Pansy", "1955-07-07",
        "female",
        conditions=lambda b: [dvt(b, "I82.452", ["peroneal"], "left"),
                              b.icd("cond-pe", "I26.99", "Other pulmonary embolism without acute cor pulmonale",
                                    category="encounter-diagnosis", onset="2026-11-19",
                                    recorded="2026-11-20T10:30:00Z", encounter="enc-ed")],
        labs=lambda b: b.baseline(egfr=24, weight=(66, "kg")),
        drafts=lambda b: [b.draft_rivaroxaban(reason_ref="Condition/cond-pe")],
        story="71-year-old woman with a PE and a left peroneal DVT (no stratification: not isolated), eGFR 24, "
              "and a draft rivaroxaban: the index-DVT Condition exists, so the order-safety check still runs: "
              "renal-doac warning, replace with apixaban.",
        rows=["§1 not isolated -> no stratification card", "decision 5 safety checks run with an index-DVT Condition",
              "§5 renal-doac (rivaroxaban < 30) warning", "decision 2 renal-doac suggestion"],
        cards=[safety("renal-doac", "warning", ["MedicationRequest/draft-1"],
                      [{"isRecommended": True, "actions": ["delete MedicationRequest/draft-1",
                                                            "create MedicationRequest apixaban"]}])])
    oos("refuted-calf-dvt", "order-sign", "pt-oos-refuted", "Quassia", "1980-10-10", "female",
        conditions=lambda b: [dvt(b, "I82.461", ["gastrocnemius"], "right", verification="refuted")],
        us=dict(extends=False),
        story="Suspected right calf DVT refuted by the duplex (verificationStatus refuted): not an index DVT: no "
              "card.", rows=["§1 verificationStatus refuted -> not an index DVT"])
    oos("entered-in-error-calf-dvt-with-rivaroxaban-draft", "order-sign", "pt-oos-eie", "Rue", "1950-05-05", "male",
        conditions=lambda b: [dvt(b, "I82.451", ["peroneal"], "right", verification="entered-in-error",
                                  clinical=None)],
        labs=lambda b: b.baseline(egfr=22),
        drafts=lambda b: [b.draft_rivaroxaban(reason_ref=None,
                                              reason_code=("I48.91", "Unspecified atrial fibrillation"))],
        story="Calf DVT Condition entered in error (wrong patient); a rivaroxaban draft for atrial fibrillation "
              "with eGFR 22: there is no index DVT, so this service returns no card at all, not even a safety card.",
        rows=["§1 entered-in-error -> not an index DVT", "decision 5 no index DVT -> no card at all"])
    oos("chronic-calf-dvt-I82.56", "order-select", "pt-oos-chronic", "Sorrel", "1962-12-12", "male",
        conditions=lambda b: [dvt(b, "I82.561", ["gastrocnemius"], "right", onset="2026-05-02",
                                  recorded="2026-05-02T12:00:00Z")],
        us=dict(length=(3.0, "cm"), diameter=(4, "mm"), veins=1, distance=(9, "cm"),
                effective="2026-11-20T09:20:00Z"),
        story="Chronic right calf muscular vein thrombosis (I82.56) seen on a surveillance scan: chronic codes are "
              "never an index DVT: no card.", rows=["§1 chronic I82.5 -> not an index DVT"])
    oos("ambiguous-I82.40-without-distal-site", "order-sign", "pt-oos-ambig", "Tarragon", "1971-08-30", "female",
        conditions=lambda b: [dvt(b, "I82.401", [], None)],
        us=dict(length=(4.0, "cm"), diameter=(6, "mm")),
        story="'Acute DVT of unspecified deep veins of right lower extremity' (I82.40, ambiguous) with no bodySite "
              "and no vein-involved finding naming a distal vein: not an index DVT (could be proximal): no card.",
        rows=["§1 ambiguous class without distal-only sites -> not an index DVT"])
    oos("ultrasound-extends-to-proximal-veins", "order-select", "pt-oos-extends", "Valerian", "1957-09-09", "male",
        conditions=lambda b: [dvt(b, "I82.441", ["posterior-tibial"], "right")],
        us=dict(length=(8, "cm"), diameter=(8, "mm"), veins=1, named=["posterior-tibial"], extends=True),
        story="Problem list says right tibial DVT, but the duplex reports the thrombus extending into the "
              "popliteal vein (extends-to-proximal-veins = true): proximal DVT, out of scope: no stratification "
              "card; no safety issue with the selected draft.",
        rows=["§1 extends-to-proximal-veins = true -> not isolated"])
    oos("no-dvt-cellulitis-apixaban-for-af", "order-sign", "pt-oos-nodvt", "Woad", "1953-03-03", "female",
        conditions=lambda b: [b.icd("cond-cellulitis", "L03.115", "Cellulitis of right lower limb",
                                    category="encounter-diagnosis", onset="2026-11-18",
                                    recorded="2026-11-20T09:00:00Z"),
                              b.icd("cond-af", "I48.91", "Unspecified atrial fibrillation", onset="2026-11-20",
                                    recorded="2026-11-20T09:30:00Z")],
        us=dict(length=None, diameter=None, veins=None, extends=None),
        dd=lambda b: b.ddimer_feu(0.8, interp="H"),
        drafts=lambda b: [b.draft_apixaban(reason_ref="Condition/cond-af", bounds=None)],
        story="Red swollen right leg from cellulitis, duplex negative for DVT, new atrial fibrillation with a "
              "draft apixaban: no DVT at all, so this service returns no card.",
        rows=["§1 no index DVT -> cards []"])
    oos("snomed-dvt-with-popliteal-bodysite", "order-sign", "pt-oos-sctpop", "Yew", "1968-11-11", "male",
        conditions=lambda b: [dvt(b, "128053003", ["popliteal"], "right", system=SCT)
                              | {"code": cc(SCT, "128053003", "Deep venous thrombosis", "Deep vein thrombosis")}],
        story="SNOMED 'Deep venous thrombosis' with bodySite popliteal vein: a DVT whose site is proximal: out of "
              "scope: no card.", rows=["§1 DVT Condition whose bodySite names a proximal vein -> not isolated"])
    oos("provisional-calf-dvt", "order-select", "pt-oos-provisional", "Zedoary", "1990-01-01", "female",
        conditions=lambda b: [dvt(b, "I82.461", ["gastrocnemius"], "right", verification="provisional")],
        us=dict(extends=None),
        story="Calf DVT entered as provisional while the formal duplex is pending: provisional is not an index "
              "DVT: no card.", rows=["§1 verificationStatus provisional -> not an index DVT"])
    oos("superficial-thrombophlebitis", "order-sign", "pt-oos-superficial", "Aster", "1965-06-16", "female",
        conditions=lambda b: [b.icd("cond-stp", "I80.01", "Phlebitis and thrombophlebitis of superficial vessels of "
                                    "right lower extremity", category="encounter-diagnosis", onset="2026-11-19",
                                    recorded="2026-11-20T09:50:00Z",
                                    body_sites=Builder.sites(["great-saphenous"], "right"))],
        us=dict(extends=False),
        story="Superficial thrombophlebitis of the right great saphenous vein: not a DVT: no card.",
        rows=["§1 no index DVT (superficial vein) -> cards []"])


# =====================================================================================================
# already-managed/
# =====================================================================================================
def already_managed():
    cat = "already-managed"

    def am(name, hook, pid, given, birth, gender, *, story, rows, cards, provoke=None, dd_pos=True, meds=(),
           srs=(), code="I82.461", vein="gastrocnemius", side="right", encounters=None, drafts=None, sel=None,
           recorded="2026-11-20T09:50:00Z", us_based_on="ServiceRequest/sr-duplex-dx", extra_conds=(),
           encounter_id="enc-ed"):
        b = P(pid)
        conds, pmeds, _ = provoker(b, provoke) if provoke else ([], [], None)
        obs = [b.ddimer_feu(1.5, interp="H") if dd_pos else b.ddimer_feu(0.3, interp="N"), *b.baseline(),
               *b.ultrasound(length=(3.0, "cm"), diameter=(5, "mm"), veins=1, named=[vein], distance=(9, "cm"),
                             based_on=us_based_on)]
        if drafts is None:
            drafts_l, sel_l = ([b.draft_acetaminophen()], ["MedicationRequest/draft-1"]) if hook == "order-select" \
                else ([b.cbc_order()], None)
        else:
            drafts_l, sel_l = drafts(b), sel
        fixture(cat, name, hook, b, b.patient(given, birth, gender), story=story, rows=rows,
                conditions=[dvt(b, code, [vein], side, recorded=recorded,
                                encounter=encounter_id if recorded >= "2026-11-20" else None), *conds,
                            *(extra_conds(b) if extra_conds else [])],
                observations=obs, medications=[*pmeds, *(m(b) for m in meds)],
                service_requests=[s(b) for s in srs] if srs else None,
                encounters=encounters(b) if encounters else None, encounter_id=encounter_id,
                drafts=drafts_l, selections=sel_l, cards=cards)

    am("active-apixaban", "order-sign", "pt-am-apix", "Basil", "1969-09-09", "male",
       meds=[lambda b: b.med("mr-apix", "apixaban", "apixaban 5 mg oral tablet", authored="2026-11-19T17:30:00Z",
                             dose=(10, "mg"), freq=2, bounds=(3, "mo"), reason_ref="Condition/dvt-1",
                             dosage_text="10 mg twice daily for 7 days, then 5 mg twice daily")],
       story="57-year-old man started on apixaban at an urgent-care centre yesterday (active therapeutic "
             "MedicationRequest): already managed, no stratification card; no draft raises a safety issue.",
       rows=["§1 already managed: active therapeutic anticoagulant"], cards=[])
    am("prophylactic-enoxaparin-does-not-count", "order-select", "pt-am-proph", "Chervil", "1961-02-28", "female",
       meds=[lambda b: b.med("mr-enox-proph", "enoxaparin", "enoxaparin 40 mg/0.4 mL prefilled syringe",
                             authored="2026-11-16T20:00:00Z", dose=(40, "mg"), freq=1, route=b.SUBCUT,
                             dosage_text="40 mg subcutaneously once daily (VTE prophylaxis)")],
       encounters=lambda b: [b.encounter("enc-adm", "IMP", "in-progress", "2026-11-16T18:00:00Z",
                                         reason=("J44.1", "Chronic obstructive pulmonary disease with (acute) "
                                                          "exacerbation")), b.old_visit()],
       code="I82.462", vein="gastrocnemius", side="left", encounter_id="enc-adm",
       story="65-year-old woman admitted for a COPD exacerbation on prophylactic enoxaparin 40 mg daily develops a "
             "left gastrocnemius thrombosis: prophylaxis is not management; inpatient and positive D-dimer: "
             "anticoagulate card shown.",
       rows=["§1 prophylactic regimens (enoxaparin <= 40 mg once daily) do not count",
             "§2 inpatient (in-progress IMP encounter)", "§4 anticoagulate"],
       cards=[strat("anticoagulate", "warning", ["inpatient", "positive-d-dimer"], "low", muscular=True)])
    am("follow-up-duplex-already-ordered", "order-sign", "pt-am-fu", "Dill", "1971-04-04", "female",
       provoke="estrogen", dd_pos=False,
       srs=[lambda b: b.duplex_order("sr-duplex-dx", "right", status="completed", authored="2026-11-20T08:10:00Z",
                                     reason_ref=None),
            lambda b: b.duplex_order("sr-duplex-fu", "right", status="active", occurrence="2026-11-26",
                                     authored="2026-11-20T10:40:00Z")],
       story="55-year-old woman on estradiol (provoked) whose serial duplex for 2026-11-26 (index + 7 days) is "
             "already active: follow-up imaging exists, so no stratification card.",
       rows=["§1 already managed: duplex ServiceRequest active, occurrence >= index + 3 days"], cards=[])
    am("diagnostic-duplex-basedon-is-not-follow-up", "order-select", "pt-am-dx", "Eyebright", "1987-03-13", "male",
       provoke="injury", dd_pos=False, recorded="2026-11-19T17:00:00Z",
       srs=[lambda b: b.duplex_order("sr-duplex-dx", "right", status="active", authored="2026-11-20T08:10:00Z")],
       story="39-year-old man (Achilles strain, provoked) whose calf DVT was recorded at urgent care yesterday; "
             "the ED ordered a complete duplex this morning (still active, no occurrence, authored after the "
             "Condition was recorded) and the findings are basedOn it: the scan that characterised the DVT is "
             "not follow-up, so the serial-imaging card is shown.",
       rows=["§1 duplex that a finding is basedOn is not follow-up", "§4 serial-imaging (info)"],
       cards=[strat("serial-imaging", "info", [], "low", muscular=True, lat="right")])
    am("duplex-occurrence-too-early", "order-select", "pt-am-early", "Feverfew", "1990-12-12", "female",
       provoke="injury", dd_pos=False,
       srs=[lambda b: b.duplex_order("sr-duplex-dx", "right", status="completed", authored="2026-11-20T08:10:00Z",
                                     reason_ref=None),
            lambda b: b.duplex_order("sr-duplex-early", "right", status="active", occurrence="2026-11-21",
                                     authored="2026-11-20T10:40:00Z")],
       story="35-year-old woman (Achilles strain, provoked) with a repeat duplex booked for tomorrow, index + 2 "
             "days: < index + 3 days, not the 1-2 week follow-up: serial-imaging card shown.",
       rows=["§1 follow-up duplex needs occurrence >= index + 3 days", "§4 serial-imaging"],
       cards=[strat("serial-imaging", "info", [], "low", muscular=True, lat="right")])
    am("duplex-occurrence-index-plus-3-days", "order-select", "pt-am-plus3", "Galangal", "1990-11-11", "female",
       provoke="injury", dd_pos=False,
       srs=[lambda b: b.duplex_order("sr-duplex-dx", "right", status="completed", authored="2026-11-20T08:10:00Z",
                                     reason_ref=None),
            lambda b: b.duplex_order("sr-duplex-fu", "right", status="active", occurrence="2026-11-22",
                                     authored="2026-11-20T10:40:00Z")],
       story="36-year-old woman (Achilles strain, provoked) with a repeat duplex booked for 2026-11-22, exactly "
             "index + 3 days: counts as follow-up: already managed, no card.",
       rows=["§1 follow-up duplex occurrence >= index + 3 days (inclusive)"], cards=[])
    am("warfarin-on-hold-counts", "order-sign", "pt-am-hold", "Hyssop", "1949-06-06", "male",
       meds=[lambda b: b.med("mr-warf", "warfarin", "warfarin sodium 5 mg oral tablet", status="on-hold",
                             authored="2021-02-02", dose=(5, "mg"), freq=1,
                             reason_code=("I48.20", "Chronic atrial fibrillation, unspecified"),
                             dosage_text="Dose per INR clinic (held 2 days for INR 4.1)")],
       story="77-year-old man on long-term warfarin for atrial fibrillation, held for 2 days for a high INR "
             "(status on-hold): still an active therapeutic anticoagulant: already managed, no card.",
       rows=["§1 already managed: MedicationRequest status on-hold counts"], cards=[])
    am("stopped-apixaban-does-not-count", "order-sign", "pt-am-stopped", "Indigo", "1970-07-17", "female",
       meds=[lambda b: b.med("mr-apix-old", "apixaban", "apixaban 5 mg oral tablet", status="completed",
                             authored="2024-01-10", dose=(5, "mg"), freq=2, bounds=(3, "mo"),
                             reason_ref="Condition/dvt-old")],
       extra_conds=lambda b: [dvt(b, "I82.452", ["peroneal"], "left", cid="dvt-old", clinical="resolved",
                                  onset="2024-01-09", recorded="2024-01-09T12:00:00Z", encounter=None)],
       story="56-year-old woman treated with 3 months of apixaban for a left peroneal DVT in 2024 (completed, "
             "Condition resolved) now has an unprovoked right gastrocnemius DVT with positive D-dimer: the old "
             "prescription does not manage it; prior-vte: anticoagulate.",
       rows=["§1 completed MedicationRequest does not count", "§2 prior-vte (earlier DVT, any clinicalStatus)",
             "§2 unprovoked", "§4 anticoagulate"],
       cards=[strat("anticoagulate", "warning", ["prior-vte", "positive-d-dimer", "unprovoked"], "low",
                    muscular=True)])


# =====================================================================================================
# drafts/ and order-safety/ share one patient template
# =====================================================================================================
def case(cat, name, hook, pid, given, birth, gender, *, story, rows, cards, drafts, sel=None, provoke=None,
         dd_pos=True, labs=None, code="I82.461", vein="gastrocnemius", side="right", meds=(), conds=(), srs=None,
         encounters=None, encounter_id="enc-ed", us=None, extra_obs=()):
    b = P(pid)
    pconds, pmeds, _ = provoker(b, provoke) if provoke else ([], [], None)
    us_kw = dict(length=(3.0, "cm"), diameter=(5, "mm"), veins=1, named=[vein], distance=(9, "cm"))
    us_kw.update(us or {})
    obs = [b.ddimer_feu(1.5, interp="H") if dd_pos else b.ddimer_feu(0.3, interp="N"),
           *(labs(b) if labs else b.baseline()), *b.ultrasound(**us_kw), *(o(b) for o in extra_obs)]
    fixture(cat, name, hook, b, b.patient(given, birth, gender), story=story, rows=rows,
            conditions=[dvt(b, code, [vein], side, encounter=encounter_id), *pconds, *(c(b) for c in conds)],
            observations=obs, medications=[*pmeds, *(m(b) for m in meds)],
            service_requests=[s(b) for s in srs] if srs else None,
            encounters=encounters(b) if encounters else None, encounter_id=encounter_id,
            drafts=drafts(b), selections=sel, cards=cards)


ANTICOAG_UNPROV = strat("anticoagulate", "warning", ["positive-d-dimer", "unprovoked"], "low", muscular=True)


def drafts():
    cat = "drafts"
    case(cat, "select-apixaban-silences-anticoagulate", "order-select", "pt-dr-apix", "Jonquil", "1976-01-05", "male",
         drafts=lambda b: [b.draft_apixaban()], sel=["MedicationRequest/draft-1"],
         story="Anticoagulate patient (unprovoked, positive D-dimer); the clinician has selected a 3-month "
               "apixaban draft: the plan is being implemented, the card is silenced; no safety issue.",
         rows=["§1 order-select: anticoagulate silenced by a selected therapeutic anticoagulant"], cards=[])
    case(cat, "select-apixaban-serial-imaging-card-stays-info", "order-select", "pt-dr-apix-si", "Kerria",
         "1984-02-02", "female", provoke="injury", dd_pos=False,
         drafts=lambda b: [b.draft_apixaban()], sel=["MedicationRequest/draft-1"],
         story="Serial-imaging patient (Achilles strain, no extension factor) for whom the clinician selects "
               "apixaban: a serial-imaging card is not silenced by an anticoagulant; it stays as info and says "
               "anticoagulation is an acceptable alternative.",
         rows=["§1 serial-imaging card not silenced by a selected anticoagulant (stays info)"],
         cards=[strat("serial-imaging", "info", [], "low", muscular=True, lat="right")])
    case(cat, "select-duplex-silences-serial-imaging", "order-select", "pt-dr-dup-si", "Lilac", "1984-03-03",
         "female", provoke="injury", dd_pos=False,
         drafts=lambda b: [b.duplex_order("draft-duplex", "right", occurrence="2026-11-26")],
         sel=["ServiceRequest/draft-duplex"],
         story="Serial-imaging patient; the clinician selects a repeat right-leg duplex for 2026-11-26: silenced.",
         rows=["§1 order-select: serial imaging silenced by a selected duplex draft"], cards=[])
    case(cat, "select-duplex-does-not-silence-anticoagulate", "order-select", "pt-dr-dup-ac", "Mimosa",
         "1976-04-04", "male", drafts=lambda b: [b.duplex_order("draft-duplex", "right", occurrence="2026-11-26")],
         sel=["ServiceRequest/draft-duplex"],
         story="Anticoagulate patient (unprovoked, positive D-dimer) for whom the clinician selects only a repeat "
               "duplex: on order-select an anticoagulate card is silenced only by an anticoagulant: card shown.",
         rows=["§1 order-select: anticoagulate <-> anticoagulant draft only"], cards=[ANTICOAG_UNPROV])
    case(cat, "select-only-selected-drafts-count", "order-select", "pt-dr-unsel", "Nerine", "1976-05-05", "female",
         drafts=lambda b: [b.cbc_order(), b.draft_apixaban()], sel=["ServiceRequest/draft-lab"],
         story="Anticoagulate patient; an apixaban draft sits in the order session but the clinician has selected "
               "only a blood count: order-select looks at the selected drafts, so the card is shown.",
         rows=["§1 order-select considers the selected drafts only"], cards=[ANTICOAG_UNPROV])
    case(cat, "select-prophylactic-enoxaparin-does-not-silence", "order-select", "pt-dr-proph", "Oleander",
         "1962-06-06", "male", code="I82.462", side="left",
         encounters=lambda b: [b.encounter("enc-adm", "IMP", "in-progress", "2026-11-18T15:00:00Z",
                                           reason=("L03.116", "Cellulitis of left lower limb")), b.old_visit()],
         encounter_id="enc-adm",
         drafts=lambda b: [b.draft_enoxaparin(mg=40, freq=1, reason_ref=None)],
         sel=["MedicationRequest/draft-1"],
         story="64-year-old man admitted with cellulitis, left gastrocnemius thrombosis found, positive D-dimer; "
               "the selected draft is prophylactic enoxaparin 40 mg once daily, which is not a plan for the DVT: "
               "anticoagulate card shown (inpatient, positive D-dimer).",
         rows=["§1 prophylactic enoxaparin draft does not silence", "§2 inpatient", "§4 anticoagulate"],
         cards=[strat("anticoagulate", "warning", ["inpatient", "positive-d-dimer"], "low", muscular=True)])
    case(cat, "select-enoxaparin-without-dose-does-not-silence", "order-select", "pt-dr-nodose", "Primrose",
         "1976-07-07", "female",
         drafts=lambda b: [b.med("draft-1", "enoxaparin", "enoxaparin injectable solution", status="draft",
                                 reason_ref="Condition/dvt-1")],
         sel=["MedicationRequest/draft-1"],
         story="Anticoagulate patient; the selected enoxaparin draft has no dose yet (order form just opened), so "
               "therapeutic vs prophylactic cannot be told: it does not silence the card.",
         rows=["decision 4 undetermined enoxaparin draft does not silence"], cards=[ANTICOAG_UNPROV])
    case(cat, "sign-rivaroxaban-draft-silences", "order-sign", "pt-dr-sign-riva", "Quamash", "1976-08-08", "male",
         drafts=lambda b: [b.cbc_order(), b.draft_rivaroxaban()],
         story="Anticoagulate patient signing a blood count and a 3-month rivaroxaban order (eGFR 88): a plan "
               "exists, no safety issue: no card.",
         rows=["§1 order-sign: any anticoagulant draft silences"], cards=[])
    case(cat, "sign-duplex-draft-silences-anticoagulate", "order-sign", "pt-dr-sign-dup", "Reed", "1976-09-09",
         "female", drafts=lambda b: [b.duplex_order("draft-duplex", "right", occurrence="2026-11-26")],
         story="Anticoagulate patient for whom the clinician signs a repeat duplex instead: on order-sign any "
               "duplex draft counts as a plan (the safety net is for 'no plan at all'): no card.",
         rows=["§1 order-sign: any duplex draft silences, whatever the recommendation"], cards=[])
    case(cat, "sign-unrelated-drafts-card-shown", "order-sign", "pt-dr-sign-none", "Saffron", "1976-10-10", "male",
         drafts=lambda b: [b.cbc_order(), b.draft_acetaminophen("draft-2"),
                           b.lab_order("draft-bmp", "51990-0", "Basic metabolic panel - Blood")],
         story="Anticoagulate patient whose clinician is signing a blood count, a metabolic panel and "
               "acetaminophen but no anticoagulant or duplex: the safety-net card is shown (warning).",
         rows=["§1 order-sign with no plan among the drafts", "§4 anticoagulate"], cards=[ANTICOAG_UNPROV])
    case(cat, "select-rivaroxaban-silences-individualize", "order-select", "pt-dr-indiv", "Thistle", "1946-11-30",
         "male", labs=lambda b: b.baseline(egfr=58, weight=(75, "kg")),
         drafts=lambda b: [b.draft_rivaroxaban()], sel=["MedicationRequest/draft-1"],
         story="79-year-old man (high bleeding risk) with an unprovoked DVT and positive D-dimer (individualize); "
               "after shared decision-making the clinician selects rivaroxaban: individualize is silenced by "
               "either option; eGFR 58, no safety issue.",
         rows=["§1 order-select: individualize silenced by an anticoagulant or a duplex draft"], cards=[])
    case(cat, "sign-apixaban-silences-serial-imaging", "order-sign", "pt-dr-sign-si", "Umbrella", "1984-12-12",
         "female", provoke="injury", dd_pos=False, drafts=lambda b: [b.draft_apixaban()],
         story="Serial-imaging patient (Achilles strain) whose clinician chose and signs apixaban: on order-sign "
               "any anticoagulant draft is a plan: no card (unlike order-select, where the serial-imaging card "
               "stays).", rows=["§1 order-sign: any anticoagulant draft silences"], cards=[])


def order_safety():
    cat = "order-safety"
    PREG = lambda b: pregnancy_condition(b, onset="2026-05-01")
    case(cat, "pregnancy-rivaroxaban-critical", "order-select", "pt-os-preg-riva", "Verbena", "1994-04-14", "female",
         conds=[PREG], us={"length": (6.0, "cm")}, dd_pos=False,
         labs=lambda b: b.baseline(hgb=11.5, weight=(70, "kg")),
         drafts=lambda b: [b.draft_rivaroxaban()], sel=["MedicationRequest/draft-1"],
         story="32-year-old pregnant woman with a 6 cm right gastrocnemius thrombus (anticoagulate); the selected "
               "draft is rivaroxaban: pregnancy-anticoagulant (critical): delete it and order enoxaparin. The "
               "stratification card is silenced by the therapeutic draft; the safety card carries the correction.",
         rows=["§5 pregnancy-anticoagulant (critical)", "decision 2 delete + create enoxaparin",
               "§1 a therapeutic draft silences even if a safety check fires"],
         cards=[safety("pregnancy-anticoagulant", "critical", ["MedicationRequest/draft-1"],
                       [{"isRecommended": True, "actions": ["delete MedicationRequest/draft-1",
                                                             "create MedicationRequest enoxaparin"]}])])
    case(cat, "pregnancy-serial-imaging-selected-warfarin", "order-select", "pt-os-preg-warf", "Wintergreen",
         "1992-05-15", "female", conds=[PREG], dd_pos=False, code="I82.462", side="left",
         labs=lambda b: b.baseline(hgb=11.8, weight=(66, "kg")),
         drafts=lambda b: [b.draft_warfarin()], sel=["MedicationRequest/draft-1"],
         story="Pregnant woman with a small left calf thrombus and no extension factor (serial imaging) for whom "
               "warfarin is selected: the serial-imaging card stays (warning in pregnancy) and the "
               "pregnancy-anticoagulant card (critical) asks to replace warfarin with enoxaparin.",
         rows=["§1 serial-imaging not silenced by a selected anticoagulant", "decision 3/7 warning in pregnancy",
               "§5 pregnancy-anticoagulant (warfarin)"],
         cards=[strat("serial-imaging", "warning", [], "low", sp=["pregnancy"], muscular=True, lat="left"),
                safety("pregnancy-anticoagulant", "critical", ["MedicationRequest/draft-1"],
                       [{"isRecommended": True, "actions": ["delete MedicationRequest/draft-1",
                                                             "create MedicationRequest enoxaparin"]}])])
    case(cat, "renal-doac-rivaroxaban-egfr-22", "order-sign", "pt-os-riva22", "Xerophyllum", "1965-06-16", "male",
         labs=lambda b: b.baseline(egfr=22, weight=(84, "kg")), drafts=lambda b: [b.draft_rivaroxaban()],
         story="61-year-old man, eGFR 22, signing rivaroxaban for his calf DVT: renal-doac warning (rivaroxaban "
               "avoided below 30): replace with apixaban; the stratification card is silenced by the draft.",
         rows=["§5 renal-doac warning (rivaroxaban < 30)", "decision 2 delete + first renal-appropriate regimen"],
         cards=[safety("renal-doac", "warning", ["MedicationRequest/draft-1"],
                       [{"isRecommended": True, "actions": ["delete MedicationRequest/draft-1",
                                                             "create MedicationRequest apixaban"]}])])
    case(cat, "renal-doac-apixaban-on-dialysis", "order-select", "pt-os-apix-hd", "Yucca", "1960-07-17", "female",
         conds=[lambda b: b.icd("cond-esrd", "N18.6", "End stage renal disease", onset="2021-01-01",
                                recorded="2021-01-01"),
                lambda b: b.icd("cond-hd", "Z99.2", "Dependence on renal dialysis", onset="2021-02-01",
                                recorded="2021-02-01")],
         labs=lambda b: b.baseline(egfr=None, hgb=10.4, weight=(61, "kg")),
         drafts=lambda b: [b.draft_apixaban()], sel=["MedicationRequest/draft-1"],
         story="66-year-old woman on haemodialysis with an unprovoked calf DVT; apixaban is selected: renal-doac "
               "warning (apixaban avoided on dialysis): replace with warfarin.",
         rows=["§5 renal-doac warning (apixaban < 15 or dialysis)", "decision 2 < 15/dialysis -> warfarin"],
         cards=[safety("renal-doac", "warning", ["MedicationRequest/draft-1"],
                       [{"isRecommended": True, "actions": ["delete MedicationRequest/draft-1",
                                                             "create MedicationRequest warfarin"]}])])
    case(cat, "renal-doac-unknown-renal-function-info", "order-sign", "pt-os-norenal", "Zenobia", "1966-08-18",
         "male", labs=lambda b: b.baseline(egfr=None, weight=(90, "kg")), drafts=lambda b: [b.draft_apixaban()],
         story="60-year-old man with no creatinine clearance or eGFR in 90 days signing apixaban: renal-doac info "
               "('check renal function'), no suggestion.",
         rows=["§5 renal-doac info when renal function is unknown", "decision 2 no suggestions"],
         cards=[safety("renal-doac", "info", ["MedicationRequest/draft-1"])])
    case(cat, "renal-apixaban-egfr-22-no-check", "order-select", "pt-os-apix22", "Arnica", "1965-09-19", "female",
         labs=lambda b: b.baseline(egfr=22, weight=(70, "kg")), drafts=lambda b: [b.draft_apixaban()],
         sel=["MedicationRequest/draft-1"],
         story="61-year-old woman, eGFR 22, selects apixaban: apixaban's threshold is < 15 or dialysis, so no "
               "renal-doac card; the selected anticoagulant silences the stratification card: no card.",
         rows=["§5 renal-doac thresholds per drug (apixaban < 15)"], cards=[])
    case(cat, "duplicate-active-warfarin-draft-apixaban", "order-sign", "pt-os-dup-warf", "Bergamot", "1951-10-20",
         "male",
         meds=[lambda b: b.med("mr-warf", "warfarin", "warfarin sodium 5 mg oral tablet", authored="2022-03-03",
                               dose=(5, "mg"), freq=1, reason_code=("I48.20", "Chronic atrial fibrillation, unspecified"),
                               dosage_text="Dose per INR clinic")],
         drafts=lambda b: [b.draft_apixaban()],
         story="75-year-old man on warfarin for atrial fibrillation (already managed: no stratification card) whose "
               "ED doctor drafts apixaban for the calf DVT: duplicate-anticoagulant warning, no suggestion.",
         rows=["§1 already managed (active warfarin)", "§5 duplicate-anticoagulant (different ingredient active)",
               "decision 5 safety checks run when the card is suppressed"],
         cards=[safety("duplicate-anticoagulant", "warning", ["MedicationRequest/draft-1"])])
    case(cat, "bridge-enoxaparin-warfarin-not-duplicate", "order-sign", "pt-os-bridge", "Calendula", "1970-11-21",
         "female", labs=lambda b: b.baseline(weight=(80, "kg")),
         drafts=lambda b: [b.draft_enoxaparin(mg=80, freq=2) | {"dosageInstruction": [{
             "text": "80 mg (1 mg/kg) subcutaneously every 12 hours until INR >= 2 for 24 hours (at least 5 days)",
             "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
             "route": cc(SCT, "34206005", "Subcutaneous route"), "doseAndRate": [{"doseQuantity": qty(80, "mg")}]}]},
             b.draft_warfarin("draft-2")],
         story="Anticoagulate patient signing enoxaparin 1 mg/kg every 12 h plus warfarin: the expected LMWH "
               "bridge, not a duplicate; the enoxaparin has no explicit total duration; the drafts silence the "
               "stratification card: no card.",
         rows=["§5 duplicate-anticoagulant excludes the LMWH + warfarin bridge", "§1 order-sign silenced"], cards=[])
    case(cat, "duplicate-two-doac-drafts", "order-select", "pt-os-dup2", "Dittany", "1975-12-22", "male",
         drafts=lambda b: [b.draft_apixaban(), b.draft_rivaroxaban("draft-2")],
         sel=["MedicationRequest/draft-1", "MedicationRequest/draft-2"],
         story="Order set left both apixaban and rivaroxaban selected: duplicate-anticoagulant warning naming both "
               "drafts; the stratification card is silenced.",
         rows=["§5 duplicate-anticoagulant (two drafts)"],
         cards=[safety("duplicate-anticoagulant", "warning", ["MedicationRequest/draft-1",
                                                             "MedicationRequest/draft-2"])])
    case(cat, "duplicate-undosed-enoxaparin-with-active-apixaban", "order-select", "pt-os-dup-nodose", "Echinacea",
         "1968-01-23", "female",
         meds=[lambda b: b.med("mr-apix", "apixaban", "apixaban 5 mg oral tablet", authored="2026-11-19T16:00:00Z",
                               dose=(10, "mg"), freq=2, bounds=(3, "mo"), reason_ref="Condition/dvt-1")],
         drafts=lambda b: [b.med("draft-1", "enoxaparin", "enoxaparin injectable solution", status="draft",
                                 reason_ref="Condition/dvt-1")],
         sel=["MedicationRequest/draft-1"],
         story="Patient started on apixaban yesterday (already managed) for whom the admitting team selects "
               "enoxaparin without a dose yet: undetermined enoxaparin counts as therapeutic for the duplicate "
               "check: duplicate-anticoagulant warning.",
         rows=["decision 4 undetermined enoxaparin counts as therapeutic for duplicates",
               "§5 duplicate-anticoagulant"],
         cards=[safety("duplicate-anticoagulant", "warning", ["MedicationRequest/draft-1"])])
    case(cat, "short-duration-30-days", "order-select", "pt-os-short30", "Fumitory", "1979-02-24", "male",
         drafts=lambda b: [b.draft_apixaban(bounds=(30, "d"))], sel=["MedicationRequest/draft-1"],
         story="Apixaban selected with boundsDuration 30 days for the calf DVT: short-duration info, suggestion "
               "to update the draft to 3 months; the stratification card is silenced.",
         rows=["§5 short-duration (< 90 days)", "decision 2 update suggestion"],
         cards=[safety("short-duration", "info", ["MedicationRequest/draft-1"],
                       [{"isRecommended": True, "actions": ["update MedicationRequest/draft-1"]}])])
    case(cat, "short-duration-expected-supply-28-days", "order-sign", "pt-os-supply28", "Gentian", "1979-03-25",
         "female",
         drafts=lambda b: [b.med("draft-1", "apixaban", "apixaban 5 mg oral tablet", status="draft", dose=(10, "mg"),
                                 freq=2, route=b.ORAL, reason_ref="Condition/dvt-1", supply=28, repeats=0,
                                 dosage_text="10 mg twice daily for 7 days, then 5 mg twice daily")],
         story="Apixaban signed with a 28-day supply and no refills (dispenseRequest.expectedSupplyDuration) and no "
               "other duration: short-duration info.",
         rows=["§5 short-duration via dispenseRequest.expectedSupplyDuration"],
         cards=[safety("short-duration", "info", ["MedicationRequest/draft-1"],
                       [{"isRecommended": True, "actions": ["update MedicationRequest/draft-1"]}])])
    case(cat, "short-duration-other-indication-not-flagged", "order-sign", "pt-os-af30", "Hellebore", "1958-04-26",
         "male", provoke="injury", dd_pos=False,
         conds=[lambda b: b.icd("cond-af", "I48.91", "Unspecified atrial fibrillation", onset="2026-11-20",
                                recorded="2026-11-20T10:00:00Z")],
         srs=[lambda b: b.duplex_order("sr-duplex-dx", "right", status="completed", authored="2026-11-20T08:10:00Z",
                                       reason_ref=None),
              lambda b: b.duplex_order("sr-duplex-fu", "right", status="active", occurrence="2026-11-26",
                                       authored="2026-11-20T10:30:00Z")],
         drafts=lambda b: [b.draft_apixaban(bounds=(30, "d"), reason_ref="Condition/cond-af",
                                            reason_code=("I48.91", "Unspecified atrial fibrillation"))],
         story="68-year-old man on a serial-imaging plan (follow-up duplex booked: already managed) who develops "
               "atrial fibrillation; apixaban for 30 days around cardioversion is reasoned to AF, so short-duration "
               "does not fire: no card.",
         rows=["§5 short-duration skips drafts reasoned to another indication", "§1 already managed (follow-up duplex)"],
         cards=[])
    case(cat, "unselected-rivaroxaban-not-checked", "order-select", "pt-os-unsel", "Iberis", "1964-05-27", "female",
         labs=lambda b: b.baseline(egfr=22, weight=(73, "kg")),
         drafts=lambda b: [b.cbc_order(), b.draft_rivaroxaban()], sel=["ServiceRequest/draft-lab"],
         story="62-year-old woman, eGFR 22, with a rivaroxaban draft in the session that is not selected (only the "
               "blood count is): order-select checks the selected drafts only, so no renal-doac card; the "
               "anticoagulate card (renal-impairment list: apixaban, enoxaparin) is shown.",
         rows=["§5 order-select checks the selected drafts", "§3 renal-failure -> moderate", "§4 renal < 30 list"],
         cards=[strat("anticoagulate", "warning", ["positive-d-dimer", "unprovoked"], "moderate", ["renal-failure"],
                      sp=["renal-impairment"], muscular=True, sugg=regimens("apixaban", "enoxaparin"))])


# =====================================================================================================
# messy/
# =====================================================================================================
def oo(severity, code, text):
    return {"resourceType": "OperationOutcome",
            "issue": [{"severity": severity, "code": code, "diagnostics": text}]}


def messy():
    cat = "messy"

    b = P("pt-ms-oo")
    fixture(cat, "operationoutcome-entries-in-bundles", "order-sign", b, b.patient("Juniperberry", "1973-03-03", "male"),
            story="Unprovoked left soleal DVT with positive D-dimer; the EHR's search Bundles carry OperationOutcome "
                  "entries (search.mode outcome, and one without search), an included Practitioner and a paging "
                  "link: these are skipped, never fatal: anticoagulate as usual.",
            rows=["contract: OperationOutcome / search.mode outcome entries are skipped", "§4 anticoagulate"],
            conditions=[dvt(b, "I82.462", ["soleal"], "left")],
            observations=[b.ddimer_feu(1.7, interp="H"), *b.baseline(),
                          *b.ultrasound(length=(3.4, "cm"), diameter=(5, "mm"), veins=1, named=["soleal"],
                                        distance=(9, "cm"))],
            extra_entries={
                "observations": [{"fullUrl": "urn:uuid:6a0f3c52-0d5e-4c8e-9f39-1d2a8a9f6b10",
                                  "resource": oo("warning", "too-costly", "Results limited to the last 2 years"),
                                  "search": {"mode": "outcome"}}],
                "conditions": [{"resource": oo("information", "informational",
                                               "Conditions from the external HIE were not included")}],
                "medications": [{"fullUrl": "urn:uuid:1b3c4d7e-2f9a-4e61-8c0d-5a7b9e2c3f41",
                                 "resource": oo("error", "forbidden", "Access to sensitive medication orders denied"),
                                 "search": {"mode": "outcome"}},
                                {"fullUrl": f"{FHIR}/Practitioner/prac-pcp-7",
                                 "resource": {"resourceType": "Practitioner", "id": "prac-pcp-7",
                                              "name": [{"family": "Doctor", "given": ["Example"]}]},
                                 "search": {"mode": "include"}}],
            },
            medications=[b.med("mr-omep", "omeprazole", "omeprazole 20 mg delayed release oral capsule",
                               authored="2024-04-04", dose=(20, "mg"), freq=1)],
            drafts=[b.cbc_order()],
            cards=[strat("anticoagulate", "warning", ["positive-d-dimer", "unprovoked"], "low", muscular=True)])

    # unknown resource types and many extensions
    b = P("pt-ms-ext")
    pat = b.patient("Kinnikinnick", "1977-04-04", "female", extra={
        "extension": [
            {"url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race",
             "extension": [{"url": "ombCategory", "valueCoding": coding("urn:oid:2.16.840.1.113883.6.238", "2106-3",
                                                                         "White")},
                           {"url": "text", "valueString": "White"}]},
            {"url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity",
             "extension": [{"url": "ombCategory", "valueCoding": coding("urn:oid:2.16.840.1.113883.6.238", "2186-5",
                                                                         "Not Hispanic or Latino")},
                           {"url": "text", "valueString": "Not Hispanic or Latino"}]},
            {"url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex", "valueCode": "F"},
            {"url": "https://ehr.example.org/fhir/StructureDefinition/preferred-pharmacy",
             "valueReference": {"display": "Example Pharmacy #12"}}],
        "_birthDate": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime",
                                      "valueDateTime": "1977-04-04T06:12:00-05:00"}]}})
    conds, meds, prow = provoker(b, "estrogen")
    d = dvt(b, "I82.461", ["gastrocnemius"], "right")
    d["extension"] = [{"url": "https://ehr.example.org/fhir/StructureDefinition/problem-rank", "valueInteger": 1},
                      {"url": "https://ehr.example.org/fhir/StructureDefinition/entered-by-department",
                       "valueString": "Emergency"}]
    d["code"]["coding"][0]["extension"] = [{"url": "https://ehr.example.org/fhir/StructureDefinition/coding-source",
                                            "valueString": "IMO"}]
    d["meta"] = {"profile": ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-condition-encounter-diagnosis"],
                 "tag": [{"system": "https://ehr.example.org/tags", "code": "ed-dx"}]}
    us_obs = b.ultrasound(length=(2.6, "cm"), diameter=(4, "mm"), veins=1, named=["gastrocnemius"], distance=(10, "cm"))
    for o in us_obs:
        o["extension"] = [{"url": "https://ris.example.org/fhir/StructureDefinition/accession",
                           "valueString": "ACC-2026-118833"}]
    dd = b.ddimer_feu(0.31, interp="N")
    dd["valueQuantity"]["extension"] = [{"url": "https://lis.example.org/fhir/StructureDefinition/instrument",
                                         "valueString": "Analyzer 3"}]
    fixture(cat, "unknown-resource-types-and-extensions", "order-select", b, pat,
            story="49-year-old woman on estradiol (provoked), small right gastrocnemius thrombus, negative D-dimer; "
                  "resources carry many extensions (US Core, local, on primitives and codings) and the Bundles hold "
                  "resource types the service does not read (Basic, Flag, DocumentReference, Task): all ignored: "
                  "serial imaging (info).",
            rows=["contract: unknown extensions and resource types ignored", prow, "§4 serial-imaging"],
            conditions=[d, *conds,
                        {"resourceType": "Flag", "id": "flag-fall", "status": "active",
                         "code": {"text": "Interpreter needed"}, "subject": b.subject},
                        {"resourceType": "Basic", "id": "basic-1",
                         "code": {"coding": [{"system": "https://ehr.example.org/basic", "code": "advance-directive"}]},
                         "subject": b.subject}],
            observations=[dd, *b.baseline(weight=(65, "kg")), *us_obs,
                          {"resourceType": "DocumentReference", "id": "doc-us-report", "status": "current",
                           "type": cc(LOINC, "18748-4", "Diagnostic imaging study"), "subject": b.subject,
                           "content": [{"attachment": {"contentType": "text/plain",
                                                       "data": "UmlnaHQgZ2FzdHJvY25lbWl1cyB2ZWluIHRocm9tYnVzLg=="}}]}],
            medications=meds,
            service_requests=[b.duplex_order("sr-duplex-dx", "right", status="completed",
                                             authored="2026-11-20T08:10:00Z", reason_ref=None),
                              {"resourceType": "Task", "id": "task-1", "status": "requested", "intent": "order",
                               "for": b.subject, "description": "Call patient with results"}],
            drafts=[b.draft_acetaminophen()], selections=["MedicationRequest/draft-1"],
            cards=[strat("serial-imaging", "info", [], "low", muscular=True, lat="right")])

    # malformed resources next to good ones
    b = P("pt-ms-broken")
    bad_weight = b.weight(82, "kg")
    bad_weight["valueQuantity"]["value"] = "82"
    fixture(cat, "malformed-resources-next-to-good-ones", "order-sign", b,
            b.patient("Lavender", "1974-05-05", "male"),
            story="Unprovoked right peroneal DVT with positive D-dimer, among broken resources: an Observation with "
                  "neither code nor status, a Condition without code, an active MedicationRequest without a "
                  "medication, and the only weight with its value as a string. Each bad resource loses only its own "
                  "facts: anticoagulate, body-weight missing.",
            rows=["contract: one unreadable resource makes its own facts unknown", "§3 body-weight missing",
                  "§4 anticoagulate"],
            conditions=[dvt(b, "I82.451", ["peroneal"], "right"),
                        {"resourceType": "Condition", "id": "cond-nocode",
                         "clinicalStatus": cc("http://terminology.hl7.org/CodeSystem/condition-clinical", "active"),
                         "subject": b.subject, "note": [{"text": "see scanned outside record"}]}],
            observations=[b.ddimer_feu(1.3, interp="H"), *b.baseline(weight=None), bad_weight,
                          {"resourceType": "Observation", "id": "obs-garbage", "subject": b.subject,
                           "effectiveDateTime": "2026-11-20T11:00:00Z",
                           "valueQuantity": {"value": 9.9, "unit": "mg/L", "system": UCUM, "code": "mg/L"}},
                          *b.ultrasound(length=(3.2, "cm"), diameter=(6, "mm"), veins=1, named=["peroneal"],
                                        distance=(8, "cm"))],
            medications=[{"resourceType": "MedicationRequest", "id": "mr-nomed", "status": "active", "intent": "order",
                          "subject": b.subject, "authoredOn": "2025-01-01"}],
            drafts=[b.cbc_order()],
            cards=[strat("anticoagulate", "warning", ["positive-d-dimer", "unprovoked"], "low", missing=["body-weight"],
                         muscular=False)])

    # ICD-10 codes without the dot, laterality as a separate bodySite entry
    b = P("pt-ms-nodot")
    fixture(cat, "icd10-without-dot-separate-laterality", "order-select", b,
            b.patient("Mugwort", "1969-06-06", "male"),
            story="Left peroneal DVT coded 'I82452' (no dot) with the vein and the laterality as separate bodySite "
                  "entries, and a past DVT coded 'Z86718': both recognised: prior-vte, positive D-dimer, unprovoked: "
                  "anticoagulate.",
            rows=["terminology: ICD-10-CM with or without the dot", "§2 prior-vte (Z86.718)", "§4 anticoagulate"],
            conditions=[dvt(b, "I82452", ["peroneal"], "left"),
                        b.icd("cond-hx-dvt", "Z86718", "Personal history of other venous thrombosis and embolism",
                              onset="2016-01-01", recorded="2016-05-05")],
            observations=[b.ddimer_feu(2.2, interp="H"), *b.baseline(),
                          *b.ultrasound(length=(3.3, "cm"), diameter=(6, "mm"), veins=1, named=["peroneal"],
                                        distance=(8, "cm"))],
            drafts=[b.draft_acetaminophen()], selections=["MedicationRequest/draft-1"],
            cards=[strat("anticoagulate", "warning", ["prior-vte", "positive-d-dimer", "unprovoked"], "low",
                         muscular=False)])

    # partial birthDates
    for name, pid, given, bd, side, code, card, story in [
        ("partial-birthdate-year-only", "pt-ms-year", "Nasturtium", "1950", "right", "I82.461",
         strat("anticoagulate", "warning", ["positive-d-dimer", "unprovoked"], "moderate", ["age-over-65"],
               muscular=True),
         "Patient with birthDate '1950' only: youngest possible age on 2026-11-20 is 75 ('at least'), so "
         "age-over-65 (moderate), not age-over-75; unprovoked with positive D-dimer: anticoagulate."),
        ("partial-birthdate-year-month", "pt-ms-month", "Orache", "1950-10", "left", "I82.462",
         strat("individualize", "warning", ["positive-d-dimer", "unprovoked"], "high", ["age-over-75"],
               muscular=True, lat="left"),
         "Patient with birthDate '1950-10': even if born on 31 October, 76 on 2026-11-20, so age-over-75 (counts 2, "
         "high); unprovoked with positive D-dimer: individualize."),
    ]:
        b = P(pid)
        fixture(cat, name, "order-sign", b, b.patient(given, bd, "female"), story=story,
                rows=["§0 partial birthDate -> youngest possible age ('at least')", "§3 age factor", "§4"],
                conditions=[dvt(b, code, ["gastrocnemius"], side)],
                observations=[b.ddimer_feu(1.6, interp="H"), *b.baseline(),
                              *b.ultrasound(length=(3.0, "cm"), diameter=(5, "mm"), veins=1, named=["gastrocnemius"],
                                            distance=(9, "cm"))],
                drafts=[b.cbc_order()], cards=[card])

    # ambiguous code (I82.40-) with a distal-only bodySite: in scope; laterality as a second coding
    b = P("pt-ms-ambig")
    fixture(cat, "ambiguous-code-with-distal-bodysite", "order-select", b, b.patient("Purslane", "1989-07-07", "female"),
            story="DVT coded I82.409 (unspecified deep veins, unspecified leg) but bodySite 'left posterior tibial "
                  "vein' (laterality as a second coding of the vein's entry): distal-only site, so an index DVT; left "
                  "ankle sprain 2 weeks ago (provoked), nothing else: serial imaging of the left leg.",
            rows=["§1 ambiguous class with distal-only bodySite -> index DVT", "terminology: laterality as second coding",
                  "§2 unprovoked absent (injury)", "§4 serial-imaging"],
            conditions=[dvt(b, "I82.409", ["posterior-tibial"], "left", combined=True),
                        b.icd("cond-sprain", "S93.402A", "Sprain of unspecified ligament of left ankle, initial "
                              "encounter", category="encounter-diagnosis", onset="2026-11-05",
                              recorded="2026-11-05T12:00:00Z")],
            observations=[b.ddimer_feu(0.38, interp="N"), *b.baseline(weight=(59, "kg")),
                          *b.ultrasound(length=(2.3, "cm"), diameter=(4, "mm"), veins=1, named=["posterior-tibial"],
                                        distance=(10, "cm"))],
            drafts=[b.draft_acetaminophen()], selections=["MedicationRequest/draft-1"],
            cards=[strat("serial-imaging", "info", [], "low", muscular=False, lat="left")])

    # SNOMED DVT without bodySite; the vein comes from the ultrasound finding; laterality unknown -> both legs
    b = P("pt-ms-sct")
    conds, meds, prow = provoker(b, "estrogen")
    fixture(cat, "snomed-dvt-vein-from-findings-laterality-unknown", "order-sign", b,
            b.patient("Quillwort", "1972-08-08", "female"),
            story="SNOMED 'DVT of lower extremity' (404223003) without bodySite; the duplex names only the soleal vein "
                  "(vein-involved), so it is an index DVT (muscular only); no laterality anywhere on the Condition, so "
                  "the repeat duplex covers both legs; estradiol (provoked), negative D-dimer: serial imaging.",
            rows=["§1 SNOMED DVT + vein-involved findings naming only distal veins", "§4 laterality unknown -> both",
                  prow, "§4 serial-imaging"],
            conditions=[dvt(b, "404223003", [], None, system=SCT), *conds],
            observations=[b.ddimer_feu(0.29, interp="N"), *b.baseline(weight=(64, "kg")),
                          *b.ultrasound(length=(2.2, "cm"), diameter=(4, "mm"), veins=1, named=["soleal"],
                                        distance=(11, "cm"))],
            medications=meds, drafts=[b.cbc_order()],
            cards=[strat("serial-imaging", "warning", [], "low", muscular=True, lat="both")])

    # several results of one kind: the most recent in the window decides
    b = P("pt-ms-recent")
    conds, meds, prow = provoker(b, "mobility")
    fixture(cat, "most-recent-result-decides", "order-sign", b, b.patient("Rampion", "1966-09-09", "male"),
            story="Man with reduced mobility (provoked): D-dimer negative on 11-10 then positive today (today's "
                  "decides); eGFR 24 during an AKI in September, 61 today (no renal impairment); haemoglobin 9.0 on "
                  "11-01 then 12.8 today (no anaemia): anticoagulate with the default regimens.",
            rows=["§0 most recent result in its window decides", prow, "§2 positive-d-dimer", "§4 anticoagulate"],
            conditions=[dvt(b, "I82.451", ["peroneal"], "right"), *conds],
            observations=[b.ddimer_feu(0.3, interp="N", effective="2026-11-10T10:00:00Z", oid="lab-ddimer-old"),
                          b.ddimer_feu(1.2, interp="H"),
                          b.egfr(24, "2026-09-01T06:00:00Z", oid="lab-egfr-aki"),
                          b.hemoglobin(9.0, effective="2026-11-01T06:00:00Z", oid="lab-hgb-old"),
                          *b.baseline(egfr=61, hgb=12.8),
                          *b.ultrasound(length=(3.0, "cm"), diameter=(5, "mm"), veins=1, named=["peroneal"],
                                        distance=(9, "cm"))],
            drafts=[b.cbc_order()],
            cards=[strat("anticoagulate", "warning", ["positive-d-dimer"], "low", muscular=False)])

    # clock skew
    b = P("pt-ms-skew")
    conds, meds, prow = provoker(b, "injury")
    fixture(cat, "clock-skew-future-dated-results", "order-select", b, b.patient("Samphire", "1985-10-10", "male"),
            story="Achilles strain (provoked). A repeat D-dimer stamped 8 h after now (clock skew, <= 24 h) counts as "
                  "dated now and is the most recent (positive); a platelet count stamped 2 days ahead (62) is ignored, "
                  "the morning count (230) stands: anticoagulate, low.",
            rows=["§0 up to 24 h after now counts as now; later is ignored", prow, "§2 positive-d-dimer",
                  "§4 anticoagulate"],
            conditions=[dvt(b, "I82.461", ["gastrocnemius"], "right"), *conds],
            observations=[b.ddimer_feu(0.3, interp="N", oid="lab-ddimer-am"),
                          b.ddimer_feu(1.1, interp="H", effective="2026-11-20T20:00:00Z", oid="lab-ddimer-repeat"),
                          *b.baseline(plt=230),
                          b.platelets(62, effective="2026-11-22T09:00:00Z", oid="lab-plt-future"),
                          *b.ultrasound(length=(3.0, "cm"), diameter=(5, "mm"), veins=1, named=["gastrocnemius"],
                                        distance=(9, "cm"))],
            drafts=[b.draft_acetaminophen()], selections=["MedicationRequest/draft-1"],
            cards=[strat("anticoagulate", "warning", ["positive-d-dimer"], "low", muscular=True)])


if __name__ == "__main__":
    recommendation()
    boundaries()
    special()
    missing()
    units()
    out_of_scope()
    already_managed()
    drafts()
    order_safety()
    messy()
    write_all()
