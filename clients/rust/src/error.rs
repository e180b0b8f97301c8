//! Errors that say whether trying again can help.

/// What went wrong talking to Lanyard or a peer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Worth retrying with backoff: the server is unreachable, overloaded or timed out.
    #[error("transient: {0}")]
    Transient(String),
    /// Retrying will not help until an admin changes something: refused, revoked, not granted.
    #[error("permission: {0}")]
    Permission(String),
    /// The request or a response was not acceptable.
    #[error("invalid: {0}")]
    Invalid(String),
}

impl Error {
    /// True when a retry with backoff may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Transient(_))
    }

    /// Classifies a gRPC status by its code; the message is the server's description.
    pub fn from_status(status: &tonic::Status) -> Error {
        use tonic::Code::*;
        let message = format!("{:?}: {}", status.code(), status.message());
        match status.code() {
            Unavailable | DeadlineExceeded | ResourceExhausted | Aborted | Unknown | Internal | Cancelled => {
                Error::Transient(message)
            }
            PermissionDenied | Unauthenticated => Error::Permission(message),
            _ => Error::Invalid(message),
        }
    }
}

impl From<tonic::Status> for Error {
    fn from(status: tonic::Status) -> Self {
        Error::from_status(&status)
    }
}

impl From<tonic::transport::Error> for Error {
    fn from(e: tonic::transport::Error) -> Self {
        Error::Transient(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_classified() {
        assert!(Error::from_status(&tonic::Status::unavailable("down")).is_transient());
        assert!(Error::from_status(&tonic::Status::deadline_exceeded("slow")).is_transient());
        assert!(matches!(Error::from_status(&tonic::Status::permission_denied("revoked")), Error::Permission(_)));
        assert!(matches!(Error::from_status(&tonic::Status::unauthenticated("who")), Error::Permission(_)));
        assert!(matches!(Error::from_status(&tonic::Status::invalid_argument("bad")), Error::Invalid(_)));
    }
}
