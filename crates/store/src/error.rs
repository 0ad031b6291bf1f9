//! Store errors, shaped so the CloudWatch Logs API can map each to its
//! `__type` and message at the edge.

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// `InvalidParameterException`.
    #[error("{0}")]
    InvalidParameter(String),
    /// `ResourceNotFoundException`.
    #[error("{0}")]
    ResourceNotFound(String),
    /// `ResourceAlreadyExistsException`.
    #[error("{0}")]
    ResourceAlreadyExists(String),
    /// `LimitExceededException`.
    #[error("{0}")]
    LimitExceeded(String),
    /// `TooManyTagsException`.
    #[error("{message}")]
    TooManyTags {
        /// Text for the client.
        message: String,
        /// The resource that would have too many tags.
        resource_name: String,
    },
    /// `ValidationException` (e.g. deleting a protected log group).
    #[error("{0}")]
    Validation(String),
    /// `ServiceUnavailableException`: the disk or the engine failed. Nothing
    /// was acknowledged.
    #[error("{0}")]
    ServiceUnavailable(String),
}

impl StoreError {
    /// The CloudWatch Logs error type name (`__type`).
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::InvalidParameter(_) => "InvalidParameterException",
            Self::ResourceNotFound(_) => "ResourceNotFoundException",
            Self::ResourceAlreadyExists(_) => "ResourceAlreadyExistsException",
            Self::LimitExceeded(_) => "LimitExceededException",
            Self::TooManyTags { .. } => "TooManyTagsException",
            Self::Validation(_) => "ValidationException",
            Self::ServiceUnavailable(_) => "ServiceUnavailableException",
        }
    }

    /// "The specified log group does not exist."
    pub fn group_not_found() -> StoreError {
        StoreError::ResourceNotFound("The specified log group does not exist.".into())
    }

    /// "The specified log stream does not exist."
    pub fn stream_not_found() -> StoreError {
        StoreError::ResourceNotFound("The specified log stream does not exist.".into())
    }

    /// A Coral-style constraint failure:
    /// `1 validation error detected: Value 'x' at 'member' failed to satisfy constraint: ...`.
    pub fn constraint(value: &str, member: &str, constraint: &str) -> StoreError {
        StoreError::InvalidParameter(format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {constraint}"
        ))
    }
}

impl From<fjall::Error> for StoreError {
    fn from(e: fjall::Error) -> Self {
        tracing::error!(error = %e, "storage engine error");
        StoreError::ServiceUnavailable(format!("The log store could not complete the request: {e}"))
    }
}

/// Result of store operations.
pub type StoreResult<T> = Result<T, StoreError>;
