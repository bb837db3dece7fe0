//! Asset checks: assertions about an asset's value, evaluated right after it materializes.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::error::BoxError;
use crate::model::spec::{Metadata, MetadataValue};
use crate::model::value::IntoOutput;

/// How bad a failed check is. A failed `Error` check that is `blocking` stops the asset's
/// downstream in the same run; a `Warn` check never does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Warn,
    #[default]
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warn => "warn",
            Severity::Error => "error",
        })
    }
}

/// The outcome of one check evaluation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    pub passed: bool,
    pub severity: Severity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata,
}

impl CheckResult {
    pub fn pass() -> Self {
        CheckResult {
            passed: true,
            severity: Severity::Error,
            description: None,
            metadata: Metadata::new(),
        }
    }

    pub fn fail(description: impl Into<String>) -> Self {
        CheckResult {
            passed: false,
            severity: Severity::Error,
            description: Some(description.into()),
            metadata: Metadata::new(),
        }
    }

    /// Passes when `passed` is true; `description` explains the outcome either way.
    pub fn from_bool(passed: bool, description: impl Into<String>) -> Self {
        CheckResult {
            passed,
            severity: Severity::Error,
            description: Some(description.into()),
            metadata: Metadata::new(),
        }
    }

    pub fn severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    /// Shorthand for `.severity(Severity::Warn)`.
    pub fn warn(self) -> Self {
        self.severity(Severity::Warn)
    }

    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }

    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<MetadataValue>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }
}

impl<E: Into<BoxError>> IntoOutput<CheckResult> for Result<CheckResult, E> {
    fn into_output(self) -> Result<CheckResult, BoxError> {
        self.map_err(Into::into)
    }
}

impl<E: Into<BoxError>> IntoOutput<CheckResult> for Result<bool, E> {
    fn into_output(self) -> Result<CheckResult, BoxError> {
        let passed = self.map_err(Into::into)?;
        Ok(if passed {
            CheckResult::pass()
        } else {
            CheckResult::fail("the check returned false")
        })
    }
}
