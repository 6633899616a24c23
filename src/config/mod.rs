//! Loads and validates `cds-services/`: service definitions, value sets, thresholds and
//! windows, laboratory and finding code maps, medications, regimens.
//!
//! Everything a site may change without recompiling lives there. A bad file stops start-up
//! with an error naming the file and the field (`ConfigError`).

pub mod codes;
pub mod medications;
pub mod services;
pub mod thresholds;

use std::path::{Path, PathBuf};

pub use codes::{
    Code, CodeMatcher, LabCodes, LabKind, UltrasoundFindingKind, ValueSetId, ValueSets,
};
pub use medications::{
    DrugClass, Ingredient, MedicationCatalog, ProphylacticLimit, RegimenDefinition, RegimenId,
    RegimenPhase, RenalPolicy,
};
pub use services::ServiceDefinition;
pub use thresholds::Thresholds;

/// Everything loaded from the configuration directory.
#[derive(Debug, Clone)]
pub struct Config {
    pub dir: PathBuf,
    pub services: Vec<ServiceDefinition>,
    pub rules: Rules,
}

/// The site-configurable clinical content, passed to the pure clinical core.
#[derive(Debug, Clone)]
pub struct Rules {
    pub ruleset_version: String,
    pub thresholds: Thresholds,
    pub value_sets: ValueSets,
    pub labs: LabCodes,
    pub findings: codes::FindingCodes,
    pub medications: MedicationCatalog,
    /// Follow-up duplex codes (LOINC 30881-7 / 39420-5, CPT 93971 / 93970).
    pub duplex: codes::DuplexCodes,
}

/// A configuration problem, naming the file and the field.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: cannot read: {source}")]
    Io {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: field `{field}`: {message}")]
    Invalid {
        file: PathBuf,
        field: String,
        message: String,
    },
}

impl ConfigError {
    pub(crate) fn invalid(
        file: &Path,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ConfigError::Invalid {
            file: file.to_path_buf(),
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Parse one TOML file into `T`, reporting the path of the failing field.
pub(crate) fn read_toml<T: serde::de::DeserializeOwned>(file: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(file).map_err(|source| ConfigError::Io {
        file: file.to_path_buf(),
        source,
    })?;
    let de = toml::Deserializer::parse(&text).map_err(|e| {
        ConfigError::invalid(file, "(syntax)", e.to_string().trim().replace('\n', " "))
    })?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        let message = e.inner().message().to_string();
        ConfigError::invalid(file, field, message)
    })
}

impl Config {
    /// Load and validate every file of the configuration directory.
    pub fn load(dir: &Path) -> Result<Config, ConfigError> {
        let services = services::load(&dir.join("services.toml"))?;
        let thresholds = thresholds::load(&dir.join("thresholds.toml"))?;
        let (value_sets, labs, findings, duplex) = codes::load(&dir.join("value-sets.toml"))?;
        let medications = medications::load(&dir.join("medications.toml"))?;
        Ok(Config {
            dir: dir.to_path_buf(),
            services,
            rules: Rules {
                ruleset_version: thresholds.ruleset_version.clone(),
                thresholds,
                value_sets,
                labs,
                findings,
                medications,
                duplex,
            },
        })
    }

    /// The directory the binary ships with (`cds-services/` at the repository root).
    pub fn default_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cds-services")
    }

    pub fn service(&self, id: &str) -> Option<&ServiceDefinition> {
        self.services.iter().find(|s| s.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_configuration_loads() {
        let config = Config::load(&Config::default_dir()).expect("cds-services/ must load");
        assert_eq!(config.services.len(), 2);
        assert_eq!(config.rules.ruleset_version, "1.0.0");
    }

    #[test]
    fn a_bad_field_names_file_and_field() {
        let dir = tempfile::tempdir().unwrap();
        for f in [
            "services.toml",
            "value-sets.toml",
            "medications.toml",
            "thresholds.toml",
        ] {
            std::fs::copy(Config::default_dir().join(f), dir.path().join(f)).unwrap();
        }
        let text = std::fs::read_to_string(dir.path().join("thresholds.toml")).unwrap();
        let broken = text.replace("thrombus-length-cm = 5.0", "thrombus-length-cm = \"five\"");
        assert_ne!(text, broken, "fixture text must contain the threshold line");
        std::fs::write(dir.path().join("thresholds.toml"), broken).unwrap();
        let err = Config::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("thresholds.toml"), "{err}");
        assert!(err.contains("thrombus-length-cm"), "{err}");
    }
}
