//! Why a command failed, and how that becomes one line on stderr and an exit
//! code.
use std::process::ExitCode;

use pgferry_engine::{Error, ErrorKind};

use crate::{EXIT_BAD_INPUT, EXIT_FAILURE};

/// Why a command failed.
pub(crate) enum Failure {
    /// The engine's typed error.
    Engine(Error),
    /// Configuration or usage problems found by the CLI itself.
    Usage(anyhow::Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Engine(e)
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Usage(e)
    }
}

/// The process exit code of a command's outcome, printing the error, if
/// any, as one `pgferry: error: ...` line (none for a closed stdout).
pub(crate) fn exit_code(result: Result<u8, Failure>) -> ExitCode {
    match result {
        Ok(code) => ExitCode::from(code),
        Err(Failure::Engine(e)) => {
            if is_broken_pipe(&e) {
                return ExitCode::from(EXIT_FAILURE);
            }
            let err = anyhow::Error::msg(e.to_string());
            eprintln!("pgferry: error: {err:#}");
            ExitCode::from(code_of(e.kind()))
        }
        Err(Failure::Usage(e)) => {
            eprintln!("pgferry: error: {e:#}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

/// The exit code of an engine error, by its kind.
fn code_of(kind: ErrorKind) -> u8 {
    if kind.is_bad_input() {
        EXIT_BAD_INPUT
    } else {
        EXIT_FAILURE
    }
}

/// A closed stdout (e.g. `pgferry list ... | head`).
fn is_broken_pipe(e: &Error) -> bool {
    matches!(e, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_error_kind() {
        assert_eq!(code_of(ErrorKind::Usage), EXIT_BAD_INPUT);
        assert_eq!(code_of(ErrorKind::Archive), EXIT_BAD_INPUT);
        assert_eq!(
            code_of(ErrorKind::Connect(
                pgferry_engine::ConnectFailure::Authentication
            )),
            EXIT_BAD_INPUT
        );
        assert_eq!(code_of(ErrorKind::Server), EXIT_FAILURE);
        assert_eq!(code_of(ErrorKind::PeerLost), EXIT_FAILURE);
        assert_eq!(code_of(ErrorKind::Locked), EXIT_FAILURE);
    }
}
