//! `medications.toml`: ingredients and the RxNorm codes (ingredient, SCD, SBD) that map to
//! them, prophylactic dose limits, renal policy, and the regimens the service drafts.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use super::{ConfigError, read_toml};

pub const RXNORM: &str = "http://www.nlm.nih.gov/research/umls/rxnorm";

/// Ingredients the rules know (`terminology.md`, Medications).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ingredient {
    Apixaban,
    Rivaroxaban,
    Edoxaban,
    Dabigatran,
    Warfarin,
    Enoxaparin,
    Dalteparin,
    Tinzaparin,
    Heparin,
    Fondaparinux,
    Aspirin,
    Clopidogrel,
    Prasugrel,
    Ticagrelor,
    Ibuprofen,
    Naproxen,
    Diclofenac,
    Celecoxib,
    Ketorolac,
    Meloxicam,
    Indomethacin,
    Estradiol,
    EthinylEstradiol,
}

impl Ingredient {
    pub fn name(self) -> &'static str {
        match self {
            Ingredient::Apixaban => "apixaban",
            Ingredient::Rivaroxaban => "rivaroxaban",
            Ingredient::Edoxaban => "edoxaban",
            Ingredient::Dabigatran => "dabigatran",
            Ingredient::Warfarin => "warfarin",
            Ingredient::Enoxaparin => "enoxaparin",
            Ingredient::Dalteparin => "dalteparin",
            Ingredient::Tinzaparin => "tinzaparin",
            Ingredient::Heparin => "heparin",
            Ingredient::Fondaparinux => "fondaparinux",
            Ingredient::Aspirin => "aspirin",
            Ingredient::Clopidogrel => "clopidogrel",
            Ingredient::Prasugrel => "prasugrel",
            Ingredient::Ticagrelor => "ticagrelor",
            Ingredient::Ibuprofen => "ibuprofen",
            Ingredient::Naproxen => "naproxen",
            Ingredient::Diclofenac => "diclofenac",
            Ingredient::Celecoxib => "celecoxib",
            Ingredient::Ketorolac => "ketorolac",
            Ingredient::Meloxicam => "meloxicam",
            Ingredient::Indomethacin => "indomethacin",
            Ingredient::Estradiol => "estradiol",
            Ingredient::EthinylEstradiol => "ethinyl estradiol",
        }
    }

    pub fn class(self) -> DrugClass {
        use Ingredient::*;
        match self {
            Apixaban | Rivaroxaban | Edoxaban | Dabigatran => DrugClass::Doac,
            Warfarin => DrugClass::Vka,
            Enoxaparin | Dalteparin | Tinzaparin => DrugClass::Lmwh,
            Heparin | Fondaparinux => DrugClass::OtherParenteral,
            Aspirin | Clopidogrel | Prasugrel | Ticagrelor => DrugClass::Antiplatelet,
            Ibuprofen | Naproxen | Diclofenac | Celecoxib | Ketorolac | Meloxicam
            | Indomethacin => DrugClass::Nsaid,
            Estradiol | EthinylEstradiol => DrugClass::Estrogen,
        }
    }

    /// `anticoagulant` = doac ∪ vka ∪ lmwh ∪ other-parenteral.
    pub fn is_anticoagulant(self) -> bool {
        matches!(
            self.class(),
            DrugClass::Doac | DrugClass::Vka | DrugClass::Lmwh | DrugClass::OtherParenteral
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DrugClass {
    Doac,
    Vka,
    Lmwh,
    OtherParenteral,
    Antiplatelet,
    Nsaid,
    Estrogen,
}

/// Prophylactic dose limits: at or under them an order is prophylaxis, not treatment (§1).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ProphylacticLimit {
    /// UCUM unit of the limits (`mg`, `[iU]`).
    pub unit: String,
    pub max_single_dose: f64,
    #[serde(default)]
    pub max_daily_dose: Option<f64>,
    #[serde(default)]
    pub max_doses_per_day: Option<f64>,
    /// Only by this route (`subcutaneous`), when set.
    #[serde(default)]
    pub route: Option<String>,
}

/// Renal policy of one ingredient (`terminology.md`, Renal policy).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RenalPolicy {
    /// Avoid below this eGFR / CrCl (mL/min).
    #[serde(default)]
    pub avoid_below: Option<f64>,
    #[serde(default)]
    pub avoid_on_dialysis: bool,
    /// Reduce to once daily below this (enoxaparin).
    #[serde(default)]
    pub once_daily_below: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RegimenId {
    Apixaban,
    Rivaroxaban,
    Enoxaparin,
    Warfarin,
}

/// One phase of a drafted regimen (`dosageInstruction` entry).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RegimenPhase {
    /// Fixed dose, or per kg of body weight (`per-kg = true`).
    #[serde(default)]
    pub dose: Option<f64>,
    #[serde(default)]
    pub per_kg: bool,
    pub unit: String,
    /// Doses per day.
    pub frequency: u32,
    /// Days this phase lasts; the last phase runs to the end of the 3 months.
    #[serde(default)]
    pub days: Option<u32>,
    pub text: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RegimenDefinition {
    pub id: RegimenId,
    pub ingredient: Ingredient,
    /// RxNorm ingredient code and display.
    pub rxnorm: String,
    pub display: String,
    /// SNOMED route code and display.
    pub route_code: String,
    pub route_display: String,
    pub phases: Vec<RegimenPhase>,
    /// Phases used instead when renal function is below the ingredient's `once-daily-below`.
    #[serde(default)]
    pub renal_phases: Vec<RegimenPhase>,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone)]
pub struct MedicationCatalog {
    by_code: HashMap<String, Ingredient>,
    /// Names and brands, lower case, longest first (the first that matches wins).
    names: Vec<(String, Ingredient)>,
    /// The one-word names (letters and digits only), by word: their first place in `names`.
    /// Such a name matches exactly when it is one of the text's words, so a lookup per word
    /// replaces a substring search per name.
    one_word_names: HashMap<String, usize>,
    /// Places in `names` of the other names (several words, punctuation): searched for.
    phrase_names: Vec<usize>,
    pub prophylaxis: HashMap<Ingredient, ProphylacticLimit>,
    pub renal: HashMap<Ingredient, RenalPolicy>,
    pub regimens: Vec<RegimenDefinition>,
    /// Default regimen order (first is recommended).
    pub default_order: Vec<RegimenId>,
    /// Active cancer: regimen order (first is recommended).
    pub cancer_order: Vec<RegimenId>,
    pub postpartum_order: Vec<RegimenId>,
}

impl MedicationCatalog {
    /// Ingredient of an RxNorm code (ingredient, SCD or SBD).
    pub fn by_rxnorm(&self, code: &str) -> Option<Ingredient> {
        self.by_code.get(code.trim()).copied()
    }

    /// Fallback: the ingredient (or brand) named in free text, as a whole word or phrase; of
    /// several, the name first in `names` (the longest).
    pub fn by_name(&self, text: &str) -> Option<Ingredient> {
        let lower = text.to_lowercase();
        let word = lower
            .split(|c: char| !c.is_alphanumeric())
            .filter_map(|w| self.one_word_names.get(w).copied())
            .min();
        let phrase = self
            .phrase_names
            .iter()
            .copied()
            .find(|&i| names_in(&lower, &self.names[i].0));
        word.into_iter()
            .chain(phrase)
            .min()
            .map(|i| self.names[i].1)
    }

    pub fn regimen(&self, id: RegimenId) -> &RegimenDefinition {
        // Every RegimenId has a definition (checked at load).
        self.regimens
            .iter()
            .find(|r| r.id == id)
            .unwrap_or(&self.regimens[0])
    }

    pub fn renal_policy(&self, ing: Ingredient) -> RenalPolicy {
        self.renal.get(&ing).cloned().unwrap_or_default()
    }
}

/// Whether `name` occurs in `text` between word boundaries.
fn names_in(text: &str, name: &str) -> bool {
    text.match_indices(name)
        .any(|(i, _)| word_boundary(text, i, name.len()))
}

/// Index `names` (see `MedicationCatalog::one_word_names`).
fn index_names(names: &[(String, Ingredient)]) -> (HashMap<String, usize>, Vec<usize>) {
    let mut one_word = HashMap::new();
    let mut phrases = Vec::new();
    for (i, (name, _)) in names.iter().enumerate() {
        if !name.is_empty() && name.chars().all(char::is_alphanumeric) {
            one_word.entry(name.clone()).or_insert(i);
        } else {
            phrases.push(i);
        }
    }
    (one_word, phrases)
}

fn word_boundary(s: &str, start: usize, len: usize) -> bool {
    let before = s[..start].chars().next_back();
    let after = s[start + len..].chars().next();
    !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct File {
    ingredient: HashMap<Ingredient, RawIngredient>,
    prophylaxis: HashMap<Ingredient, ProphylacticLimit>,
    renal: HashMap<Ingredient, RenalPolicy>,
    regimen_order: RegimenOrder,
    regimen: Vec<RegimenDefinition>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RegimenOrder {
    default: Vec<RegimenId>,
    active_cancer: Vec<RegimenId>,
    postpartum: Vec<RegimenId>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawIngredient {
    rxnorm: String,
    #[serde(default)]
    products: Vec<String>,
    #[serde(default)]
    names: Vec<String>,
}

pub(super) fn load(file: &Path) -> Result<MedicationCatalog, ConfigError> {
    let raw: File = read_toml(file)?;
    let mut by_code = HashMap::new();
    let mut names = Vec::new();
    for (ing, r) in &raw.ingredient {
        for code in std::iter::once(&r.rxnorm).chain(&r.products) {
            if let Some(prev) = by_code.insert(code.trim().to_owned(), *ing)
                && prev != *ing
            {
                return Err(ConfigError::invalid(
                    file,
                    format!("ingredient.{}.products", ing.name()),
                    format!("code {code} is already mapped to {}", prev.name()),
                ));
            }
        }
        names.push((ing.name().to_owned(), *ing));
        for n in &r.names {
            names.push((n.to_lowercase(), *ing));
        }
    }
    // Longest names first, so "ethinyl estradiol" wins over "estradiol".
    names.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
    for id in [
        RegimenId::Apixaban,
        RegimenId::Rivaroxaban,
        RegimenId::Enoxaparin,
        RegimenId::Warfarin,
    ] {
        if !raw.regimen.iter().any(|r| r.id == id) {
            return Err(ConfigError::invalid(
                file,
                "regimen",
                format!("no regimen with id {id:?}"),
            ));
        }
    }
    for (i, r) in raw.regimen.iter().enumerate() {
        if r.phases.is_empty() {
            return Err(ConfigError::invalid(
                file,
                format!("regimen[{i}].phases"),
                "at least one phase",
            ));
        }
        for p in r.phases.iter().chain(&r.renal_phases) {
            if p.dose.is_none_or(|d| !(d.is_finite() && d > 0.0))
                && r.ingredient != Ingredient::Warfarin
            {
                return Err(ConfigError::invalid(
                    file,
                    format!("regimen[{i}].phases"),
                    "dose must be a positive number",
                ));
            }
        }
    }
    for (name, order) in [
        ("regimen-order.default", &raw.regimen_order.default),
        (
            "regimen-order.active-cancer",
            &raw.regimen_order.active_cancer,
        ),
        ("regimen-order.postpartum", &raw.regimen_order.postpartum),
    ] {
        if order.is_empty() {
            return Err(ConfigError::invalid(file, name, "at least one regimen"));
        }
    }
    let (one_word_names, phrase_names) = index_names(&names);
    Ok(MedicationCatalog {
        by_code,
        names,
        one_word_names,
        phrase_names,
        prophylaxis: raw.prophylaxis,
        renal: raw.renal,
        regimens: raw.regimen,
        default_order: raw.regimen_order.default,
        cancer_order: raw.regimen_order.active_cancer,
        postpartum_order: raw.regimen_order.postpartum,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn maps_codes_and_names() {
        let c = Config::load(&Config::default_dir())
            .unwrap()
            .rules
            .medications;
        assert_eq!(c.by_rxnorm("1364430"), Some(Ingredient::Apixaban));
        assert_eq!(c.by_rxnorm("11289"), Some(Ingredient::Warfarin));
        assert_eq!(
            c.by_name("ELIQUIS 5 MG Oral Tablet"),
            Some(Ingredient::Apixaban)
        );
        assert_eq!(
            c.by_name("Ethinyl Estradiol 0.03 MG"),
            Some(Ingredient::EthinylEstradiol)
        );
        assert_eq!(c.by_name("heparin flush"), Some(Ingredient::Heparin));
        assert_eq!(c.by_name("preheparinized"), None);
    }

    /// The word index answers exactly like searching every name in turn (the first name, in
    /// `names` order, that occurs between word boundaries).
    #[test]
    fn the_name_index_agrees_with_a_search_of_every_name() {
        let c = Config::load(&Config::default_dir())
            .unwrap()
            .rules
            .medications;
        let scan = |text: &str| {
            let lower = text.to_lowercase();
            c.names
                .iter()
                .find(|(n, _)| names_in(&lower, n))
                .map(|(_, ing)| *ing)
        };
        assert!(c.names.len() > 10 && !c.phrase_names.is_empty());
        let mut texts = vec![
            String::new(),
            "Tablet 5 MG".to_owned(),
            "ethinyl estradiol / levonorgestrel".to_owned(),
        ];
        for (i, (name, _)) in c.names.iter().enumerate() {
            let other = &c.names[(i * 7 + 3) % c.names.len()].0;
            texts.push(name.to_uppercase());
            texts.push(format!("{name} 5 MG Oral Tablet"));
            texts.push(format!("x{name}"));
            texts.push(format!("{name}2"));
            texts.push(format!("({other}) and {name}, daily"));
            texts.push(format!("{name}-{other}"));
        }
        for text in &texts {
            assert_eq!(c.by_name(text), scan(text), "{text}");
        }
    }
}
